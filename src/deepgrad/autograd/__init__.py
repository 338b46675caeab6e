"""`deepgrad.autograd`: the reverse-mode engine's entry points and user-defined functions.

dg.autograd.grad(outputs, inputs)      # torch.autograd.grad
dg.autograd.backward(roots)            # torch.autograd.backward
class F(dg.autograd.Function): ...     # torch.autograd.Function
"""

from __future__ import annotations

from ..core.autodiff import backward, grad
from .function import Function, FunctionCtx, custom_jvp, custom_vjp

__all__ = ["Function", "FunctionCtx", "backward", "custom_jvp", "custom_vjp", "grad"]
