"""`deepgrad.jit` (`dg.compile`): a training step traced into a static plan and replayed.

`dg.compile(step_fn)` records one call of the step (forward, loss, backward, optimizer
update) over the primitive registry and replays it as one generated Python function
over ndarrays: no Tensor objects, no graph, no per-op dispatch or validation.  See
`step.py` for the protocol, `recorder.py` and `sweep.py` for the trace, `ir.py` for
the generated code.
"""

from .step import CompiledStep, CompileWarning, compile

__all__ = ["CompileWarning", "CompiledStep", "compile"]
