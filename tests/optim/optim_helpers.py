"""Helpers shared by the optimizer tests (imported by name: keep the module name unique)."""

from __future__ import annotations

import numpy as np

import deepgrad as dg


def param(values, dtype=np.float64) -> dg.Tensor:
    """A leaf parameter holding a copy of `values`."""
    return dg.Tensor(np.array(values, dtype=dtype), requires_grad=True)


def set_grad(p: dg.Tensor, g) -> None:
    p.grad = dg.Tensor(np.array(g, dtype=p.data.dtype))


def rosenbrock(x: dg.Tensor) -> dg.Tensor:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1)."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
