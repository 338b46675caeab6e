"""The autodiff core: Tensor, the primitive registry, reverse and forward mode, transforms."""

from .allocator import tune_allocator  # opt-in: the CLI and the benchmarks call it
from .autodiff import backward
from .autodiff import grad as autograd_grad
from .func import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .primitive import REGISTRY, AnomalyError, Case, Domain, ErrorCase, Primitive, apply, primitive
from .random import default_generator, get_rng_state, manual_seed, set_rng_state
from .state import (
    detect_anomaly,
    enable_grad,
    get_default_dtype,
    is_grad_enabled,
    no_grad,
    set_default_dtype,
    set_grad_enabled,
)  # fmt: skip
from .tensor import Tensor

__all__ = [
    "REGISTRY",
    "AnomalyError",
    "Case",
    "Domain",
    "ErrorCase",
    "Primitive",
    "Tensor",
    "apply",
    "autograd_grad",
    "backward",
    "default_generator",
    "detect_anomaly",
    "enable_grad",
    "get_default_dtype",
    "get_rng_state",
    "grad",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "manual_seed",
    "no_grad",
    "primitive",
    "set_default_dtype",
    "set_grad_enabled",
    "set_rng_state",
    "tune_allocator",
    "value_and_grad",
    "vjp",
]  # fmt: skip
