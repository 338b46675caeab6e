"""Recomputation (`torch.utils.checkpoint`): trade compute for activation memory.

    y = checkpoint(fn, *args)

runs `fn` without keeping its intermediate activations; the backward pass runs
`fn` again with gradients on and differentiates that copy.  Peak memory of a
network split into k checkpointed segments drops from O(depth) activations to
O(depth / k + k) (Chen et al. 2016, "Training deep nets with sublinear memory
cost"), for about one extra forward pass.  The recomputation replays the
default generator's state, so dropout draws the same masks, and the gradients
are bitwise equal to those without checkpointing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd.function import _node
from ..core import autodiff
from ..core.func import _alias_plain
from ..core.random import get_rng_state, set_rng_state
from ..core.state import STATE, enable_grad, no_grad
from ..core.tensor import Tensor, _wrap


def _captured(fn: Any) -> list[Tensor]:
    """Tensors fn can see besides its arguments: closure cells, a module's parameters."""
    from ..nn.module import Module

    found: list[Tensor] = []

    def add(v: Any) -> None:
        if isinstance(v, Tensor):
            found.append(v)
        elif isinstance(v, Module):
            found.extend(v.parameters())
        elif isinstance(v, (list, tuple)):
            for u in v:
                add(u)

    add(fn if isinstance(fn, Module) else getattr(fn, "__self__", None))
    for v in getattr(fn, "__defaults__", None) or ():
        add(v)
    for cell in getattr(fn, "__closure__", None) or ():
        try:
            add(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return found


def _leaves(out: Tensor, args: list[Tensor], captured: list[Tensor]) -> list[Tensor]:
    """The tensors requiring grad where fn's graph starts, besides `args`: captured tensors
    (even non-leaves, such as a transform's alias) and other leaves, found by a walk
    that stops at both."""
    seen = {id(a) for a in args}
    frontier = {id(c) for c in captured}
    found, stack = [], [out]
    while stack:
        t = stack.pop()
        if id(t) in seen or not t.requires_grad:
            continue
        seen.add(id(t))
        if t._prim is None or id(t) in frontier:
            found.append(t)
        else:
            stack.extend(t._inputs or ())
    return found


def checkpoint(fn: Callable[..., Tensor], *args: Any, preserve_rng_state: bool = True) -> Tensor:
    """fn(*args) without storing its activations; they are recomputed in the backward.

    Tensor arguments, the tensors `fn` closes over (directly or as a module's
    parameters) and every leaf it reads receive gradients, through `backward()` and
    `dg.grad` alike; under `create_graph` the recomputed backward is recorded, so
    second order works.  `fn` must return one tensor and be deterministic given the
    default generator's state (restored for the recomputation when
    `preserve_rng_state`).  A non-leaf tensor reached only indirectly (e.g. through
    an attribute of a captured object) must be passed as an argument instead.

    >>> import deepgrad as dg
    >>> x = dg.tensor([1.0, 2.0], requires_grad=True)
    >>> checkpoint(lambda v: (dg.sin(v) * v).sum(), x).backward()
    >>> [round(g, 4) for g in x.grad.tolist()]
    [1.3818, 0.077]
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: fn must be callable, got {type(fn).__name__}")
    tensors = [a for a in args if isinstance(a, Tensor)]
    rng = get_rng_state() if preserve_rng_state else None
    if not STATE.grad:
        return fn(*args)
    with enable_grad():  # one recorded run to find the leaves fn reads; its graph is dropped
        probe = fn(*args)
    if not isinstance(probe, Tensor):
        raise TypeError(f"checkpoint: fn must return one tensor, got {type(probe).__name__}")
    leaves = _leaves(probe, tensors, _captured(fn))
    out = probe._data
    del probe
    inputs = tensors + leaves

    def vjp_all(g, ans):
        if rng is not None:
            now = get_rng_state()
            set_rng_state(rng)
        create = STATE.grad
        try:
            with enable_grad():
                # under create_graph the copies stay linked to the inputs (second order)
                fresh = [_alias_plain(t) if create else _alias(t) for t in tensors]
                it = iter(fresh)
                call = [next(it) if isinstance(a, Tensor) else a for a in args]
                again = fn(*call)
        finally:
            if rng is not None:
                set_rng_state(now)
        if not again.requires_grad:
            return [None] * len(inputs)
        wrt = fresh + leaves
        live = [k for k, t in enumerate(wrt) if t.requires_grad]
        out_grads: list = [None] * len(wrt)
        with enable_grad() if create else no_grad():
            gs = autodiff.grad(
                again, [wrt[k] for k in live], [g], create_graph=create, allow_unused=True
            )
        for k, gk in zip(live, gs):
            out_grads[k] = gk
        return out_grads

    return _node("checkpoint", inputs, out, vjp_all, None)


def _alias(t: Tensor) -> Tensor:
    """A graph-free leaf with t's value (requires grad when t does)."""
    a = _wrap(t._data)
    if t.requires_grad:
        a.requires_grad = True
    return a


def checkpoint_sequential(functions: Any, segments: int, input: Tensor) -> Tensor:
    """Run a Sequential (or list of modules) in `segments` checkpointed chunks."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 1 <= segments <= max(len(fns), 1):
        raise ValueError(f"checkpoint_sequential: segments={segments} for {len(fns)} modules")
    size = -(-len(fns) // segments)
    x = input
    for start in range(0, len(fns), size):
        chunk = fns[start : start + size]

        def run(h, chunk=chunk):
            for f in chunk:
                h = f(h)
            return h

        x = checkpoint(run, x)
    return x
