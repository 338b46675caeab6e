"""Shape primitives: broadcasting and its adjoint, reshape, permute, concatenate, pad.

These are linear maps, so each VJP is the adjoint map and each JVP is the map
itself applied to the tangent: broadcast_to and sum_to are each other's
adjoints, reshape and permute are inverted, concatenate is split, pad is crop.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import _wrap, as_tensor
from ._base import (
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    apply,
    broadcast_shapes,
    each,
    norm_axis,
    primitive,
)
from .cast import cast
from .validation import check_dim


def _sum_to_shape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `x` over the axes broadcasting added or stretched, giving `shape`."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and x.shape[i + lead] != 1
    )
    out = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        out = out.reshape(out.shape[lead:])
    return out.reshape(shape)


@primitive(
    "broadcast_to",
    linear=True,
    transpose=[lambda g, x, shape: sum_to(g, x.shape)],
    domain=Domain(
        [
            Case(((1,),), {"shape": (3,)}),
            Case(((),), {"shape": (2, 3)}),
            Case(((2, 1),), {"shape": (2, 4)}),
            Case(((3, 1, 2),), {"shape": (2, 3, 4, 2)}),
            Case(((1,),), {"shape": (0,)}),
        ],
        errors=[
            ErrorCase(lambda: broadcast_to(_ones(2, 3), (4, 3)), ValueError, r"broadcast_to: ")
        ],
    ),
)
def broadcast_to_p(x, shape):
    """$y = x$ repeated along broadcast axes; adjoint: `sum_to`."""
    return np.broadcast_to(x, shape)


def broadcast_to(x: Tensor, shape) -> Tensor:
    """`x` broadcast to `shape` (a read-only view in the forward pass)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if broadcast_shapes("broadcast_to", x.shape, shape) != shape:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}")
    return apply(broadcast_to_p, x, shape=shape)


@primitive(
    "sum_to",
    linear=True,
    transpose=[lambda g, x, shape: broadcast_to(g, x.shape)],
    domain=Domain(
        [
            Case(((3,),), {"shape": (1,)}),
            Case(((2, 3),), {"shape": ()}),
            Case(((2, 4),), {"shape": (2, 1)}),
            Case(((2, 3, 4, 2),), {"shape": (3, 1, 2)}),
        ],
        errors=[ErrorCase(lambda: sum_to(_ones(2, 3), (4,)), ValueError, r"sum_to: ")],
    ),
)
def sum_to_p(x, shape):
    """Sum over broadcast axes down to `shape`; adjoint: `broadcast_to`."""
    return _sum_to_shape(x, shape)


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum `x` down to `shape` (the adjoint of broadcasting)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    if len(shape) > x.ndim or any(s not in (1, n) for s, n in zip(shape[::-1], x.shape[::-1])):
        raise ValueError(f"sum_to: cannot sum a tensor of shape {x.shape} down to {shape}")
    return apply(sum_to_p, x, shape=shape)


expand = broadcast_to


@primitive(
    "reshape",
    linear=True,
    transpose=[lambda g, x, shape: reshape(g, x.shape)],
    domain=Domain(
        [
            Case(((2, 3),), {"shape": (3, 2)}),
            Case(((6,),), {"shape": (1, 2, 3)}),
            Case(((),), {"shape": (1, 1)}),
            Case(((0, 3),), {"shape": (3, 0)}),
        ],
        errors=[
            ErrorCase(
                lambda: reshape(_ones(2, 3), (4,)),
                ValueError,
                r"reshape: cannot reshape a tensor of shape \(2, 3\) into \(4,\)",
            )
        ],
    ),
)
def reshape_p(x, shape):
    """The same elements in a new shape; adjoint: reshape back."""
    return x.reshape(shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """`x` with a new shape (one entry may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    try:
        new = np.empty(x.shape, dtype=np.bool_).reshape(shape).shape if -1 in shape else shape
    except ValueError:
        new = None
    if new is None or int(np.prod(new)) != x._data.size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shape}")
    new = tuple(int(s) for s in new)
    if new == x.shape:
        return x
    return apply(reshape_p, x, shape=new)


@primitive(
    "permute",
    linear=True,
    transpose=[lambda g, x, axes: permute(g, *np.argsort(axes))],
    domain=Domain(
        [
            Case(((2, 3),), {"axes": (1, 0)}),
            Case(((2, 3, 4),), {"axes": (2, 0, 1)}),
            Case(((0, 2),), {"axes": (1, 0)}),
        ],
        errors=[
            ErrorCase(
                lambda: permute(_ones(2, 3), 0, 0),
                ValueError,
                r"permute: \(0, 0\) is not a permutation",
            ),
            ErrorCase(
                lambda: permute(_ones(2, 3), 0, 2), IndexError, r"permute: dims 2 is out of range"
            ),
        ],
    ),
)
def permute_p(x, axes):
    """Axes reordered; adjoint: the inverse permutation."""
    return np.transpose(x, axes)


def permute(x: Tensor, *axes) -> Tensor:
    """Reorder the axes of `x` (PyTorch's `permute`, NumPy's `transpose(axes)`)."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    axes = tuple(check_dim("permute", a, x.ndim, "dims") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: {axes} is not a permutation of the {x.ndim} axes of {x.shape}")
    if axes == tuple(range(x.ndim)):
        return x
    return apply(permute_p, x, axes=axes)


def transpose(x: Tensor, dim0: int | None = None, dim1: int | None = None) -> Tensor:
    """Swap two axes (PyTorch); with no axes, reverse them all (NumPy)."""
    if dim0 is None:
        return permute(x, *reversed(range(x.ndim)))
    return swapaxes(x, dim0, dim1)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    axes = list(range(x.ndim))
    a, b = norm_axis(axis1, x.ndim, "swapaxes")[0], norm_axis(axis2, x.ndim, "swapaxes")[0]
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


def squeeze(x: Tensor, dim=None, *, axis=None) -> Tensor:
    """Drop size-1 axes (all, or the ones given)."""
    dim = axis if dim is None else dim
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    axes = norm_axis(dim, x.ndim, "squeeze")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 axis at position `dim`."""
    dim = check_dim("unsqueeze", dim, x.ndim, extra=1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


expand_dims = unsqueeze


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one."""
    s = check_dim("flatten", start_dim, x.ndim, "start_dim")
    e = check_dim("flatten", end_dim, x.ndim, "end_dim")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    if x.ndim == 0:
        return reshape(x, (1,))
    return reshape(x, x.shape[:s] + (int(np.prod(x.shape[s : e + 1])),) + x.shape[e + 1 :])


def _concat_vjp(i):
    def rule(g, ans, *xs, axis):
        start = sum(x.shape[axis] for x in xs[:i])
        idx = (slice(None),) * axis + (slice(start, start + xs[i].shape[axis]),)
        return g[idx]

    return rule


def _concat_jvp(i):
    def rule(t, ans, *xs, axis):
        parts = [t if j == i else _wrap(np.zeros_like(x._data)) for j, x in enumerate(xs)]
        return apply(concatenate_p, *parts, axis=axis)

    return rule


@primitive(
    "concatenate",
    vjp=each(_concat_vjp),
    jvp=each(_concat_jvp),
    domain=Domain(
        [
            Case(((2, 3), (1, 3)), {"axis": 0}),
            Case(((2, 3), (2, 2)), {"axis": 1}),
            Case(((0, 2), (3, 2)), {"axis": 0}),
            Case(((2,), (1,), (3,)), {"axis": 0}),
            Case(((1, 2),), {"axis": 0}),
        ],
        fn=lambda *xs, axis: concatenate(xs, axis=axis),
        errors=[
            ErrorCase(lambda: concatenate([]), ValueError, r"concatenate: expected a non-empty"),
            ErrorCase(
                lambda: concatenate([_ones(2, 3), _ones(2, 2)]),
                ValueError,
                r"concatenate: tensor 1 has shape \(2, 2\)",
            ),
            ErrorCase(
                lambda: concatenate([_ones(2), _ones(2)], axis=1),
                IndexError,
                r"concatenate: axis 1 is out of range",
            ),
        ],
    ),
)
def concatenate_p(*xs, axis):
    """Pieces joined along `axis`; adjoint: slicing the gradient back into pieces."""
    return np.concatenate(xs, axis=axis)


def concatenate(tensors, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (PyTorch's `cat`)."""
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    axis = dim if dim is not None else axis
    ax = norm_axis(axis, ts[0].ndim, "concatenate")[0]
    for i, t in enumerate(ts):
        if t.ndim != ts[0].ndim or any(
            a != b for k, (a, b) in enumerate(zip(t.shape, ts[0].shape)) if k != ax
        ):
            raise ValueError(
                f"concatenate: tensor {i} has shape {t.shape}, which does not match "
                f"{ts[0].shape} outside axis {ax}"
            )
    if len({t.dtype for t in ts}) > 1:
        dt = np.result_type(*[t._data for t in ts])
        ts = [cast(t, dt) for t in ts]
    return apply(concatenate_p, *ts, axis=ax)


cat = concatenate


def stack(tensors, axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors of one shape along a new axis."""
    axis = dim if dim is not None else axis
    ts = list(tensors)
    if not ts:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    ts = [as_tensor(t) for t in ts]
    for i, t in enumerate(ts):
        if t.shape != ts[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, expected {ts[0].shape}")
    ax = check_dim("stack", axis, ts[0].ndim, extra=1)
    return concatenate([unsqueeze(t, ax) for t in ts], axis=ax)


def split(x: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into chunks of a given size (int) or of the given sizes (list), as PyTorch."""
    ax = norm_axis(dim, x.ndim, "split")[0]
    n = x.shape[ax]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: split size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (n // split_size_or_sections)
        if n % split_size_or_sections:
            sizes.append(n % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} do not sum to {n} (axis {ax} of {x.shape})")
    out, start = [], 0
    for s in sizes:
        out.append(x[(slice(None),) * ax + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into `chunks` nearly equal pieces."""
    n = x.shape[dim]
    return split(x, max(1, -(-n // chunks)), dim)


def _crop(g, pad_width):
    idx = tuple(slice(lo, g.shape[i] - hi) for i, (lo, hi) in enumerate(pad_width))
    return g[idx]


@primitive(
    "pad",
    vjp=[lambda g, ans, x, pad_width, value: _crop(g, pad_width)],
    jvp=[lambda t, ans, x, pad_width, value: pad(t, pad_width)],
    domain=Domain(
        [
            Case(((3,),), {"pad_width": ((1, 2),), "value": 0.0}),
            Case(((2, 3),), {"pad_width": ((0, 1), (2, 0)), "value": 1.5}),
            Case(((0, 2),), {"pad_width": ((1, 1), (0, 0)), "value": 0.0}),
        ],
        errors=[ErrorCase(lambda: pad(_ones(2, 3), ((1, 1),)), ValueError, r"pad: ")],
    ),
)
def pad_p(x, pad_width, value):
    """Constant padding; adjoint: cropping the gradient."""
    return np.pad(x, pad_width, mode="constant", constant_values=value)


def pad(x: Tensor, pad_width, value: float = 0.0) -> Tensor:
    """Constant padding, NumPy style: `pad_width` is ((before, after), ...) per axis or one int."""
    if isinstance(pad_width, int):
        pad_width = ((pad_width, pad_width),) * x.ndim
    pw = tuple((int(a), int(b)) for a, b in pad_width)
    if len(pw) != x.ndim or any(a < 0 or b < 0 for a, b in pw):
        raise ValueError(f"pad: pad_width {pad_width} does not fit a tensor of shape {x.shape}")
    return apply(pad_p, x, pad_width=pw, value=value)
