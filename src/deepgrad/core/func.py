"""Functional transforms built from `vjp` and `jvp` alone (HIPS autograd, JAX).

    grad(f)(x)          = df/dx for scalar f          (reverse mode)
    vjp(f, x)[1](u)     = u^T J_f(x)                   (reverse mode)
    jvp(f, (x,), (v,))  = (f(x), J_f(x) v)             (forward mode, tangents carried along)
    jacobian(f)(x)      = J_f(x), row by row (reverse) or column by column (forward)
    hessian(f)(x)       = J_{grad f}(x)                (forward over reverse)
    hvp(f, (x,), (v,))  = H_f(x) v                     (forward over reverse)

Nesting works to any order: `grad(grad(f))` records the inner backward pass
whenever an outer transform is tracing, and forward-mode levels keep nested
tangents apart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import autodiff
from .primitive import FUNCTIONS, REGISTRY, apply
from .state import STATE
from .tensor import Tensor, _wrap


def _identity_rule(g, ans, x):
    return g


def _alias(x: Tensor) -> Tensor:
    """A fresh node standing for `x`: differentiable w.r.t. itself, still linked to `x`."""
    if STATE.batch is not None:  # inside vmap: alias the full physical batch (ops/batching.py)
        return STATE.batch.alias(x, _alias_plain)
    return _alias_plain(x)


def _alias_plain(x: Tensor) -> Tensor:
    if x.requires_grad and STATE.grad:
        return apply(REGISTRY["identity"], x)
    a = _wrap(x._data)
    if x._tangents:
        a._tangents = dict(x._tangents)
    if x._data.dtype.kind in "fc":
        a.requires_grad = True
    return a


def _to_tensor(x: Any) -> Tensor:
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        arr = arr.astype(STATE.default_float)
    return Tensor(arr)


def _argnums(argnums, n: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not -n <= a < n:
            raise ValueError(f"argnums {a} out of range for a function called with {n} arguments")
    return tuple(a % n for a in nums), single


def _prepare(args, nums):
    """Replace the differentiated arguments by aliases; report whether an outer trace needs a graph."""
    args = list(args)
    outer = False
    aliases = []
    for a in nums:
        x = _to_tensor(args[a])
        outer = outer or x.requires_grad
        ax = _alias(x)
        args[a] = ax
        aliases.append(ax)
    return args, aliases, outer and STATE.grad


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """Return a function computing (f(*args), df/dargs) for scalar-valued `f`."""

    def wrapped(*args, **kwargs):
        nums, single = _argnums(argnums, len(args))
        with _grad_on():
            args2, aliases, create = _prepare(args, nums)
            out = f(*args2, **kwargs)
            aux = None
            if has_aux:
                out, aux = out
            if not isinstance(out, Tensor) or out._data.size != 1:
                shape = getattr(out, "shape", type(out).__name__)
                raise TypeError(f"grad: f must return a one-element tensor, got {shape}")
            if out.requires_grad:
                gs = autodiff.grad(out, aliases, retain_graph=create, create_graph=create)
            else:
                gs = tuple(_wrap(np.zeros_like(a._data)) for a in aliases)
        g = gs[0] if single else gs
        return ((out, aux), g) if has_aux else (out, g)

    return wrapped


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False):
    """df/dx as a function (JAX's `grad`): `grad(grad(f))` is the second derivative.

    >>> import deepgrad as dg
    >>> d2 = dg.grad(dg.grad(lambda x: x ** 3))
    >>> float(d2(dg.tensor(2.0)))
    12.0
    """
    vg = value_and_grad(f, argnums, has_aux)

    def wrapped(*args, **kwargs):
        (value, g) = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    return wrapped


class _grad_on:
    """Record graphs inside transforms even when called under no_grad (JAX semantics)."""

    def __enter__(self):
        self.old = STATE.grad
        STATE.grad = True

    def __exit__(self, *exc):
        STATE.grad = self.old


def vjp(f: Callable, *primals) -> tuple[Any, Callable]:
    """(f(*primals), vjp_fn) with vjp_fn(u) = u^T J, one entry per primal."""
    nums = tuple(range(len(primals)))
    with _grad_on():
        args, aliases, create = _prepare(primals, nums)
        out = f(*args)
    outs = [out] if isinstance(out, Tensor) else list(out)

    def vjp_fn(*cotangents):
        cts = list(cotangents)
        if len(cts) != len(outs):
            raise ValueError(f"vjp_fn: expected {len(outs)} cotangents, got {len(cts)}")
        live = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
        if not live:
            return tuple(_wrap(np.zeros_like(a._data)) for a in aliases)
        with _grad_on() if create else _nullctx():
            return autodiff.grad(
                [o for o, _ in live],
                aliases,
                grad_outputs=[c for _, c in live],
                retain_graph=True,
                create_graph=create,
            )

    return out, vjp_fn


class _nullctx:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    """Forward mode: (f(*primals), J_f(primals) @ tangents), computed in one pass.

    Each primal carries its tangent at a fresh level; every primitive's JVP rule
    pushes tangents forward as the values are computed.
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    if STATE.batch is not None:  # inside vmap: push the full physical tangents (ops/batching.py)
        return STATE.batch.jvp(_jvp_plain, f, primals, tangents, _to_tensor)
    return _jvp_plain(f, primals, tangents)


def _jvp_plain(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    level = STATE.next_level
    STATE.next_level += 1
    STATE.levels.add(level)
    STATE.fwd += 1
    try:
        args = []
        for i, (p, t) in enumerate(zip(primals, tangents)):
            p = _to_tensor(p)
            t = _to_tensor(t)
            if t.shape != p.shape:
                raise ValueError(f"jvp: tangent {i} has shape {t.shape}, primal has {p.shape}")
            if p.requires_grad and STATE.grad:
                a = apply(REGISTRY["identity"], p)
            else:
                a = _wrap(p._data)
                a._tangents = dict(p._tangents) if p._tangents else None
            if a._tangents is None:
                a._tangents = {}
            a._tangents[level] = t if t.dtype == p.dtype else t.to(p.dtype)
            args.append(a)
        out = f(*args)
        single = isinstance(out, Tensor)
        outs = [out] if single else list(out)
        touts = []
        for o in outs:
            t = o._tangents.pop(level, None) if o._tangents else None
            touts.append(t if t is not None else _wrap(np.zeros_like(o._data)))
    finally:
        STATE.levels.discard(level)
        STATE.fwd -= 1
    return (outs[0], touts[0]) if single else (tuple(outs), tuple(touts))


def _basis(shape, dtype, k):
    e = np.zeros(int(np.prod(shape)), dtype=dtype)
    e[k] = 1
    return _wrap(e.reshape(shape))


def jacobian(f: Callable, argnums: int = 0, mode: str = "reverse"):
    """J_f as a function; result shape is out.shape + in.shape.

    `mode="reverse"` builds it one row per output element (vjp), `"forward"` one
    column per input element (jvp): forward wins when inputs are fewer than outputs.
    """
    if mode not in ("reverse", "forward"):
        raise ValueError(f"jacobian: mode must be 'reverse' or 'forward', got {mode!r}")

    def wrapped(*args):
        (a,), _ = _argnums(argnums, len(args))
        x = _to_tensor(args[a])

        def fa(xx):
            args2 = list(args)
            args2[a] = xx
            return f(*args2)

        if mode == "reverse":
            out, fn = vjp(fa, x)
            rows = [fn(_basis(out.shape, out.dtype, k))[0] for k in range(out.numel())]
            if not rows:
                return _wrap(np.zeros(out.shape + x.shape, dtype=x.dtype))
            stacked = _stack(rows)
            return stacked.reshape(out.shape + x.shape)
        cols = [jvp(fa, (x,), (_basis(x.shape, x.dtype, k),)) for k in range(x.numel())]
        if not cols:
            out = fa(x)
            return _wrap(np.zeros(out.shape + x.shape, dtype=x.dtype))
        out = cols[0][0]
        stacked = _stack([c[1] for c in cols])  # (n_in, *out)
        stacked = stacked.reshape((x.numel(), out.numel()))
        return stacked.permute(1, 0).reshape(out.shape + x.shape)

    return wrapped


def _stack(ts):
    """Stack tensors as rows (the op is looked up in the registry's function table)."""
    return FUNCTIONS["stack"]([t.reshape((-1,)) for t in ts], 0)


def hessian(f: Callable, argnums: int = 0):
    """The Hessian of scalar `f`: forward-mode Jacobian of the reverse-mode gradient."""
    return jacobian(grad(f, argnums), argnums, mode="forward")


def hvp(f: Callable, primals: Sequence, tangents: Sequence):
    """H_f(primals) @ tangents by forward-over-reverse, without forming H.

    Returns the product only (like JAX's recipe `jvp(grad(f), ...)[1]`); one
    tensor for one primal, a tuple otherwise.
    """
    primals = tuple(primals)
    nums = tuple(range(len(primals)))
    g = grad(f, argnums=nums)
    _, t = jvp(lambda *xs: g(*xs), primals, tangents)
    return t[0] if len(primals) == 1 else t
