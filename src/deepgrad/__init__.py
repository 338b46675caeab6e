"""deepgrad: a deep learning framework from first principles on NumPy.

import deepgrad as dg
x = dg.tensor([1.0, 2.0], requires_grad=True)
(x ** 2).sum().backward()      # x.grad == [2, 4]
dg.grad(dg.grad(dg.sin))(x[0])  # -sin(1)
"""

from __future__ import annotations

from . import (
    data,
    models,
    nn,
    ops,  # registers every primitive and the Tensor operators
    optim,
    train,
)
from .core import *
from .core import autodiff as autograd
from .core import func

# PyTorch's surface (issue 13 part A): devices, dtype aliases, factories, functions.
from .core.device import cuda, device
from .core.random import initial_seed, seed
from .core.state import inference_mode
from .ops import *
from .ops.devices import backends
from .ops.factories import *
from .ops.setitem import index_put
from .ops.sorting import *
from .ops.torch_elementwise import *
from .ops.torch_functions import *
from .ops.torch_shape import *

__version__ = "0.1.0"
float32 = "float32"
float64 = "float64"
int64 = "int64"
int32 = "int32"
# PyTorch's constants and dtype information
from numpy import e, finfo, iinfo, inf, nan, pi

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
