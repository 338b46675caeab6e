"""PyTorch's shape and layout functions, composed from deepgrad's primitives.

Each is differentiable through the primitives it uses (getitem, broadcast_to,
reshape, permute, setitem), whose VJP/JVP rules and domains the registry checks.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, _wrap
from . import elementwise as E
from . import shape as S
from .index import getitem
from .out import supports_out
from .reduce import sum as _sum
from .setitem import index_put
from .validation import check_dim

__all__ = [
    "diag", "diag_embed", "diagonal", "flip", "fliplr", "flipud", "meshgrid", "movedim",
    "narrow", "repeat", "repeat_interleave", "roll", "rot90", "t", "tile", "trace", "tril",
    "triu", "unbind",
]  # fmt: skip


def _dim(name: str, x: Tensor, dim: int) -> int:
    nd = max(x.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -nd <= dim < nd:
        raise IndexError(f"{name}: dim {dim!r} is out of range for a tensor with {x.ndim} dims")
    return int(dim) % nd


def _along(x: Tensor, dim: int, index) -> Tensor:
    """x indexed by `index` (slice or int array) along `dim` only."""
    return getitem(x, (slice(None),) * dim + (index,))


def _tri_mask(name: str, x: Tensor, diagonal: int, upper: bool) -> np.ndarray:
    if x.ndim < 2:
        raise RuntimeError(f"{name}: needs a tensor of at least 2 dims, got shape {x.shape}")
    n, m = x.shape[-2:]
    lower = np.tri(n, m, diagonal - 1 if upper else diagonal, dtype=bool)
    return ~lower if upper else lower


@supports_out
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """$y_{ij} = x_{ij}$ for $j - i \\le k$, else 0 (the lower triangle)."""
    return E.where(_wrap(_tri_mask("tril", input, diagonal, False)), input, 0)


@supports_out
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """$y_{ij} = x_{ij}$ for $j - i \\ge k$, else 0 (the upper triangle)."""
    return E.where(_wrap(_tri_mask("triu", input, diagonal, True)), input, 0)


def _diag_index(n: int, m: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(max(0, -offset), min(n, m - offset) if m - offset > 0 else 0)
    return rows, rows + offset


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """$y_{..., k} = x_{..., k, k + offset}$ over dims dim1, dim2 (appended last, as PyTorch)."""
    if input.ndim < 2:
        raise RuntimeError(f"diagonal: needs at least 2 dims, got shape {input.shape}")
    d1, d2 = _dim("diagonal", input, dim1), _dim("diagonal", input, dim2)
    if d1 == d2:
        raise RuntimeError(f"diagonal: dim1 and dim2 must differ, both are {d1}")
    x = movedim(input, (d1, d2), (-2, -1))
    r, c = _diag_index(x.shape[-2], x.shape[-1], offset)
    return getitem(x, (Ellipsis, r, c))


@supports_out
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d tensor placed on a diagonal of a square matrix, or a matrix's diagonal."""
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal)
    if input.ndim != 1:
        raise RuntimeError(f"diag: expected a 1-d or 2-d tensor, got shape {input.shape}")
    n = input.shape[0] + abs(diagonal)
    r, c = _diag_index(n, n, diagonal)
    zeros = _wrap(np.zeros((n, n), input._data.dtype))
    return index_put(zeros, (r, c), input)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Each last-dim vector of `input` on the diagonal of a matrix (batched `diag`); the
    matrices span the output dims `dim1` and `dim2`."""
    n = input.shape[-1] + abs(offset)
    r, c = _diag_index(n, n, offset)
    zeros = _wrap(np.zeros(input.shape[:-1] + (n, n), input._data.dtype))
    out = index_put(zeros, (Ellipsis, r, c), input)
    d1, d2 = (check_dim("diag_embed", d, out.ndim, a) for d, a in ((dim1, "dim1"), (dim2, "dim2")))
    if d1 == d2:
        raise RuntimeError(f"diag_embed: dim1 and dim2 must differ, got {dim1} and {dim2}")
    return out if (d1, d2) == (out.ndim - 2, out.ndim - 1) else movedim(out, (-2, -1), (d1, d2))


def trace(input: Tensor) -> Tensor:
    """$\\sum_i x_{ii}$ of a 2-d tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a 2-d tensor, got shape {input.shape}")

    return _sum(diagonal(input))


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims `source` to positions `destination`, the others keeping their order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {src} and destination {dst} differ in length")
    if not input.ndim:
        return input
    src = [_dim("movedim", input, d) for d in src]
    dst = [_dim("movedim", input, d) for d in dst]
    order = [n for n in range(input.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return S.permute(input, *order)


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """`length` entries of `dim` from `start`: x[..., start:start + length, ...]."""
    d = _dim("narrow", input, dim)
    n = input.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start and length >= 0 and start + length <= n):
        raise RuntimeError(
            f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {n}"
        )
    return _along(input, d, slice(start, start + length))


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along `dim`, each without that dim."""
    d = _dim("unbind", input, dim)
    return tuple(_along(input, d, i) for i in range(input.shape[d]))


def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of entries along each of `dims`."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    idx = [slice(None)] * input.ndim
    for d in dims:
        idx[_dim("flip", input, d)] = slice(None, None, -1)
    return getitem(input, tuple(idx))


def fliplr(input: Tensor) -> Tensor:
    """Flip dim 1 (left/right)."""
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """Flip dim 0 (up/down)."""
    return flip(input, 0)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees `k` times in the plane `dims` (from dims[0] towards dims[1])."""
    if len(dims) != 2 or input.ndim < 2:
        raise RuntimeError(
            f"rot90: needs 2 dims and a tensor of >= 2 dims, got {dims}, {input.shape}"
        )
    d0, d1 = _dim("rot90", input, dims[0]), _dim("rot90", input, dims[1])
    if d0 == d1:
        raise RuntimeError(f"rot90: the two dims must differ, got {dims}")
    k %= 4
    if k == 0:
        return input
    if k == 2:
        return flip(input, (d0, d1))
    if k == 1:
        return S.swapaxes(flip(input, d1), d0, d1)
    return flip(S.swapaxes(input, d0, d1), d1)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift entries cyclically by `shifts` along `dims` (the flattened tensor without dims)."""
    if dims is None:
        return S.reshape(roll(S.reshape(input, (-1,)), shifts, 0), input.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    out = input
    for s, d in zip(shifts, dims):
        d = _dim("roll", input, d)
        out = _along(out, d, np.roll(np.arange(input.shape[d]), s))
    return out


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile `input` `sizes[i]` times along each dim (PyTorch's `repeat`, NumPy's `tile`)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"repeat: the number of repeats ({len(sizes)}) must be at least the tensor's "
            f"number of dims ({input.ndim})"
        )
    x = S.reshape(input, (1,) * (len(sizes) - input.ndim) + input.shape)
    inter = []
    for r, n in zip(sizes, x.shape):
        inter += [int(r), n]
    tiled = S.broadcast_to(S.reshape(x, tuple(v for n in x.shape for v in (1, n))), tuple(inter))
    return S.reshape(tiled, tuple(int(r) * n for r, n in zip(sizes, x.shape)))


def tile(input: Tensor, dims) -> Tensor:
    """NumPy's `tile`: like `repeat`, with missing leading repeats taken as 1."""
    dims = tuple(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


@supports_out
def repeat_interleave(
    input: Tensor, repeats, dim: int | None = None, *, output_size: int | None = None
) -> Tensor:
    """Repeat each entry `repeats` times (an int, or one count per entry) along `dim`.

    `output_size` (PyTorch's hint to skip a device sync) is checked against the result."""
    x = S.reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else _dim("repeat_interleave", input, dim)
    r = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    n = x.shape[d]
    if r.ndim > 1 or (r.ndim == 1 and r.shape[0] != n) or (r < 0).any():
        raise RuntimeError(
            f"repeat_interleave: repeats must be a non-negative int or one per entry ({n}), "
            f"got {repeats!r}"
        )
    take = np.repeat(np.arange(n), r)
    if output_size is not None and output_size != take.size:
        raise RuntimeError(
            f"repeat_interleave: output_size {output_size} differs from the result's {take.size}"
        )
    return _along(x, d, take)


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-d tensors (`indexing='ij'` as PyTorch's default, or 'xy')."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    sizes = [t.shape[0] if t.ndim else 1 for t in tensors]
    if indexing == "xy" and len(tensors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(tensors):
        pos = i
        if indexing == "xy" and len(tensors) >= 2 and i < 2:
            pos = 1 - i
        shape = [1] * len(tensors)
        shape[pos] = -1
        out.append(S.broadcast_to(S.reshape(t, tuple(shape)), tuple(sizes)))
    return tuple(out)


def t(input: Tensor) -> Tensor:
    """The transpose of a tensor of at most 2 dims."""
    if input.ndim > 2:
        raise RuntimeError(f"t: expects a tensor of <= 2 dims, got shape {input.shape}; use .mT")
    return S.permute(input, *reversed(range(input.ndim))) if input.ndim == 2 else input
