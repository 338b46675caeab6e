"""One traced call of a step: run it eagerly under the `Recorder`, with its watchers.

While the step runs, three things are watched (and restored afterwards):

* reading tensor values back to Python (`.item()`, `bool(t)`, `.tolist()`, `.numpy()`,
  `float(t)`, `np.asarray(t)`): the step may branch on them, so it stays eager;
* every `Module` called, with its `training` flag (a guard of the plan);
* a reverse sweep other than `Tensor.backward` (`autograd.grad`): not compiled.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from ..core import autodiff
from ..core.state import STATE, trace_ops
from ..core.tensor import Tensor
from ..nn.module import Module
from .ir import Const, Ref, Slot
from .recorder import Recorder

_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__", "__array__")


def _reader(rec: Recorder, name: str, method: Callable) -> Callable:
    def read(self, *args, **kwargs):
        if STATE.tracer is rec:
            rec.fail(
                f"the step reads tensor values back to Python (Tensor.{name.strip('_')}() on "
                f"a tensor of shape {tuple(self.shape)}), so what it does may depend on them"
            )
        return method(self, *args, **kwargs)

    return read


@contextlib.contextmanager
def _watch(rec: Recorder) -> Iterator[None]:
    saved = {name: getattr(Tensor, name) for name in _READS}
    module_call = Module.__call__
    sweep = autodiff._sweep

    def call(self, *args, **kwargs):
        if STATE.tracer is rec and id(self) not in rec.modules:
            rec.modules[id(self)] = (self, self.training)
        return module_call(self, *args, **kwargs)

    def other_sweep(*args, **kwargs):
        if STATE.tracer is rec:
            rec.fail("the step calls autograd.grad (only Tensor.backward is compiled)")
        return sweep(*args, **kwargs)

    try:
        for name, method in saved.items():
            setattr(Tensor, name, _reader(rec, name, method))
        Module.__call__ = call
        autodiff._sweep = other_sweep
        yield
    finally:
        for name, method in saved.items():
            setattr(Tensor, name, method)
        Module.__call__ = module_call
        autodiff._sweep = sweep


def tensor_args(args: tuple, kwargs: dict) -> list[Tensor]:
    """The step's tensor arguments in a fixed order: positional, then keywords by name."""
    named = [kwargs[k] for k in sorted(kwargs)]
    return [a for a in (*args, *named) if isinstance(a, Tensor)]


def run_traced(
    fn: Callable, args: tuple, kwargs: dict, earlier: Recorder | None = None
) -> tuple[Recorder, Any]:
    """Call `fn` eagerly while recording it; returns the recorder and fn's own result.
    `earlier`: a previous trace of the step, whose leaves' `.grad` are watched."""
    rec = Recorder(tensor_args(args, kwargs))
    if earlier is not None:
        rec.watch_grads(earlier.leaves)
    with _watch(rec), trace_ops(rec):
        out = fn(*args, **kwargs)
    rec.check_versions()
    rec.check_grads()
    rec.outputs, rec.structure = _outputs(rec, out)
    return rec, out


def _outputs(rec: Recorder, out: Any) -> tuple[list[Ref], str]:
    """The step's results as references: one tensor, a tuple of tensors, or None."""
    if out is None:
        return [], "none"
    single = isinstance(out, Tensor)
    items = [out] if single else out
    if not isinstance(items, (tuple, list)) or not all(isinstance(t, Tensor) for t in items):
        rec.fail(
            f"the step returned {type(out).__name__}; a compiled step returns a Tensor, "
            "a tuple of Tensors or None"
        )
        return [], "none"
    refs = []
    for t in items:
        ref = rec.ref(t)
        if not isinstance(ref, Slot):
            ref = Const(t._data)  # a parameter or constant returned as it is
        refs.append(ref)
    return refs, "single" if single else type(items).__name__
