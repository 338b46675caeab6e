"""User-defined differentiable functions: PyTorch's `autograd.Function`, JAX's
`custom_vjp` and `custom_jvp`.

Each call records one graph node whose rules are the user's:

    Function:    dL/dx_i = backward(ctx, dL/dy)[i]        dy = jvp(ctx, dx_1, ..., dx_n)
    custom_vjp:  dL/dx   = bwd(residuals, dL/dy)          (forward mode unsupported)
    custom_jvp:  dy      = jvp((x,), (dx,))[1]            dL/dx = transpose of that
                                                          linear map (reverse over it)

When the user's rules are written in deepgrad ops they are recorded under
`create_graph`, so gradients of gradients work (gradgradcheck), provided what
they use is graph-connected: tensors saved with `save_for_backward` that are
inputs or the output are handed back as the graph's own tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.primitive import Primitive, apply
from ..core.state import STATE, enable_grad, no_grad
from ..core.tensor import Tensor, _wrap
from ..ops.batching import VmapError, any_batched


def _fail_jvp(name: str) -> Callable:
    def rule(t, ans, *xs):
        raise RuntimeError(
            f"{name}: forward mode (jvp) is not supported: it defines no jvp rule "
            "(give the Function a `jvp(ctx, *tangents)` staticmethod, or use custom_jvp)"
        )

    return rule


def _node(name: str, inputs: list[Tensor], out: np.ndarray, vjp_all, jvp_all) -> Tensor:
    """Record `out` as one node over `inputs` with all-input rules vjp_all / jvp_all.

    vjp_all(g, ans) -> one gradient (or None) per input, called once per sweep;
    jvp_all(tangents, ans) -> the output tangent (None for inputs without one).
    """
    cache: list[Any] = [None, None]

    def grads(g, ans):
        if cache[0] is not g:
            cache[0], cache[1] = g, vjp_all(g, ans)
        return cache[1]

    n = len(inputs)

    def vjp_rule(i):
        def rule(g, ans, *xs):
            gi = grads(g, ans)[i]
            return gi if gi is not None else _wrap(np.zeros_like(xs[i]._data))

        return rule

    def jvp_rule(i):
        if jvp_all is None:
            return _fail_jvp(name)
        return lambda t, ans, *xs: jvp_all([t if j == i else None for j in range(n)], ans)

    prim = Primitive(
        name,
        lambda *arrays: out,
        [vjp_rule(i) for i in range(n)],
        [jvp_rule(i) for i in range(n)],
        None,
    )
    prim.doc = f"user-defined function {name}"
    if not inputs:
        return _wrap(out)
    return apply(prim, *inputs)


def _refuse_vmap(name: str, args) -> None:
    if STATE.batch and any_batched(args):
        raise VmapError(
            f"{name}: user-defined functions cannot be called on batched tensors inside vmap "
            "(no batching rule is derived for them); call it outside vmap"
        )


class FunctionCtx:
    """The `ctx` a Function's forward and backward share (PyTorch's FunctionCtx)."""

    def __init__(self, needs: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs
        self._saved: tuple = ()
        self._non_diff: set[int] = set()
        self._swap: dict[int, Any] = {}

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for backward; inputs and the output come back graph-connected."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    f"save_for_backward: expected tensors or None, got {type(t).__name__} "
                    "(store other values as attributes of ctx)"
                )
        self._saved = tensors

    @property
    def saved_tensors(self) -> tuple:
        return tuple(None if t is None else self._swap.get(id(t), t) for t in self._saved)

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Declare outputs without a derivative: they come back not requiring grad."""
        self._non_diff.update(id(o) for o in outputs)


class Function:
    """Subclass with staticmethods `forward(ctx, *args)` and `backward(ctx, *grads)`
    (optionally `jvp(ctx, *tangents)`), then call `MyFn.apply(*args)`, as in PyTorch.

    backward returns one gradient per forward argument (None for non-tensors or
    inputs without a gradient).  forward runs under no_grad on detached inputs.
    Unsupported (each raises a clear error): several tensor outputs with
    mark_non_differentiable on only some, calling apply on batched tensors in
    vmap, forward mode without a `jvp`; `once_differentiable` is not needed (a
    backward written in NumPy simply cannot be differentiated again).

    >>> import deepgrad as dg
    >>> class Square(dg.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 2 * x * g
    >>> x = dg.tensor(3.0, requires_grad=True)
    >>> Square.apply(x).backward()
    >>> float(x.grad)
    6.0
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any) -> Any:
        raise RuntimeError("Function subclasses must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Tensor) -> Any:
        raise RuntimeError("Function subclasses must define backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        name = f"{cls.__name__}.apply"
        _refuse_vmap(name, args)
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx = FunctionCtx(tuple(isinstance(a, Tensor) and a.requires_grad for a in args))
        detached = list(args)
        for i in pos:
            detached[i] = args[i].detach()
            ctx._swap[id(detached[i])] = args[i]
        with no_grad():
            out = cls.forward(ctx, *detached)
        single = isinstance(out, Tensor)
        outs = [out] if single else list(out)
        if not all(isinstance(o, Tensor) for o in outs):
            raise TypeError(f"{name}: forward must return a tensor or a tuple of tensors")
        if not single:
            return _multi(cls, name, ctx, args, pos, outs)
        if id(out) in ctx._non_diff:
            return out.detach()
        return _single(cls, name, ctx, args, pos, out)


def _call_backward(cls, name, ctx, args, pos, gs):
    res = cls.backward(ctx, *gs)
    res = (res,) if not isinstance(res, (tuple, list)) else tuple(res)
    if len(res) != len(args):
        raise RuntimeError(
            f"{name}: backward returned {len(res)} gradients, expected {len(args)} "
            "(one per forward argument, None for non-tensors)"
        )
    return [res[i] for i in pos]


def _jvp_all(cls, name, ctx, args, pos):
    if not hasattr(cls, "jvp"):
        return None

    def jvp_all(tangents, ans):
        full = [None] * len(args)
        for k, i in enumerate(pos):
            t = tangents[k]
            full[i] = t if t is not None else _wrap(np.zeros_like(args[i]._data))
        return cls.jvp(ctx, *full)

    return jvp_all


def _single(cls, name, ctx, args, pos, out):
    def vjp_all(g, ans):
        ctx._swap[id(out)] = ans
        return _call_backward(cls, name, ctx, args, pos, [g])

    inputs = [args[i] for i in pos]
    return _node(cls.__name__, inputs, out._data, vjp_all, _jvp_all(cls, name, ctx, args, pos))


def _multi(cls, name, ctx, args, pos, outs):
    """Several outputs: one node over the flat concatenation, outputs are its slices."""
    if ctx._non_diff and len(ctx._non_diff) != len(outs):
        raise RuntimeError(
            f"{name}: mark_non_differentiable on only some of several outputs is not supported"
        )
    if ctx._non_diff:
        return tuple(o.detach() for o in outs)
    from ..ops import concatenate, getitem, reshape

    sizes = [o.numel() for o in outs]
    bounds = np.cumsum([0] + sizes)
    flat = np.concatenate([o._data.reshape(-1) for o in outs])

    def vjp_all(g, ans):
        gs = [
            reshape(getitem(g, (slice(a, b),)), o.shape)
            for a, b, o in zip(bounds, bounds[1:], outs)
        ]
        return _call_backward(cls, name, ctx, args, pos, gs)

    jvp = _jvp_all(cls, name, ctx, args, pos)
    jvp_flat = None
    if jvp is not None:

        def jvp_flat(tangents, ans):
            ts = jvp(tangents, ans)
            return concatenate([reshape(t, (-1,)) for t in ts], 0)

    packed = _node(cls.__name__, [args[i] for i in pos], flat, vjp_all, jvp_flat)
    return tuple(
        reshape(getitem(packed, (slice(a, b),)), o.shape)
        for a, b, o in zip(bounds, bounds[1:], outs)
    )


class custom_vjp:
    """JAX's `custom_vjp`: `f.defvjp(fwd, bwd)` with fwd(*args) -> (out, residuals) and
    bwd(residuals, g) -> one gradient per argument.

    fwd runs with gradients recorded, so residuals computed from the inputs with
    deepgrad ops stay graph-connected and a bwd written in deepgrad ops can be
    differentiated again.  Forward mode through it raises (JAX has the same rule).
    """

    def __init__(self, fun: Callable) -> None:
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.__name__ = getattr(fun, "__name__", "custom_vjp")
        self.__doc__ = fun.__doc__

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise RuntimeError(f"custom_vjp {self.__name__}: call defvjp(fwd, bwd) before using it")
        _refuse_vmap(f"custom_vjp {self.__name__}", args)
        if not any(isinstance(a, Tensor) and (a.requires_grad or a._tangents) for a in args):
            return self.fun(*args)
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        with enable_grad():
            out, res = self.fwd(*args)
        if not isinstance(out, Tensor):
            raise TypeError(f"custom_vjp {self.__name__}: fwd must return (tensor, residuals)")
        name = self.__name__

        def vjp_all(g, ans):
            gs = self.bwd(res, g)
            gs = (gs,) if not isinstance(gs, (tuple, list)) else tuple(gs)
            if len(gs) != len(args):
                raise RuntimeError(
                    f"custom_vjp {name}: bwd returned {len(gs)} gradients, expected {len(args)}"
                )
            return [gs[i] for i in pos]

        return _node(name, [args[i] for i in pos], out._data, vjp_all, None)


class custom_jvp:
    """JAX's `custom_jvp`: `f.defjvp(jvp)` with jvp(primals, tangents) -> (out, tangent_out).

    Forward mode uses the rule; reverse mode transposes it (the rule must be linear
    in the tangents, as in JAX): dL/dx_i = d<g, jvp(x, t)[1]>/dt_i, computed by one
    reverse sweep through the rule.
    """

    def __init__(self, fun: Callable) -> None:
        self.fun = fun
        self.jvp: Callable | None = None
        self.__name__ = getattr(fun, "__name__", "custom_jvp")
        self.__doc__ = fun.__doc__

    def defjvp(self, jvp: Callable) -> Callable:
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any) -> Any:
        if self.jvp is None:
            raise RuntimeError(f"custom_jvp {self.__name__}: call defjvp(rule) before using it")
        _refuse_vmap(f"custom_jvp {self.__name__}", args)
        if not any(isinstance(a, Tensor) and (a.requires_grad or a._tangents) for a in args):
            return self.fun(*args)
        pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        with no_grad():
            out = self.fun(*[a.detach() if isinstance(a, Tensor) else a for a in args])

        def tangent_out(tangents):
            full = list(args)
            ts = [_wrap(np.zeros_like(a._data)) if isinstance(a, Tensor) else None for a in args]
            for k, i in enumerate(pos):
                if tangents[k] is not None:
                    ts[i] = tangents[k]
            return self.jvp(tuple(full), tuple(ts))[1]

        def vjp_all(g, ans):
            leaves = [_wrap(np.zeros_like(args[i]._data)).requires_grad_(True) for i in pos]
            create = STATE.grad
            with enable_grad():
                t = tangent_out(leaves)
                return list(
                    autodiff.grad(
                        (t * g).sum(),
                        leaves,
                        create_graph=create,
                        retain_graph=create,
                        allow_unused=True,
                    )
                )

        return _node(
            self.__name__,
            [args[i] for i in pos],
            out._data,
            vjp_all,
            lambda ts, ans: tangent_out(ts),
        )


def _seq(x: Any) -> Sequence:
    return x if isinstance(x, (tuple, list)) else (x,)
