"""deepgrad: a deep learning framework from first principles on NumPy.

import deepgrad as dg
x = dg.tensor([1.0, 2.0], requires_grad=True)
(x ** 2).sum().backward()      # x.grad == [2, 4]
dg.grad(dg.grad(dg.sin))(x[0])  # -sin(1)
"""

from __future__ import annotations

from . import (
    autograd,  # grad, backward, Function, custom_vjp, custom_jvp
    data,
    distributed,  # data-parallel training on MPI; mpi4py is imported by init() only
    distributions,
    func,  # torch.func's transforms: vmap, grad, jacrev, functional_call, ...
    models,
    nn,
    onnx,  # export; needs the optional onnx extra only when called
    ops,  # registers every primitive and the Tensor operators
    optim,
    train,
    utils,  # utils.checkpoint (recomputation)
)
from .autograd import Function, custom_jvp, custom_vjp
from .core import *
from .core.random import initial_seed, seed
from .core.state import inference_mode
from .func import fixed_point, implicit_root, vmap
from .io import load_torch_state_dict, save_torch_state_dict
from .jit import compile  # issue 20: dg.compile(step_fn), a traced and replayed training step
from .ops import *

# PyTorch's surface (issue 13 part A): devices, dtype aliases, factories, functions.
from .ops.creation import *
from .ops.devices import backends, cuda, device
from .ops.factories import *
from .ops.setitem import index_put
from .ops.sorting import *
from .ops.torch_elementwise import *
from .ops.torch_functions import *
from .ops.torch_shape import *
from .utils.checkpoint import checkpoint

__version__ = "0.1.0"
float32 = "float32"
float64 = "float64"
int64 = "int64"
int32 = "int32"

# Issue 13: dg.linalg and its pre-linalg names (torch.inverse, ...), dg.save/dg.load, dg.utils.data.
# PyTorch's constants and dtype information
from numpy import e, finfo, iinfo, inf, nan, pi

from . import (
    linalg,  # torch.utils.data's path
)
from .linalg import (
    cholesky_inverse,
    cholesky_solve,
    det,
    inverse,
    matrix_exp,
    matrix_power,
    pinverse,
    slogdet,
)
from .linalg import cholesky_legacy as cholesky
from .linalg import qr_legacy as qr
from .linalg import svd_legacy as svd
from .ops.linalg_decomp import logdet

# PyTorch's out=, dtype=, alpha=, rounding_mode= on the module-level functions (issue 13)
from .ops.torch_surface import *
from .serialization import load, save

# PyTorch's dtype names (NumPy dtype names as strings, like float32 above)
float16 = half = "float16"
double = "float64"
long = "int64"
int16 = short = "int16"
int8 = "int8"
uint8 = "uint8"
float = "float32"
int = "int32"
bool = "bool"
