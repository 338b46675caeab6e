"""`vmap`: map a function over a batch axis, vectorised by per-primitive batching rules.

    vmap(f, in_dims, out_dims)(*xs)[b] = f(*[x[b] for mapped x])   (b over the batch)

`f` is written for one sample; every primitive it calls runs once for the whole
batch through its batching rule (ops/batching.py), falling back to a loop for
primitives without one.  Transforms compose in both orders: `vmap(grad(loss),
in_dims=(None, 0, 0))` gives per-sample gradients, `grad(lambda w: vmap(f)(w,
xs).sum())` differentiates through a vmap.  Semantics follow `torch.func.vmap`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from ..core import random as _random
from ..core.primitive import FUNCTIONS
from ..core.tensor import Tensor
from ..ops.batching import BatchedTensor, VmapError, _make, _p, level

_RANDOMNESS = ("error", "different", "same")


class _NoRandom:
    """Stands in for the default generator inside vmap(randomness='error')."""

    def __getattr__(self, name: str):
        raise VmapError(
            "vmap: the mapped function drew random numbers from deepgrad's default generator "
            "while randomness='error'; pass randomness='same' (one draw shared by the batch) "
            "or randomness='different' (one draw per sample)"
        )


def _dims_for(args: tuple, in_dims) -> list:
    if in_dims is None or isinstance(in_dims, int):
        return [in_dims] * len(args)
    if not isinstance(in_dims, (tuple, list)):
        raise TypeError(f"vmap: in_dims must be an int, None or a tuple, got {in_dims!r}")
    if len(in_dims) != len(args):
        raise ValueError(
            f"vmap: in_dims has {len(in_dims)} entries but the function was called with "
            f"{len(args)} positional arguments"
        )
    return list(in_dims)


def _map(x, dim, fn, where: str):
    """Apply fn(leaf, dim) to every tensor-like leaf of x, matching nested dims."""
    if isinstance(dim, (tuple, list)) and isinstance(x, (tuple, list)):
        if len(dim) != len(x):
            raise ValueError(f"vmap: in_dims for {where} has {len(dim)} entries, got {len(x)}")
        return type(x)(_map(v, d, fn, f"{where}[{i}]") for i, (v, d) in enumerate(zip(x, dim)))
    if isinstance(dim, dict) and isinstance(x, dict):
        return {k: _map(v, dim.get(k), fn, f"{where}[{k!r}]") for k, v in x.items()}
    if isinstance(x, (tuple, list)):
        return type(x)(_map(v, dim, fn, f"{where}[{i}]") for i, v in enumerate(x))
    if isinstance(x, dict):
        return {k: _map(v, dim, fn, f"{where}[{k!r}]") for k, v in x.items()}
    return fn(x, dim, where)


def _batch_size(args: tuple, dims: list) -> tuple[tuple, int]:
    """The arguments (arrays made tensors) and the common size of their mapped axes."""
    sizes: list[tuple[str, int]] = []

    def measure(x, dim, where):
        if dim is None:
            return x
        if not isinstance(x, (Tensor, np.ndarray)):
            raise TypeError(
                f"vmap: {where} has in_dim {dim} but is a {type(x).__name__}, not a tensor"
            )
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.ndim == 0 or not -x.ndim <= dim < x.ndim:
            raise ValueError(f"vmap: in_dim {dim} is out of range for {where} of shape {x.shape}")
        sizes.append((where, x.shape[dim]))
        return x

    args = tuple(_map(a, d, measure, f"argument {i}") for i, (a, d) in enumerate(zip(args, dims)))
    if not sizes:
        raise ValueError("vmap: at least one argument must be mapped (in_dims are all None)")
    size = sizes[0][1]
    bad = [f"{w} has {s}" for w, s in sizes if s != size]
    if bad:
        raise ValueError(
            f"vmap: mapped axes differ in size: {sizes[0][0]} has {size}, {', '.join(bad)}"
        )
    return args, size


def _move(x: Tensor, src: int, dst: int) -> Tensor:
    if src == dst:
        return x
    axes = list(range(x.ndim))
    axes.insert(dst, axes.pop(src))
    return _p("permute", x, axes=tuple(axes))


def vmap(
    func: Callable,
    in_dims: int | None | tuple = 0,
    out_dims: int | tuple = 0,
    randomness: str = "error",
) -> Callable:
    """Vectorise `func` over axis `in_dims` of its arguments (PyTorch's `torch.func.vmap`).

    out[b] = func(x_1[b], ..., x_n[b]); an argument with in_dims None is shared by
    every sample; `out_dims` says where the batch axis goes in each output.
    `randomness`: 'error' (default) refuses draws from the default generator,
    'same' shares one draw across the batch, 'different' gives each sample its own
    draw (it runs `func` once per sample).  Differences from PyTorch: no
    `chunk_size`; in_dims for keyword arguments are not supported (they are shared).

    >>> import deepgrad as dg
    >>> xs = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> dg.vmap(lambda x: (x * x).sum())(xs).tolist()
    [5.0, 25.0]
    >>> w = dg.tensor([1.0, 1.0])
    >>> dg.vmap(dg.grad(lambda w, x: (w * x).sum() ** 2), in_dims=(None, 0))(w, xs).tolist()
    [[6.0, 12.0], [42.0, 56.0]]
    """
    if randomness not in _RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {_RANDOMNESS}, got {randomness!r}")
    if not callable(func):
        raise TypeError(f"vmap: func must be callable, got {type(func).__name__}")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        dims = _dims_for(args, in_dims)
        args, size = _batch_size(args, dims)
        if randomness == "different":
            return _loop(func, args, dims, size, out_dims, kwargs)
        with level(size) as lv:
            wrapped_args = tuple(
                _map(a, d, lambda x, dim, w: _make(_move(x, dim % x.ndim, 0), lv), f"argument {i}")
                if d is not None
                else a
                for i, (a, d) in enumerate(zip(args, dims))
            )
            saved = _random._DEFAULT[0]
            if randomness == "error":
                _random._DEFAULT[0] = _NoRandom()
            try:
                out = func(*wrapped_args, **kwargs)
            finally:
                if _random._DEFAULT[0].__class__ is _NoRandom:
                    _random._DEFAULT[0] = saved
            return _unwrap_out(out, out_dims, lv, size)

    return wrapped


def _unwrap_out(out, out_dims, lv: int, size: int):
    """Move the batch axis of every output tensor (dicts, tuples, lists walked) to out_dims."""

    def one(o, d, where):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"vmap: {where} of the mapped function is a {type(o).__name__}; vmap can "
                "only return tensors (or dicts, tuples, lists of tensors)"
            )
        shape = tuple(o.shape)
        if type(o) is BatchedTensor and o._blevel == lv:
            phys = o._bval
        else:
            phys = _p("broadcast_to", _p("reshape", o, shape=(1,) + shape), shape=(size,) + shape)
        if not isinstance(d, int) or not -phys.ndim <= d < phys.ndim:
            raise ValueError(f"vmap: out_dim {d} is out of range for {where} of shape {shape}")
        return _move(phys, 0, d % phys.ndim)

    if isinstance(out_dims, (tuple, list)) and isinstance(out, (tuple, list)):
        if len(out_dims) != len(out):
            raise ValueError(
                f"vmap: out_dims has {len(out_dims)} entries but func returned {len(out)} outputs"
            )
        return type(out)(
            _map(o, d, one, f"output {i}") for i, (o, d) in enumerate(zip(out, out_dims))
        )
    return _map(out, out_dims, one, "output")


def _loop(func, args, dims, size, out_dims, kwargs):
    """randomness='different': run func per sample and stack (each draw is its own)."""
    per = []
    for b in range(size):
        sample = tuple(
            _map(
                a,
                d,
                lambda x, dim, w, b=b: _p("getitem", x, idx=(slice(None),) * (dim % x.ndim) + (b,)),
                "",
            )
            if d is not None
            else a
            for a, d in zip(args, dims)
        )
        per.append(func(*sample, **kwargs))
    single = not isinstance(per[0], (tuple, list))
    cols = [[p] for p in per] if single else [list(p) for p in per]
    od = [out_dims] * len(cols[0]) if isinstance(out_dims, int) else list(out_dims)
    outs = [FUNCTIONS["stack"]([c[j] for c in cols], od[j]) for j in range(len(cols[0]))]
    return outs[0] if single else type(per[0])(outs)
