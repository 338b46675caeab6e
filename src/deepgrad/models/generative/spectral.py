"""Spectral normalisation of a layer's weight (Miyato et al. 2018), for GAN discriminators.

(Another engineer may add `nn.utils.spectral_norm`; this wrapper keeps the GANs independent.)
"""

from __future__ import annotations

import numpy as np

from ... import nn
from ...core.tensor import Tensor
from ...nn.utils.stateless import functional_call
from ...ops.shape import reshape

__all__ = ["SpectralNorm"]


class SpectralNorm(nn.Module):
    """Runs `module` with $W / \\sigma(W)$, $\\sigma$ the largest singular value of W (as a
    (out, -1) matrix), estimated by `n_power_iterations` power-iteration steps per training
    forward on a persistent vector u: $v = W^T u / \\|W^T u\\|$, $u = W v / \\|W v\\|$,
    $\\sigma = u^T W v$ (u, v held constant in the gradient, as PyTorch)."""

    def __init__(
        self, module: nn.Module, n_power_iterations: int = 1, eps: float = 1e-12,
        generator: np.random.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter) or weight.ndim < 2:
            raise ValueError(
                f"SpectralNorm: module must have a weight Parameter of >= 2 dims, got "
                f"{type(module).__name__}"
            )
        if n_power_iterations < 1:
            raise ValueError(
                f"SpectralNorm: n_power_iterations must be >= 1, got {n_power_iterations}"
            )
        self.module, self.n_power_iterations, self.eps = module, n_power_iterations, eps
        rng = generator if generator is not None else np.random.default_rng(0)
        u = rng.standard_normal(weight.shape[0]).astype(weight.dtype)
        self.register_buffer("u", Tensor(u / (np.linalg.norm(u) + eps)))

    def _power_iteration(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = self.u._data
        for _ in range(self.n_power_iterations if self.training else 0):
            v = w.T @ u
            v /= np.linalg.norm(v) + self.eps
            u = w @ v
            u /= np.linalg.norm(u) + self.eps
        self.u._data[...] = u
        v = w.T @ u
        return u, v / (np.linalg.norm(v) + self.eps)

    def normalized_weight(self) -> Tensor:
        """$W / \\sigma(W)$ (differentiable in W)."""
        w = self.module.weight
        mat = reshape(w, (w.shape[0], -1))
        u, v = self._power_iteration(mat._data)
        sigma = (Tensor(u[:, None]) * mat * Tensor(v[None, :])).sum()
        return w / sigma

    def forward(self, *args, **kwargs):
        return functional_call(self.module, {"weight": self.normalized_weight()}, args, kwargs)
