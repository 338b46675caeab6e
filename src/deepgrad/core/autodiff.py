"""The reverse sweep: a topological order of the graph and one loop over it.

For every recorded tensor t = prim(x_1, ..., x_n), visited from the outputs
backwards, the cotangent g = dL/dt is pushed to each input that needs it:
dL/dx_i += vjp_i(g, t, x_1, ..., x_n).  Everything else is bookkeeping.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .primitive import _check_finite
from .state import STATE
from .tensor import Tensor, _wrap, as_tensor


class _Freed:
    name = "<freed>"


FREED = _Freed()


def _toposort(roots: Sequence[Tensor], stop: set[Tensor] | None) -> list[Tensor]:
    """Post-order DFS over recorded tensors (inputs before the tensors made from them).

    A tensor is pushed, then expanded (its inputs pushed above it), and placed in
    the order when it surfaces again, after everything above it.  With `stop` (the
    tensors we want gradients for), traversal ends at those tensors and the result
    keeps only tensors from which one is reachable.  The sets hold tensors: a
    tensor hashes by identity.
    """
    ends = stop or ()
    order: list[Tensor] = []
    expanded: set[Tensor] = set()
    placed: set[Tensor] = set()
    stack = [r for r in reversed(roots) if r.requires_grad]
    while stack:
        t = stack[-1]
        if t in expanded or t in ends:
            stack.pop()
            if t not in placed:
                placed.add(t)
                order.append(t)
            continue
        expanded.add(t)
        for x in t._inputs or ():
            if x.requires_grad and x not in expanded:
                stack.append(x)
    if stop is None:
        return order
    reaches: set[Tensor] = set(stop)
    kept = []
    for t in order:  # inputs come before their users, so one forward pass suffices
        if t in reaches or (t._inputs and not reaches.isdisjoint(t._inputs)):
            reaches.add(t)
            kept.append(t)
    return kept


def _freed_error(t: Tensor) -> RuntimeError:
    return RuntimeError(
        "backward: trying to go backward through a graph a second time, but its saved "
        "values were freed after the first backward. Pass retain_graph=True to the first "
        "backward() (or grad()) call if you need to go backward twice."
    )


def _sweep(roots, root_grads, stop, retain_graph, create_graph):
    """Run the reverse sweep; returns {id: (tensor, grad)} for leaves and `stop` tensors.

    Without `create_graph`, cotangents are summed on their arrays (in place into
    buffers this sweep owns); with it, as tensor ops, so the sum is recorded.
    Forward-mode tangents ride on tensors (hvp = forward over reverse), so raw-array
    accumulation is only safe when no forward level is active either.
    """
    acc = _Cotangents(keep=create_graph or STATE.fwd > 0)
    for r, g in zip(roots, root_grads):
        if r.requires_grad:
            acc.push(r, g)
    results: dict[int, tuple[Tensor, Tensor]] = {}
    # the checks (in-place versions, anomaly mode) are read once per sweep, as the flags
    step = _backprop_checked if STATE.versioned or STATE.anomaly else _backprop
    pop = acc.pop
    old = STATE.grad
    STATE.grad = create_graph
    try:
        for t in reversed(_toposort(roots, stop)):
            g = pop(t)
            if g is None:
                continue
            if t._prim is None or (stop is not None and t in stop):
                results[id(t)] = (t, g)
                continue
            step(t, g, acc)
            if not retain_graph:
                _free(t)
    finally:
        STATE.grad = old
        STATE.anomaly_ctx = None
    return results


def _backprop(t: Tensor, g: Tensor, acc: _Cotangents) -> None:
    """Push t's cotangent to each input that needs it: dL/dx_i += vjp_i(g, t, *inputs)."""
    prim = t._prim
    if prim is FREED:
        raise _freed_error(t)
    inputs, params = t._inputs, t._params
    args = ((g, t) if prim.ans else (g,)) + inputs
    for i, x in enumerate(inputs):
        rule = prim.vjp[i]
        if rule is not None and x.requires_grad:
            gi = rule(*args, **params) if params else rule(*args)
            if gi._data.shape != x._data.shape:
                raise _shape_error(prim, i, gi, x)
            acc.push(x, gi)


def _backprop_checked(t: Tensor, g: Tensor, acc: _Cotangents) -> None:
    """`_backprop` with the checks: in-place versions and, in anomaly mode, NaN/Inf."""
    prim = t._prim
    if prim is FREED:
        raise _freed_error(t)
    if STATE.versioned:
        _check_versions(t)
    if not STATE.anomaly:
        return _backprop(t, g, acc)
    inputs, params, site = t._inputs, t._params, getattr(t, "_site", None)
    STATE.anomaly_ctx = (prim.name, site)
    args = ((g, t) if prim.ans else (g,)) + inputs
    for i, x in enumerate(inputs):
        rule = prim.vjp[i]
        if rule is not None and x.requires_grad:
            gi = rule(*args, **params)
            if gi._data.shape != x._data.shape:
                raise _shape_error(prim, i, gi, x)
            _check_finite(gi._data, f"the backward pass (input {i})", prim, site)
            acc.push(x, gi)


def _shape_error(prim, i: int, gi: Tensor, x: Tensor) -> RuntimeError:
    return RuntimeError(
        f"{prim.name}: VJP rule for input {i} returned a gradient of shape "
        f"{gi._data.shape}, expected {x._data.shape}"
    )


def _check_versions(t: Tensor) -> None:
    """Refuse to differentiate through an input modified in place after `t` was recorded."""
    saved = getattr(t, "_saved_versions", None)
    for i, x in enumerate(t._inputs):
        expected = 0 if saved is None else saved[i]
        version = getattr(x, "_version", 0)
        if version != expected:
            raise RuntimeError(
                f"backward: input {i} of '{t._prim.name}' (shape {x.shape}) was modified by "
                f"an in-place operation after it was used (version {version}, expected "
                f"{expected}); use an out-of-place op or .clone() before modifying it"
            )


def _free(t: Tensor) -> None:
    """Drop what t's node keeps alive (its inputs and params): the graph is freed as we go."""
    t._prim = FREED
    t._inputs = None
    t._params = None


class _Cotangents:
    """The cotangents accumulated so far, keyed by tensor (a tensor hashes by identity).

    With `keep` (create_graph, or forward levels active) sums are tensor ops, so they
    are recorded; otherwise they are summed on the arrays, in place into buffers this
    sweep allocated itself (`owned`), never into an array someone else may hold.
    """

    __slots__ = ("grads", "keep", "owned")

    def __init__(self, keep: bool) -> None:
        self.grads: dict[Tensor, Tensor] = {}
        self.owned: set[Tensor] = set()
        self.keep = keep

    def pop(self, t: Tensor) -> Tensor | None:
        g = self.grads.pop(t, None)
        if g is not None:
            self.owned.discard(g)  # from here on g may be shared: never add into it
        return g

    def push(self, x: Tensor, g: Tensor) -> None:
        """Add g to x's cotangent (g has x's shape: `_backprop` and `_seed` check it)."""
        grads = self.grads
        prev = grads.get(x)
        if prev is None:
            grads[x] = g
        elif self.keep:
            grads[x] = prev + g
        elif prev in self.owned and prev._data.dtype == g._data.dtype:
            buf = prev._data
            buf += g._data  # in place; the operator is NumPy's fastest path (no keywords)
        else:
            total = _wrap(np.asarray(prev._data + g._data))  # 0-d sums are NumPy scalars
            self.owned.add(total)
            grads[x] = total


def _seed(roots: Sequence[Tensor], grads, op: str) -> list[Tensor]:
    seeds = []
    for i, r in enumerate(roots):
        g = None if grads is None else grads[i]
        if g is None:
            if r._data.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for one-element outputs; "
                    f"got an output of shape {r.shape}. Pass grad= (the cotangent) explicitly."
                )
            seeds.append(_wrap(np.ones_like(r._data)))
        else:
            g = as_tensor(g, like=r)
            if g.shape != r.shape:
                raise RuntimeError(
                    f"{op}: grad has shape {g.shape} but the output has shape {r.shape}"
                )
            seeds.append(g)
    return seeds


def backward(roots, grads=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate gradients of `roots` into the `.grad` of every leaf that requires grad."""
    hook = getattr(STATE.tracer, "backward", None)  # deepgrad.compile records the sweep
    if hook is not None:
        return hook(roots, grads, retain_graph, create_graph)
    roots = list(roots)
    for r in roots:
        if not r.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)"
            )
    if retain_graph is None:
        retain_graph = create_graph
    seeds = _seed(roots, grads, "backward")
    results = _sweep(roots, seeds, None, retain_graph, create_graph)
    seen_arrays: set[int] = {id(s._data) for s in seeds}
    plain = not create_graph and not STATE.fwd  # then g has no graph and no tangents
    for leaf, g in results.values():
        if not create_graph:
            arr = g._data
            # .grad must own its memory (optimizers update it in place): copy views,
            # read-only arrays and arrays already handed out; and it takes its tensor's
            # memory layout (PyTorch's gradient layout contract), or every optimizer
            # pass would mix row- and column-major arrays (several times slower)
            if (
                arr.base is not None
                or id(arr) in seen_arrays
                or not arr.flags.writeable
                or not _same_layout(arr, leaf._data)
            ):
                arr = _copy_like(arr, leaf._data)
            seen_arrays.add(id(arr))
            if arr is not g._data or not plain:
                g = _wrap(arr)
        if g._data.dtype != leaf._data.dtype:
            g = g.to(leaf._data.dtype)
        leaf.grad = g if leaf.grad is None else leaf.grad + g


def _same_layout(a: np.ndarray, like: np.ndarray) -> bool:
    """False when `like` is contiguous in one order and `a` is not in that order."""
    if like.ndim < 2 or a.shape != like.shape:
        return True
    if like.flags.c_contiguous:
        return a.flags.c_contiguous
    return a.flags.f_contiguous or not like.flags.f_contiguous


def _copy_like(a: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A fresh copy of `a` in `like`'s memory order (its own dtype)."""
    if a.shape != like.shape:
        return a.copy(order="K")
    out = np.empty_like(like, dtype=a.dtype)
    np.copyto(out, a)
    return out


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned (not accumulated).

    Like `torch.autograd.grad`: sum_k <grad_outputs_k, d outputs_k / d inputs_j>
    for each input j.  Traversal stops at `inputs`, so only the part of the graph
    between them and the outputs is visited.
    """
    # inside vmap: differentiate the full physical batch (ops/batching.py)
    vm = STATE.batch
    if vm is not None and vm.any_batched(outputs, inputs, grad_outputs):
        kw = {"retain_graph": retain_graph, "create_graph": create_graph}
        return vm.grad(grad, outputs, inputs, grad_outputs, allow_unused=allow_unused, **kw)
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is not None and isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {x.shape}) does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    live = [o for o in outputs if o.requires_grad]
    if grad_outputs is not None:
        gos = [g for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    else:
        gos = None
    seeds = _seed(live, gos, "grad")
    stop = set(inputs)
    results = _sweep(live, seeds, stop, retain_graph, create_graph)
    out = []
    for i, x in enumerate(inputs):
        g = results.get(id(x), (None, None))[1]
        if g is None and not allow_unused:
            g = _wrap(np.zeros_like(x._data))
        elif g is not None and g._data.dtype != x._data.dtype:
            g = g.to(x._data.dtype)
        out.append(g)
    return tuple(out)
