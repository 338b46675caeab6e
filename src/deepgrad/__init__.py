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
from .func import fixed_point, implicit_root
from .io import load_torch_state_dict, save_torch_state_dict
from .ops import *
from .utils.checkpoint import checkpoint

__version__ = "0.1.0"
float32 = "float32"
float64 = "float64"
int64 = "int64"
int32 = "int32"

# Issue 13: dg.linalg and its pre-linalg names (torch.inverse, ...), dg.save/dg.load, dg.utils.data.
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
from .serialization import load, save
