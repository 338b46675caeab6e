"""vmap's machinery: batched tensors, the per-primitive dispatch and the loop fallback.

Inside `vmap(f)` every mapped argument becomes a `BatchedTensor`: to `f` it looks
like one sample (its `shape` is the logical shape), while its physical value
`_bval` holds the whole batch with the batch axis first.  While a vmap runs, its
levels install `DISPATCH_TO` in `STATE.batch` (the core never imports this module:
vmap builds on the core), so `apply` hands every call to `batched_apply`, which
runs the primitive's batching rule on the physical values when an input is batched,

    out_phys = prim.batch(xs_phys, batched, B, **params)   # out_phys[b] = prim(x[b], ...)

and wraps the result again.  Nested vmaps are levels: a physical value may
itself be batched at an outer level, and the innermost level is handled first.

Autodiff always runs on physical values (plain tensors), so every VJP and JVP
rule sees ordinary arrays.  A transform called inside vmap (grad, vjp, jvp,
jacobian, hessian) works on the "full" physical form: each differentiated
argument is broadcast to every active batch axis, so one reverse sweep seeded
with ones gives every sample's gradient at once (samples never mix: every
batching rule maps sample b to sample b).

Code that reads a batched tensor's raw `.data` (masks in a VJP rule, casts,
comparisons) gets a `LogicalArray`: NumPy ufuncs, `astype` and `*_like` act on
the physical values, anything else raises a clear error instead of computing
on one sample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import numpy.lib.mixins as _mixins

from ..core.primitive import FUNCTIONS, REGISTRY, _apply, apply
from ..core.state import STATE
from ..core.tensor import Tensor, _wrap, as_tensor


class VmapError(RuntimeError):
    """An operation inside `vmap` that batching does not support."""


_ACTIVE: list[tuple[int, int]] = []  # (level, batch size) of the running vmaps, outermost first
_NEXT = [1]
_WARNED: set[str] = set()
DISPATCH = [0]  # the level whose batching rule is running (rules read it via dispatch_level)


def dispatch_level() -> int:
    """The vmap level whose batching rule is running now."""
    return DISPATCH[0]


def active_levels() -> list[tuple[int, int]]:
    """The (level, batch size) pairs of the vmaps now running, outermost first."""
    return list(_ACTIVE)


def _size_of(level: int) -> int:
    for lv, b in _ACTIVE:
        if lv == level:
            return b
    raise VmapError(
        "vmap: a batched tensor escaped its vmap (it was stored and used after the vmap "
        "returned); return it from the mapped function instead"
    )


class LogicalArray(_mixins.NDArrayOperatorsMixin):
    """The `.data` of a batched tensor: logical shape and dtype, values kept per sample.

    NumPy ufuncs (`>`, `*`, `np.exp`, ...) and `astype` run on the physical
    values and return another LogicalArray; `np.zeros_like` and friends give an
    ordinary (unbatched) array of the logical shape; `_wrap` turns the result
    back into a batched tensor.  Anything else raises `VmapError`.
    """

    # it holds the physical value and the level, not the batched tensor: no reference
    # cycle, so a batch's memory is freed by reference counting as soon as it is unused
    __slots__ = ("_level", "_phys")
    __array_priority__ = 2000

    def __init__(self, phys: Tensor, level: int) -> None:
        self._phys = phys
        self._level = level

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._phys.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self._phys._data.dtype

    @property
    def ndim(self) -> int:
        return len(self._phys.shape) - 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def _deepgrad_wrap(self) -> BatchedTensor:
        return _make(self._phys, self._level)

    def astype(self, dtype, copy: bool = True) -> LogicalArray:
        return LogicalArray(_wrap(self._phys._data.astype(dtype)), self._level)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or "out" in kwargs:
            raise _raw_error(f"numpy.{ufunc.__name__}.{method}")
        level = max(x._level for x in inputs if isinstance(x, LogicalArray))
        nd = max(np.ndim(x) if not isinstance(x, LogicalArray) else x.ndim for x in inputs)
        args = []
        for x in inputs:
            if isinstance(x, LogicalArray) and x._level == level:
                p = x._phys._data
                lnd = x.ndim
                args.append(p.reshape(p.shape[:1] + (1,) * (nd - lnd) + p.shape[1:]))
            else:
                args.append(x)
        out = ufunc(*args, **kwargs)
        if isinstance(out, tuple):
            return tuple(LogicalArray(_wrap(o), level) for o in out)
        return LogicalArray(_wrap(out), level)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name in ("zeros_like", "ones_like", "empty_like", "full_like"):
            shape = kwargs.pop("shape", None) or self.shape
            dtype = kwargs.pop("dtype", None) or self.dtype
            maker = {"zeros_like": np.zeros, "ones_like": np.ones, "empty_like": np.empty}
            if name == "full_like":
                return np.full(shape, args[1], dtype=dtype)
            return maker[name](shape, dtype=dtype)
        if name == "result_type":
            return np.result_type(*[a.dtype if isinstance(a, LogicalArray) else a for a in args])
        if name in ("shape", "ndim", "size"):
            return getattr(self, name)
        raise _raw_error(f"numpy.{name}")

    def __array__(self, dtype=None, copy=None):
        raise _raw_error("numpy.asarray")

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"LogicalArray(shape={self.shape}, dtype={self.dtype})"


def _raw_error(what: str) -> VmapError:
    return VmapError(
        f"vmap: {what} read the values of a batched tensor outside a primitive. Inside vmap, "
        "values can only be used through deepgrad ops (no .item(), no Python control flow "
        "on values, no NumPy calls on .data); compute this outside vmap or pass the "
        "argument with in_dims=None"
    )


class BatchedTensor(Tensor):
    """One sample's view of a batch: logical shape outside, physical batch in `_bval`."""

    __slots__ = ("_blevel", "_bval", "_lshape")

    @property
    def requires_grad(self) -> bool:  # mirrors the physical value (autodiff runs there)
        return self._bval.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if value:
            raise VmapError(
                "vmap: cannot set requires_grad on a batched tensor; differentiate inside "
                "vmap with dg.grad / dg.vjp instead"
            )

    @property
    def _tangents(self):
        return self._bval._tangents

    @_tangents.setter
    def _tangents(self, value) -> None:
        if value:
            raise VmapError("vmap: tangents of a batched tensor are set through dg.jvp")

    def backward(self, grad=None, retain_graph=None, create_graph=False):
        raise VmapError(
            "vmap: .backward() is not supported on a batched tensor (it would accumulate "
            "into shared .grad); use dg.grad or dg.func.grad inside vmap"
        )

    def detach(self) -> BatchedTensor:
        return _make(self._bval.detach(), self._blevel)

    def item(self):
        raise _raw_error("Tensor.item()")

    def tolist(self):
        raise _raw_error("Tensor.tolist()")

    def numpy(self):
        raise _raw_error("Tensor.numpy()")

    def __array__(self, dtype=None, copy=None):
        raise _raw_error("numpy.asarray")

    def __bool__(self) -> bool:
        raise _raw_error("bool(tensor)")

    def __float__(self) -> float:
        raise _raw_error("float(tensor)")

    def __repr__(self) -> str:
        return f"BatchedTensor(level={self._blevel}, shape={self.shape}, dtype={self.dtype})"

    def _fresh(self) -> BatchedTensor:
        """A graph-free copy that keeps the batch (used by the transforms' aliases)."""
        return _make(self._bval.detach(), self._blevel)


def _make(phys: Tensor, level: int) -> BatchedTensor:
    """Wrap physical value `phys` (batch axis first) as a batched tensor at `level`."""
    b = object.__new__(BatchedTensor)
    b._bval = phys
    b._blevel = level
    b._lshape = tuple(phys.shape[1:])
    b._data = LogicalArray(phys, level)
    b.grad = None
    b._prim = None
    b._inputs = None
    b._params = None
    return b


def batched_apply(prim, inputs, params):
    """`apply` while a vmap runs: dispatch to the batching rule of the innermost level."""
    level = 0
    for x in inputs:
        if type(x) is BatchedTensor and x._blevel > level:
            level = x._blevel
    for v in params.values():
        if isinstance(v, LogicalArray) and v._level > level:
            level = v._level
    if not level:
        return _apply(prim, inputs, params)
    size = _size_of(level)
    xs, batched = [], []
    for x in inputs:
        mine = type(x) is BatchedTensor and x._blevel == level
        xs.append(x._bval if mine else x)
        batched.append(mine)
    rule = prim.batch
    _check_static(prim, params, getattr(rule, "batched_params", ()))
    out = None
    if rule is not None:
        saved, DISPATCH[0] = DISPATCH[0], level
        try:
            out = rule(xs, batched, size, **params)
        finally:
            DISPATCH[0] = saved
    if out is None:
        out = loop_rule(prim, xs, batched, size, params)
    if out.shape[:1] != (size,):
        raise RuntimeError(
            f"{prim.name}: batching rule returned shape {out.shape}, expected batch {size} first"
        )
    return _make(out, level)


def _check_static(prim, params, allow) -> None:
    for k, v in params.items():
        if k in allow:
            continue
        vals = v if isinstance(v, (tuple, list)) else (v,)
        if any(isinstance(a, (LogicalArray, BatchedTensor)) for a in vals):
            raise VmapError(
                f"vmap: primitive '{prim.name}' got a batched tensor as its static "
                f"parameter '{k}' (index arrays and targets cannot vary over the batch); "
                "pass that argument with in_dims=None, or use a float one-hot tensor"
            )


def loop_rule(prim, xs, batched, size: int, params) -> Tensor:
    """Fallback: run the primitive once per sample and stack the results (one warning)."""
    if prim.batch is None and prim.name not in _WARNED:
        _WARNED.add(prim.name)
        warnings.warn(
            f"vmap: primitive '{prim.name}' has no batching rule; falling back to a Python "
            "loop over the batch (correct but slow)",
            stacklevel=3,
        )
    if size == 0:
        raise VmapError(f"vmap: primitive '{prim.name}' cannot loop over an empty batch")
    outs = []
    for b in range(size):
        args = [x[b] if bt else x for x, bt in zip(xs, batched)]
        outs.append(prim(*args, **params))
    return FUNCTIONS["stack"](outs, 0)


# ---- the "full" physical form used by transforms inside vmap ----------------------


def _p(name: str, x: Tensor, **params) -> Tensor:
    return apply(REGISTRY[name], x, **params)


def to_full(x: Tensor, levels: list[tuple[int, int]] | None = None) -> Tensor:
    """A plain tensor of shape (B_1, ..., B_k) + logical shape, batched at every level."""
    levels = _ACTIVE if levels is None else levels
    if not levels:
        if type(x) is BatchedTensor:
            _size_of(x._blevel)
        return x
    level, size = levels[-1]
    if type(x) is BatchedTensor and x._blevel == level:
        inner = x._bval
    else:
        if type(x) is BatchedTensor and x._blevel > level:
            _size_of(x._blevel)
        shape = tuple(x.shape)
        inner = _p("broadcast_to", _p("reshape", x, shape=(1,) + shape), shape=(size,) + shape)
    return to_full(inner, levels[:-1])


def from_full(x: Tensor, levels: list[tuple[int, int]] | None = None) -> Tensor:
    """Inverse of `to_full`: wrap the leading batch axes back into batched tensors."""
    levels = _ACTIVE if levels is None else levels
    for level, _ in levels:
        x = _make(x, level)
    return x


def _tree(x, fn):
    if isinstance(x, Tensor):
        return fn(x)
    if isinstance(x, (tuple, list)):
        return type(x)(_tree(v, fn) for v in x)
    if isinstance(x, dict):
        return {k: _tree(v, fn) for k, v in x.items()}
    return x


def any_batched(*trees) -> bool:
    found = []
    for t in trees:
        _tree(t, lambda x: found.append(type(x) is BatchedTensor))
    return any(found)


def batch_alias(x: Tensor, alias: Callable[[Tensor], Tensor]) -> Tensor:
    """`_alias` inside vmap: a leaf batched at every level, so gradients stay per sample."""
    return from_full(alias(to_full(x)))


def batch_grad(engine_grad, outputs, inputs, grad_outputs, **kw):
    """`autodiff.grad` on batched tensors, run on their full physical forms."""
    single_in = isinstance(inputs, Tensor)
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if single_in else list(inputs)
    fo = [to_full(o) for o in outs]
    gos = grad_outputs
    if gos is None:
        gos = [None] * len(outs)
    gos = [gos] if isinstance(gos, Tensor) else list(gos)
    # a missing cotangent is one per sample (each sample's output is one element)
    gos = [
        _wrap(np.ones(f.shape, f.dtype)) if g is None else to_full(_as_t(g, o))
        for g, o, f in zip(gos, outs, fo)
    ]
    fi = [to_full(i) for i in ins]
    gs = engine_grad(fo, fi, gos, **kw)
    res = tuple(None if g is None else from_full(g) for g in gs)
    return res


def _as_t(g, like):

    return as_tensor(g, like=like)


def batch_jvp(plain_jvp, f, primals, tangents, to_tensor):
    """`jvp` inside vmap: push full physical tangents through the batched function."""
    fp = [to_full(to_tensor(p)) for p in primals]
    ft = [to_full(to_tensor(t)) for t in tangents]
    single = []

    def g(*args):
        out = f(*[from_full(a) for a in args])
        single.append(isinstance(out, Tensor))
        return to_full(out) if single[-1] else tuple(to_full(o) for o in out)

    out, tan = plain_jvp(g, fp, ft)
    if single[-1]:
        return from_full(out), from_full(tan)
    return tuple(from_full(o) for o in out), tuple(from_full(t) for t in tan)


class _Level:
    """Enter one vmap level: dispatch on, inline fast paths off."""

    def __init__(self, size: int) -> None:
        self.level = _NEXT[0]
        _NEXT[0] += 1
        self.size = size

    def __enter__(self) -> int:
        _ACTIVE.append((self.level, self.size))
        STATE.batch = DISPATCH_TO  # core dispatches to vmap while any vmap runs
        # The inline fast paths (fast_binary, raw-array gradient sums) skip `apply`; they
        # are off whenever STATE.fwd > 0, so vmap raises it as forward mode does.
        STATE.fwd += 1
        return self.level

    def __exit__(self, *exc) -> None:
        _ACTIVE.remove((self.level, self.size))
        if not _ACTIVE:
            STATE.batch = None
        STATE.fwd -= 1


def level(size: int) -> _Level:
    """Context manager entering a new vmap level of batch `size`."""
    return _Level(size)


class _Dispatch:
    """What the core calls while a vmap runs: `STATE.batch` holds the one instance.

    The core never imports this module (vmap builds on the core, not the reverse):
    `apply` hands primitives to `apply`, `autodiff.grad` differentiates batched
    tensors with `grad`, and `core/func.py`'s transforms use `alias` and `jvp`.
    """

    apply = staticmethod(batched_apply)
    any_batched = staticmethod(any_batched)
    grad = staticmethod(batch_grad)
    alias = staticmethod(batch_alias)
    jvp = staticmethod(batch_jvp)


DISPATCH_TO = _Dispatch()
