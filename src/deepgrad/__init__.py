"""deepgrad: a deep learning framework from first principles on NumPy.

import deepgrad as dg
x = dg.tensor([1.0, 2.0], requires_grad=True)
(x ** 2).sum().backward()      # x.grad == [2, 4]
dg.grad(dg.grad(dg.sin))(x[0])  # -sin(1)
"""

from __future__ import annotations

from . import (
    data,
    distributions,
    models,
    nn,
    ops,  # registers every primitive and the Tensor operators
    optim,
    train,
)
from .core import *
from .core import autodiff as autograd
from .core import func
from .ops import *

__version__ = "0.1.0"
float32 = "float32"
float64 = "float64"
int64 = "int64"
int32 = "int32"
