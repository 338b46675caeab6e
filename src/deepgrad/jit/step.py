"""`dg.compile(step_fn)`: trace a training step twice, then replay it as one function.

The first two calls with a given guard run eagerly under the tracer.  When the two
traces agree (the same calls, the same constants), the second becomes a `Plan`;
later calls with the same guard replay it.  A step that cannot be replayed (it reads
values back, draws random numbers outside a host call, changes tensors in place,
calls `autograd.grad`, ...) runs eagerly from then on, with the reason in a warning
(once) and in `explain()`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor, _wrap
from .checks import Checked, Retrace, hoist, took_another_path
from .ir import Slot, first_difference, generate, live_calls
from .recorder import Recorder
from .reuse import reuse_buffers
from .trace import run_traced, tensor_args


class CompileWarning(UserWarning):
    """A compiled step runs eagerly (the reason is in the message and in `explain()`)."""


class Plan:
    """A replayable step: the generated function and the guards that must hold."""

    def __init__(self, rec: Recorder, reuse: bool = True) -> None:
        calls = hoist(live_calls(rec.calls, rec.outputs), rec.inputs)
        keep = {*rec.inputs, *(r.k for r in rec.outputs if isinstance(r, Slot))}
        in_place = reuse_buffers(calls, rec.values, keep) if reuse else 0
        self.replay = generate(calls, rec.inputs, rec.outputs)
        self.structure = rec.structure
        self.tensors = list(rec.params.values())  # (tensor, its array, requires_grad)
        self.modules = list(rec.modules.values())  # (module, training)
        self.counts = {
            "calls": len(calls),
            "kernels": sum(c.pure and not c.tensor_out for c in calls),
            "rule calls": sum(c.pure and c.tensor_out for c in calls),
            "host calls": sum(not c.pure for c in calls),
            "checks": sum(isinstance(c.fn, Checked) for c in calls),
            "in place": in_place,
        }
        self.hosts = sorted({c.label for c in calls if not c.pure} - {"grad", "seed"})
        self.rules = sorted({c.label for c in calls if c.pure and c.tensor_out})

    def valid(self) -> bool:
        """The guards: the same parameter arrays and flags, the same training modes."""
        for t, arr, flag in self.tensors:
            if t._data is not arr or t.requires_grad is not flag:
                return False
        for m, training in self.modules:
            if m.training is not training:
                return False
        return True

    def run(self, arrays: list[np.ndarray]) -> Any:
        out = self.replay(*arrays)
        tensors = [_wrap(np.array(a) if a.base is not None else a) for a in out]
        if self.structure == "none":
            return None
        if self.structure == "single":
            return tensors[0]
        return tuple(tensors) if self.structure == "tuple" else tensors


def _guards(rec: Recorder) -> tuple:
    """What two traces must share to be compared: parameters and training modes (the
    other tensors bound, constants made afresh in each call, are compared by value)."""
    return (
        tuple((id(t), id(a)) for t, a, f in rec.params.values() if f),
        tuple((id(m), tr) for m, tr in rec.modules.values()),
    )


class CompiledStep:
    """A training step traced once per guard and replayed (see `deepgrad.compile`)."""

    def __init__(
        self, fn: Callable, max_plans: int = 8, in_place: bool = True, fullgraph: bool = False
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fullgraph = fullgraph
        self.max_plans = max_plans
        self.in_place = in_place
        self.plans: dict[tuple, list[Plan]] = {}
        self.pending: dict[tuple, Recorder] = {}
        self.reason: str | None = None
        self.stats = {"traced": 0, "replayed": 0, "eager": 0}
        self.notes: list[str] = []  # why plans were dropped (shown by explain)

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        """`@dg.compile` on a method: bound to the instance (which joins the plan key)."""
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.reason is not None or STATE.fwd or STATE.batch or STATE.anomaly:
            self.stats["eager"] += 1  # inside jvp/vmap/anomaly mode: the eager step
            return self.fn(*args, **kwargs)
        key, why = _key(args, kwargs)
        if key is None:
            return self._give_up(why, args, kwargs)
        for plan in self.plans.get(key, ()):
            if plan.valid():
                arrays = [t._data for t in tensor_args(args, kwargs)]
                try:
                    out = plan.run(arrays)
                except Retrace as e:  # the data takes another path: nothing has changed yet
                    self._note(f"re-traced: {e}")
                    continue  # another plan may be for that path
                self.stats["replayed"] += 1
                return out
        return self._trace(key, args, kwargs)

    def _trace(self, key: tuple, args: tuple, kwargs: dict) -> Any:
        if self.stats["traced"] >= 2 * self.max_plans + 2:  # two traces make a plan
            return self._give_up(
                f"traced {self.stats['traced']} times (shapes, dtypes, parameters or "
                "training modes keep changing)",
                args,
                kwargs,
            )
        self.stats["traced"] += 1
        rec, out = run_traced(self.fn, args, kwargs, self.pending.get(key))
        if rec.reason is not None:
            self._give_up(rec.reason)
            return out
        first = self.pending.pop(key, None)
        if first is None or _guards(first) != _guards(rec):
            self.pending[key] = rec  # wait for a second trace to confirm this one
            return out
        if took_another_path(first.calls, rec.calls):
            self.pending[key] = rec  # two paths for one signature: a plan for each
            return out
        diff = first_difference(first.calls, rec.calls)
        if diff is None and len(first.outputs) != len(rec.outputs):
            diff = "the step returned a different number of tensors"
        if diff is not None:
            self._give_up(diff)
            return out
        self.plans.setdefault(key, []).append(Plan(rec, self.in_place))
        return out

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def _give_up(self, reason: str, args: tuple | None = None, kwargs: dict | None = None):
        """From now on run eagerly; warn once with the reason (raise under fullgraph)."""
        self.reason = reason
        self.plans.clear()
        self.pending.clear()
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        if self.fullgraph:
            raise RuntimeError(f"deepgrad.compile(fullgraph=True): {name} cannot be replayed: "
                               f"{reason}")  # fmt: skip
        warnings.warn(f"deepgrad.compile: {name} runs eagerly: {reason}", CompileWarning, 3)
        if args is not None:
            self.stats["eager"] += 1
            return self.fn(*args, **kwargs)
        return None

    def explain(self) -> str:
        """Whether the step replays, and if not, why; what each plan holds."""
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        s = self.stats
        head = f"deepgrad.compile({name}): traced {s['traced']}, replayed {s['replayed']}, "
        lines = [head + f"eager {s['eager']} calls"]
        if self.reason is not None:
            lines.append(f"runs eagerly: {self.reason}")
        elif not self.plans:
            lines.append("not compiled yet: a plan is made after two traced calls agree")
        lines += self.notes[-3:]
        for key, plans in self.plans.items():
            for plan in plans:
                counts = ", ".join(f"{v} {k}" for k, v in plan.counts.items())
                lines.append(f"plan for {_describe(key)}: {counts}")
                if plan.hosts:
                    lines.append(f"  host calls: {', '.join(plan.hosts)}")
                if plan.rules:
                    lines.append(f"  VJP rules run on tensors: {', '.join(plan.rules)}")
        return "\n".join(lines)

    def source(self) -> str:
        """The generated Python of every plan (for reading, not for running)."""
        return "\n\n".join(p.replay.source for ps in self.plans.values() for p in ps)

    def reset(self) -> None:
        """Forget every plan and any reason to run eagerly (the next calls trace again)."""
        self.plans.clear()
        self.pending.clear()
        self.reason = None


def _key(args: tuple, kwargs: dict) -> tuple[tuple | None, str]:
    """Shapes and dtypes of the tensor arguments, the other arguments' values, grad mode."""
    parts: list[Any] = [STATE.grad]
    for name, a in [*enumerate(args), *sorted(kwargs.items())]:
        if isinstance(a, Tensor):
            if a.requires_grad:
                return None, f"argument {name!r} requires grad (inputs are data, not leaves)"
            parts.append((name, "T", a._data.shape, a._data.dtype.str, a._data.strides))
        else:
            try:
                hash(a)
            except TypeError:
                return None, f"argument {name!r} is neither a Tensor nor a hashable value"
            parts.append((name, "V", type(a).__name__, a))
    return tuple(parts), ""


def _describe(key: tuple) -> str:
    shown = [f"{p[2]} {np.dtype(p[3])}" if p[1] == "T" else repr(p[3]) for p in key[1:]]
    return f"({', '.join(shown)})" + ("" if key[0] else " under no_grad")


def compile(
    fn: Callable | None = None,
    *,
    fullgraph: bool = False,
    disable: bool = False,
    max_plans: int = 8,
    in_place: bool = True,
) -> Any:
    """Compile a training step: trace it, then replay it without tensors or a graph.

    `step_fn(*args)` takes tensors (and hashable values) and returns the loss, a tuple
    of tensors or None; it may run the forward, `loss.backward()`, `opt.step()`,
    `opt.zero_grad()` and schedulers.  Usable as `dg.compile(step)` or `@dg.compile`.
    The results are bitwise those of the eager step (see docs/design.md, issue 20);
    `.explain()` says whether it replays, and why not.  `max_plans`: plans kept (one per
    input signature and guard) before the step gives up and runs eagerly; `in_place`:
    let elementwise kernels write into dead buffers (`jit/reuse.py`; off to measure it).
    As in PyTorch, `fullgraph=True` raises (RuntimeError, with the reason) where the step
    would fall back to eager, and `disable=True` returns the step itself.

    Differences from `torch.compile`: it takes the whole step, optimizer included (not
    only a model's forward); where PyTorch splits a function at a graph break and runs
    the pieces, a step that cannot be replayed runs wholly eagerly; the returned tensors
    are detached (the backward already ran inside the step); torch's `backend`, `mode`,
    `options` and `dynamic` choose among its code generators and have no counterpart here
    (there is one plan kind; a new shape traces a new plan).

    >>> import deepgrad as dg
    >>> w = dg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = dg.optim.SGD([w], lr=0.1)
    >>> @dg.compile
    ... def step(x):
    ...     opt.zero_grad()
    ...     loss = ((w * x) ** 2).sum()
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> losses = [round(float(step(dg.tensor([1.0, 1.0]))), 4) for _ in range(3)]
    >>> losses[0], losses[2], step.stats["replayed"]
    (5.0, 2.048, 1)
    """
    if fn is None:
        return functools.partial(compile, fullgraph=fullgraph, disable=disable,
                                 max_plans=max_plans, in_place=in_place)  # fmt: skip
    if not callable(fn):
        raise TypeError(f"deepgrad.compile: expected a callable step, got {type(fn).__name__}")
    if isinstance(max_plans, bool) or not isinstance(max_plans, int) or max_plans < 1:
        raise ValueError(f"deepgrad.compile: max_plans must be an int >= 1, got {max_plans!r}")
    if disable:
        return fn
    return CompiledStep(fn, max_plans, bool(in_place), bool(fullgraph))


__all__ = ["CompileWarning", "CompiledStep", "compile"]
