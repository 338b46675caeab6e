"""Function transforms under torch.func's names: vmap, grad, jacrev, functional_call, ...

import deepgrad as dg
per_sample = dg.func.vmap(dg.func.grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
"""

from __future__ import annotations

from ..core.func import hvp, jacobian, value_and_grad
from ..ops.batching import VmapError
from .deq import DEQ
from .implicit import cg, fixed_point, gmres, implicit_root
from .module_call import functional_call, stack_module_state
from .transforms import grad, grad_and_value, hessian, jacfwd, jacrev, jvp, vjp
from .vmap import vmap

__all__ = [
    "DEQ",
    "VmapError",
    "cg",
    "fixed_point",
    "functional_call",
    "gmres",
    "grad",
    "grad_and_value",
    "hessian",
    "hvp",
    "implicit_root",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "stack_module_state",
    "value_and_grad",
    "vjp",
    "vmap",
]
