"""The autodiff core: Tensor, the primitive registry, reverse and forward mode, transforms."""

from .allocator import tune_allocator  # opt-in: the CLI and the benchmarks call it
from .autodiff import backward
from .autodiff import grad as autograd_grad
from .creation import (
    arange,
    empty,
    eye,
    full,
    full_like,
    linspace,
    normal,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    uniform,
    zeros,
    zeros_like,
)  # fmt: skip
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
from .vmap import vmap

__all__ = [
    "REGISTRY",
    "AnomalyError",
    "Case",
    "Domain",
    "ErrorCase",
    "Primitive",
    "Tensor",
    "apply",
    "arange",
    "autograd_grad",
    "backward",
    "default_generator",
    "detect_anomaly",
    "empty",
    "enable_grad",
    "eye",
    "full",
    "full_like",
    "get_default_dtype",
    "get_rng_state",
    "grad",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jacobian",
    "jvp",
    "linspace",
    "manual_seed",
    "no_grad",
    "normal",
    "ones",
    "ones_like",
    "primitive",
    "rand",
    "randint",
    "randn",
    "set_default_dtype",
    "set_grad_enabled",
    "set_rng_state",
    "tensor",
    "tune_allocator",
    "uniform",
    "value_and_grad",
    "vjp",
    "vmap",
    "zeros",
    "zeros_like",
]  # fmt: skip
