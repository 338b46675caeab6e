"""Autoencoders: undercomplete, sparse, denoising and convolutional; greedy layer-wise pretraining.

An autoencoder learns $g(f(x)) \\approx x$ through a bottleneck code $h = f(x)$ (Goodfellow
et al. 2016, ch. 14).  Sparse ones add $\\Omega(h)$ to the loss (L1, or Ng's KL penalty
pulling each unit's mean activation to $\\rho$); denoising ones reconstruct x from a
corrupted $\\tilde x$ (Vincent et al. 2008).  Greedy layer-wise pretraining (Bengio et al.
2007) trains each layer as a shallow autoencoder of the previous layer's codes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ... import nn, optim
from ...core.state import no_grad
from ...core.tensor import Tensor
from ...ops.elementwise import clip, log
from ._layers import minibatches, mlp

__all__ = [
    "Autoencoder", "ConvAutoencoder", "gaussian_noise", "greedy_layerwise_pretrain",
    "kl_sparsity_penalty", "l1_code_penalty", "masking_noise", "reconstruction_loss",
    "train_autoencoder",
]  # fmt: skip


class Autoencoder(nn.Module):
    """$\\hat x = g(f(x))$ with MLPs f: `sizes` and g: `reversed(sizes)`; undercomplete when
    `sizes[-1] < sizes[0]`.  The decoder returns logits (pair with `reconstruction_loss`'s
    'bce' for pixels in [0, 1]) unless `output='linear'`-style use with 'mse'.
    `code_activation='sigmoid'` keeps codes in (0, 1), as the KL sparsity penalty needs."""

    def __init__(
        self,
        sizes: Sequence[int] = (784, 256, 32),
        activation: str = "relu",
        code_activation: str | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.sizes = list(sizes)
        self.encoder = mlp(self.sizes, activation, code_activation, generator)
        self.decoder = mlp(self.sizes[::-1], activation, None, generator)

    def encode(self, x: Tensor) -> Tensor:
        """The code $h = f(x)$."""
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        """The reconstruction (logits) $g(h)$."""
        return self.decoder(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder for (N, C, 28, 28): two stride-2 convs (28 -> 14 -> 7), a
    linear code, and the mirror image with transposed convolutions (logits out)."""

    def __init__(
        self, in_channels: int = 1, width: int = 16, code_dim: int = 32,
        generator: np.random.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        g, w = generator, width
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, stride=2, padding=1, generator=g), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, generator=g), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * w * 49, code_dim, generator=g),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.Linear(code_dim, 2 * w * 49, generator=g), nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, generator=g), nn.ReLU(),
            nn.ConvTranspose2d(w, in_channels, 4, stride=2, padding=1, generator=g),
        )  # fmt: skip

    def encode(self, x: Tensor) -> Tensor:
        """The code (N, code_dim)."""
        return self.encoder(x)

    def decode(self, h: Tensor) -> Tensor:
        """Logits (N, C, 28, 28)."""
        return self.decoder(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))


def reconstruction_loss(output: Tensor, target: Any, kind: str = "bce") -> Tensor:
    """Per-example summed loss, averaged over the batch: BCE with logits (pixels in [0, 1]) or
    squared error: $\\frac1N\\sum_n \\sum_i \\ell(\\hat x_{ni}, x_{ni})$."""
    if kind not in ("bce", "mse"):
        raise ValueError(f"reconstruction_loss: kind must be 'bce' or 'mse', got {kind!r}")
    if kind == "bce":
        per = nn.functional.binary_cross_entropy_with_logits(output, target, reduction="sum")
    else:
        per = nn.functional.mse_loss(output, target, reduction="sum")
    return per / output.shape[0]


def l1_code_penalty(code: Tensor, weight: float) -> Tensor:
    """$\\lambda \\frac1N \\sum_n \\|h_n\\|_1$: drives most code units to zero."""
    return weight * abs(code).sum() / code.shape[0]


def kl_sparsity_penalty(code: Tensor, rho: float = 0.05, weight: float = 1.0) -> Tensor:
    """$\\beta \\sum_j KL(\\rho \\| \\hat\\rho_j)$, $\\hat\\rho_j$ the batch-mean activation of unit j
    (codes in (0, 1), e.g. sigmoid): Ng's sparse autoencoder penalty."""
    if not 0 < rho < 1:
        raise ValueError(f"kl_sparsity_penalty: rho must be in (0, 1), got {rho}")
    rho_hat = clip(code.mean(axis=0), 1e-6, 1 - 1e-6)
    kl = rho * log(rho / rho_hat) + (1 - rho) * log((1 - rho) / (1 - rho_hat))
    return weight * kl.sum()


def gaussian_noise(x: Tensor, std: float, generator: np.random.Generator) -> Tensor:
    """$\\tilde x = x + \\sigma \\epsilon$, $\\epsilon \\sim \\mathcal N(0, I)$ (additive noise)."""
    return Tensor(x._data + std * generator.standard_normal(x.shape).astype(x.dtype))


def masking_noise(x: Tensor, p: float, generator: np.random.Generator) -> Tensor:
    """$\\tilde x_i = x_i m_i$, $m_i \\sim$ Bernoulli(1 - p): a fraction p of inputs set to 0."""
    if not 0 <= p < 1:
        raise ValueError(f"masking_noise: p must be in [0, 1), got {p}")
    return Tensor(x._data * (generator.random(x.shape) >= p).astype(x.dtype))


def train_autoencoder(
    model: nn.Module, X: np.ndarray, epochs: int, generator: np.random.Generator,
    lr: float = 1e-3, batch_size: int = 128, loss: str = "bce",
    corrupt: Callable[[Tensor, np.random.Generator], Tensor] | None = None,
    penalty: Callable[[Tensor], Tensor] | None = None,
) -> list[float]:  # fmt: skip
    """Adam on `reconstruction_loss(model(corrupt(x)), x) + penalty(code)`; mean loss per epoch.

    `corrupt` makes it a denoising autoencoder; `penalty` (on `model.encode(x)`) a sparse one.
    """
    opt = optim.Adam(model.parameters(), lr=lr)
    history = []
    for _ in range(epochs):
        total = 0.0
        for idx in minibatches(len(X), batch_size, generator):
            x = Tensor(X[idx])
            inp = corrupt(x, generator) if corrupt is not None else x
            code = model.encode(inp)
            loss_value = reconstruction_loss(model.decode(code), x, loss)
            if penalty is not None:
                loss_value = loss_value + penalty(code)
            opt.zero_grad()
            loss_value.backward()
            opt.step()
            total += float(loss_value) * len(idx)
        history.append(total / len(X))
    return history


def greedy_layerwise_pretrain(
    sizes: Sequence[int], X: np.ndarray, epochs: int, generator: np.random.Generator,
    lr: float = 1e-3, batch_size: int = 128,
    corrupt: Callable[[Tensor, np.random.Generator], Tensor] | None = None,
) -> list[nn.Linear]:  # fmt: skip
    """Train `sizes[0] -> sizes[1]`, then `sizes[1] -> sizes[2]`, ... each as a one-hidden-layer
    (optionally denoising) autoencoder with sigmoid codes on the previous layer's codes
    (Bengio et al. 2007); the trained encoder layers, to stack under a classifier head."""
    layers, inputs = [], np.asarray(X)
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        ae = Autoencoder((a, b), code_activation="sigmoid", generator=generator)
        kind = "bce" if i > 0 or (inputs.min() >= 0 and inputs.max() <= 1) else "mse"
        train_autoencoder(ae, inputs, epochs, generator, lr, batch_size, kind, corrupt)
        layers.append(ae.encoder[0])
        with no_grad():
            inputs = ae.encode(Tensor(inputs))._data
    return layers
