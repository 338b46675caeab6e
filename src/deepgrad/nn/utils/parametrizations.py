"""`nn.utils.parametrizations`: weight_norm and spectral_norm as parametrizations.

weight_norm (Salimans & Kingma 2016): $w = g \\, v / \\|v\\|$, the norm over every axis
but `dim`; g is `parametrizations.weight.original0`, v is `original1` (PyTorch's names).

spectral_norm (Miyato et al. 2018): $w = W / \\sigma(W)$, sigma estimated by power
iteration on W reshaped to a matrix (rows along `dim`); each training-mode access
runs `n_power_iterations` more steps, updating the buffers `_u` and `_v`.
"""

from __future__ import annotations

import numpy as np

from ...core.random import _gen
from ...core.tensor import Tensor
from ...ops import elementwise as E
from ...ops.reduce import norm as _norm
from ...ops.reduce import sum as _sum
from ...ops.shape import permute, reshape
from ..module import Module
from .parametrize import register_parametrization, remove_parametrizations

__all__ = ["remove_spectral_norm", "remove_weight_norm", "spectral_norm", "weight_norm"]


def _norm_except_dim(v: Tensor, dim: int | None) -> Tensor:
    if dim is None:
        return _norm(v, 2)
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return _norm(v, 2, axis=axes, keepdims=True) if axes else E.abs(v)


class _WeightNorm(Module):
    """$w = g \\, v / \\|v\\|$ (norm over all axes but `dim`)."""

    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return E.mul(weight_v, E.div(weight_g, _norm_except_dim(weight_v, self.dim)))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Reparametrize `module.<name>` as $g \\, v / \\|v\\|$ (Salimans & Kingma 2016)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight_norm: {type(module).__name__} has no tensor {name!r}")
    if dim == -1:  # PyTorch: -1 means the norm over the whole tensor
        dim = None
    elif dim is not None:
        dim = dim % weight.ndim
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    return x / max(float(np.linalg.norm(x)), eps)


class _SpectralNorm(Module):
    """$w = W / \\sigma(W)$ with sigma from power iteration (Miyato et al. 2018)."""

    def __init__(
        self, weight: Tensor, n_power_iterations: int, dim: int, eps: float, generator
    ) -> None:
        super().__init__()
        if n_power_iterations <= 0:
            raise ValueError(
                f"spectral_norm: n_power_iterations must be positive, got {n_power_iterations}"
            )
        ndim = weight.ndim
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if ndim > 1:
            mat = self._matrix(weight)._data
            rng = _gen(generator)
            u = _normalize(rng.normal(size=mat.shape[0]).astype(mat.dtype), eps)
            v = _normalize(rng.normal(size=mat.shape[1]).astype(mat.dtype), eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(mat, 15)

    def _matrix(self, weight: Tensor) -> Tensor:
        if self.dim != 0:
            order = [self.dim] + [i for i in range(weight.ndim) if i != self.dim]
            weight = permute(weight, *order)
        return reshape(weight, (weight.shape[0], -1))

    def _power_method(self, mat: np.ndarray, n: int) -> None:
        u, v = self._u._data, self._v._data
        for _ in range(n):
            u[...] = _normalize(mat @ v, self.eps)
            v[...] = _normalize(mat.T @ u, self.eps)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            return E.div(weight, E.clip(_norm(weight, 2), min=self.eps))
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat._data, self.n_power_iterations)
        u, v = Tensor(self._u._data.copy()), Tensor(self._v._data.copy())
        sigma = _sum(E.mul(u, _sum(E.mul(mat, v), axis=1)))
        return E.div(weight, sigma)

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
    generator: np.random.Generator | None = None,
) -> Module:
    """Reparametrize `module.<name>` as $W / \\sigma(W)$ (Miyato et al. 2018); `dim` defaults
    to 1 for transposed convolutions, else 0.  `generator=` seeds u and v (deepgrad)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise TypeError(f"spectral_norm: {type(module).__name__} has no tensor {name!r}")
    if dim is None:
        dim = 1 if "ConvTranspose" in type(module).__name__ else 0
    sn = _SpectralNorm(weight, n_power_iterations, dim, eps, generator)
    register_parametrization(module, name, sn)
    return module


def remove_weight_norm(module: Module, name: str = "weight") -> Module:
    """Undo `weight_norm`: `module.<name>` becomes a plain Parameter holding g v / ||v||."""
    return remove_parametrizations(module, name)


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo `spectral_norm`: `module.<name>` becomes a plain Parameter holding W / sigma."""
    return remove_parametrizations(module, name)
