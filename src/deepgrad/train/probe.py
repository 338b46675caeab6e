"""`isolated`: run a probe (the doctor, the LR finder, overfit-one-batch) that leaves no trace.

A probe trains or evaluates the live model to learn something about it, then
must hand it back exactly as it was: same arrays (a probe that rebinds
`p.data` to a copy in another memory layout changes which BLAS kernel later
steps use, and so the low bits of every later step), same values, same
gradients, same train/eval flags, same optimizer and scheduler state, same
state of every random generator and loader.  `isolated` snapshots all of that
on entry and restores it in place on exit, whether the probe returned or
raised, so a run with the doctor ends bitwise equal to the same run without it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from deepgrad.core.random import get_rng_state, set_rng_state


def _tensors(model: Any) -> list[Any]:
    """Every parameter and buffer (persistent or not) of `model`, each once."""
    found: dict[int, Any] = {}
    modules = model.modules() if hasattr(model, "modules") else [model]
    for module in modules:
        for store in ("_parameters", "_buffers"):
            for t in getattr(module, store, {}).values():
                if t is not None:
                    found.setdefault(id(t), t)
    if not found and hasattr(model, "parameters"):
        found = {id(p): p for p in model.parameters()}
    return list(found.values())


class _ModelSnapshot:
    """Each tensor's own array object, a copy of its values, and its gradient."""

    def __init__(self, model: Any) -> None:
        self.tensors = [(t, t._data, t._data.copy(order="K"), t.grad) for t in _tensors(model)]
        modules = list(model.modules()) if hasattr(model, "modules") else []
        self.flags = [(m, m.training) for m in modules if hasattr(m, "training")]

    def restore(self) -> None:
        for t, array, values, grad in self.tensors:
            # NOTE: copy into the original array instead of rebinding `t.data`, so the memory
            # layout (e.g. Linear's column-major weight) and every view of it stay as they were
            np.copyto(array, values, casting="no")
            t._data = array
            t.grad = grad
        for module, training in self.flags:
            module.training = training


class _OptimizerSnapshot:
    """An optimizer's per-parameter state (arrays restored in place) and its group settings."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.state = {
            p: {k: (v, v.copy(order="K")) if isinstance(v, np.ndarray) else (v, None)
                for k, v in entries.items()}
            for p, entries in optimizer.state.items()
        }  # fmt: skip
        self.groups = [
            {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            for g in optimizer.param_groups
        ]
        self.extra = {k: copy.deepcopy(v) for k, v in vars(optimizer).items() if _plain(v)}

    def restore(self) -> None:
        restored = {}
        for p, entries in self.state.items():
            restored[p] = {}
            for k, (value, saved) in entries.items():
                if saved is not None:
                    np.copyto(value, saved, casting="no")
                restored[p][k] = value
        self.optimizer.state = restored
        for group, saved in zip(self.optimizer.param_groups, self.groups):
            for key in [k for k in group if k != "params" and k not in saved]:
                del group[key]
            group.update(copy.deepcopy(saved))
        for key, value in self.extra.items():
            setattr(self.optimizer, key, copy.deepcopy(value))


class _StateDictSnapshot:
    """`state_dict()` / `load_state_dict()` for objects without `state` and `param_groups`."""

    def __init__(self, obj: Any) -> None:
        self.obj, self.state = obj, copy.deepcopy(obj.state_dict())

    def restore(self) -> None:
        self.obj.load_state_dict(copy.deepcopy(self.state))


def _plain(value: Any) -> bool:
    """Counters and settings an optimizer keeps as attributes (step counts, flags)."""
    return value is None or isinstance(value, (bool, int, float, str))


@contextlib.contextmanager
def isolated(
    model: Any,
    optimizer: Any = None,
    *,
    scheduler: Any = None,
    generators: Iterable[np.random.Generator | None] = (),
    loaders: Iterable[Any] = (),
) -> Iterator[None]:
    """Run the body as a probe: on exit restore everything it could have changed, in place.

    Restored: every parameter and buffer of `model` (into its original array, so identity
    and memory layout are kept), gradients, train/eval flags; `optimizer`'s state arrays
    (in place) and group settings; `scheduler.state_dict()`; the state of deepgrad's
    default generator and of each of `generators`; each loader's `state_dict()`.

    >>> import deepgrad as dg
    >>> lin = dg.nn.Linear(2, 2)
    >>> w = lin.weight.numpy()
    >>> with isolated(lin):
    ...     lin.weight.data = w * 0
    >>> lin.weight.numpy() is w
    True
    """
    snapshot = _ModelSnapshot(model)
    opt: Any = None
    if optimizer is not None:
        # an optimizer of deepgrad's shape is restored in place; any other through its state dict
        has_state = hasattr(optimizer, "state") and hasattr(optimizer, "param_groups")
        opt = _OptimizerSnapshot(optimizer) if has_state else _StateDictSnapshot(optimizer)
    sched = None if scheduler is None else copy.deepcopy(scheduler.state_dict())
    gens = [(g, copy.deepcopy(g.bit_generator.state)) for g in generators if g is not None]
    default = copy.deepcopy(get_rng_state())
    feeds = [(ld, ld.state_dict()) for ld in loaders if hasattr(ld, "load_state_dict")]
    try:
        yield
    finally:
        snapshot.restore()
        if opt is not None:
            opt.restore()
        if sched is not None:
            scheduler.load_state_dict(copy.deepcopy(sched))
        for g, state in gens:
            g.bit_generator.state = state
        set_rng_state(default)
        for ld, state in feeds:
            ld.load_state_dict(state)
