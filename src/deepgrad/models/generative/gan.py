"""GANs (Goodfellow et al. 2014): losses, MLP and DCGAN networks, conditioning, and a trainer.

The discriminator D maximises $\\mathbb E \\log D(x) + \\mathbb E \\log(1 - D(G(z)))$; the
generator either minimises $\\mathbb E\\log(1 - D(G(z)))$ ("minimax", the original game,
whose gradient vanishes when D wins) or maximises $\\mathbb E \\log D(G(z))$
("non-saturating", the paper's recommended variant).  Networks output logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import nn
from ...core.tensor import Tensor
from ...nn.functional import binary_cross_entropy_with_logits as bce
from ...ops.index import one_hot
from ...ops.nnops import softplus_unit
from ...ops.shape import broadcast_to, cat, reshape
from ._layers import check_labels, mlp, with_labels
from .spectral import SpectralNorm

__all__ = [
    "DCGANDiscriminator", "DCGANGenerator", "GANTrainer", "MLPDiscriminator", "MLPGenerator",
    "discriminator_loss", "generator_loss",
]  # fmt: skip

GAN_LOSSES = ("non-saturating", "minimax")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, label_smoothing: float = 0.0):
    """$-\\mathbb E[(1-s)\\log D(x) + s \\log(1 - D(x))] - \\mathbb E\\log(1 - D(G(z)))$, with
    one-sided label smoothing s (Salimans et al. 2016): real targets $1 - s$."""
    if not 0 <= label_smoothing < 0.5:
        raise ValueError(
            f"discriminator_loss: label_smoothing must be in [0, 0.5), got {label_smoothing}"
        )
    real_t = np.full(real_logits.shape, 1 - label_smoothing, real_logits.dtype)
    fake_t = np.zeros(fake_logits.shape, fake_logits.dtype)
    return bce(real_logits, Tensor(real_t)) + bce(fake_logits, Tensor(fake_t))


def generator_loss(fake_logits: Tensor, kind: str = "non-saturating") -> Tensor:
    """Non-saturating $-\\mathbb E \\log D(G(z)) = \\mathbb E\\,\\mathrm{softplus}(-\\ell)$, or minimax
    $\\mathbb E \\log(1 - D(G(z))) = -\\mathbb E\\,\\mathrm{softplus}(\\ell)$ ($\\ell$ = D's logit)."""
    if kind not in GAN_LOSSES:
        raise ValueError(f"generator_loss: kind must be one of {GAN_LOSSES}, got {kind!r}")
    if kind == "non-saturating":
        return softplus_unit(-fake_logits).mean()
    return -softplus_unit(fake_logits).mean()


class MLPGenerator(nn.Module):
    """$G(z[, y])$: MLP `latent_dim (+classes) -> hidden... -> out_dim`, optional tanh output."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: tuple[int, ...] = (128, 128),
                 num_classes: int = 0, tanh: bool = False,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.latent_dim, self.num_classes = latent_dim, num_classes
        sizes = [latent_dim + num_classes, *hidden, out_dim]
        self.net = mlp(sizes, "relu", "tanh" if tanh else None, generator)

    def forward(self, z: Tensor, y: Any = None) -> Tensor:
        return self.net(with_labels(z, y, self.num_classes))


class MLPDiscriminator(nn.Module):
    r"""$D(x[, y]) = w^T \phi(x) + b\,[+\, e_y^T \phi(x)]$: an MLP body $\phi$ with LeakyReLU(0.2),
    one logit per example, shape (N,).  A class enters through the projection of Miyato &
    Koyama (2018) (a learned class embedding $e_y$ dotted with the features), which makes
    D use the label from the start, unlike a one-hot appended to 784 pixels."""

    def __init__(self, in_dim: int, hidden: tuple[int, ...] = (128, 128), num_classes: int = 0,
                 spectral_norm: bool = False,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.in_dim, self.num_classes = in_dim, num_classes
        net = mlp([in_dim, *hidden, 1], "leaky_relu", None, generator)
        if spectral_norm:
            net = nn.Sequential(*[SpectralNorm(m) if isinstance(m, nn.Linear) else m for m in net])
        self.body = nn.Sequential(*list(net)[:-1])  # ends with its LeakyReLU
        self.head = list(net)[-1]
        if num_classes:
            self.embed = nn.Embedding(num_classes, hidden[-1])
            init_scale = 1 / np.sqrt(hidden[-1])
            rng = generator if generator is not None else np.random.default_rng(0)
            self.embed.weight._data[...] = rng.uniform(-init_scale, init_scale,
                                                      self.embed.weight.shape)  # fmt: skip

    def forward(self, x: Tensor, y: Any = None) -> Tensor:
        n = x.shape[0]
        h = self.body(reshape(x, (n, -1)))
        logit = reshape(self.head(h), (n,))
        if not self.num_classes:
            return logit
        y = check_labels(y, n, self.num_classes)
        return logit + (self.embed(y) * h).sum(axis=1)


class DCGANGenerator(nn.Module):
    """DCGAN generator (Radford et al. 2016) for 28x28: z -> Linear -> (2w, 7, 7) -> [BN] ReLU ->
    ConvT 4/2 -> (w, 14, 14) -> [BN] ReLU -> ConvT 4/2 -> (C, 28, 28) -> tanh."""

    def __init__(self, latent_dim: int = 64, width: int = 32, channels: int = 1,
                 num_classes: int = 0, batch_norm: bool = True,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.latent_dim, self.num_classes, g, w = latent_dim, num_classes, generator, width

        def norm(c: int, d: int) -> nn.Module:
            if not batch_norm:
                return nn.Identity()
            return nn.BatchNorm1d(c) if d == 1 else nn.BatchNorm2d(c)

        self.net = nn.Sequential(
            nn.Linear(latent_dim + num_classes, 2 * w * 49, generator=g), norm(2 * w * 49, 1),
            nn.ReLU(), nn.Unflatten(1, (2 * w, 7, 7)),
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, generator=g), norm(w, 2),
            nn.ReLU(), nn.ConvTranspose2d(w, channels, 4, stride=2, padding=1, generator=g),
            nn.Tanh(),
        )  # fmt: skip

    def forward(self, z: Tensor, y: Any = None) -> Tensor:
        return self.net(with_labels(z, y, self.num_classes))


class DCGANDiscriminator(nn.Module):
    """DCGAN discriminator for 28x28: Conv 4/2 -> LeakyReLU -> Conv 4/2 -> [BN] LeakyReLU ->
    Linear -> one logit.  A class is fed as constant one-hot planes appended to the image;
    `spectral_norm=True` wraps every conv/linear in `SpectralNorm` (and drops BN)."""

    def __init__(self, width: int = 32, channels: int = 1, num_classes: int = 0,
                 batch_norm: bool = True, spectral_norm: bool = False,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.num_classes, g, w = num_classes, generator, width
        sn = SpectralNorm if spectral_norm else (lambda m: m)
        bn = nn.BatchNorm2d(2 * w) if batch_norm and not spectral_norm else nn.Identity()
        self.net = nn.Sequential(
            sn(nn.Conv2d(channels + num_classes, w, 4, stride=2, padding=1, generator=g)),
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, generator=g)), bn, nn.LeakyReLU(0.2),
            nn.Flatten(), sn(nn.Linear(2 * w * 49, 1, generator=g)),
        )  # fmt: skip

    def forward(self, x: Tensor, y: Any = None) -> Tensor:
        if self.num_classes:
            if y is None:
                raise ValueError(
                    f"DCGANDiscriminator: labels are required (num_classes={self.num_classes})"
                )
            planes = one_hot(np.asarray(y, dtype=np.int64), self.num_classes, dtype=x.dtype)
            planes = broadcast_to(reshape(planes, planes.shape + (1, 1)),
                                  (x.shape[0], self.num_classes) + x.shape[2:])  # fmt: skip
            x = cat([x, planes], axis=1)
        return reshape(self.net(x), (x.shape[0],))


class GANTrainer:
    """Alternates `d_steps` discriminator updates and one generator update per `step(real)`.

    `loss` is 'non-saturating' (default) or 'minimax'; `label_smoothing` softens D's real
    targets; for a conditional GAN (`num_classes > 0`) pass the real labels and fakes are
    drawn for random classes.  All noise comes from `generator`.
    """

    def __init__(self, g: nn.Module, d: nn.Module, g_optimizer: Any, d_optimizer: Any,
                 latent_dim: int, generator: np.random.Generator, loss: str = "non-saturating",
                 label_smoothing: float = 0.0, d_steps: int = 1,
                 num_classes: int = 0) -> None:  # fmt: skip
        if loss not in GAN_LOSSES:
            raise ValueError(f"GANTrainer: loss must be one of {GAN_LOSSES}, got {loss!r}")
        if d_steps < 1:
            raise ValueError(f"GANTrainer: d_steps must be >= 1, got {d_steps}")
        self.g, self.d, self.g_opt, self.d_opt = g, d, g_optimizer, d_optimizer
        self.latent_dim, self.rng, self.loss = latent_dim, generator, loss
        self.label_smoothing, self.d_steps, self.num_classes = label_smoothing, d_steps, num_classes

    def noise(self, n: int, dtype: Any = np.float32) -> tuple[Tensor, np.ndarray | None]:
        """z ~ N(0, I) of (n, latent_dim), and random class labels when conditional."""
        z = Tensor(self.rng.standard_normal((n, self.latent_dim)).astype(dtype))
        y = self.rng.integers(0, self.num_classes, n) if self.num_classes else None
        return z, y

    def step(self, real: Any, labels: Any = None) -> dict[str, float]:
        """One round; returns the losses and D's mean probabilities on real and fake."""
        real = real if isinstance(real, Tensor) else Tensor(real)
        n = real.shape[0]
        for _ in range(self.d_steps):
            z, y = self.noise(n, real.dtype)
            fake = self.g(z, y).detach()
            real_logits, fake_logits = self.d(real, labels), self.d(fake, y)
            d_loss = discriminator_loss(real_logits, fake_logits, self.label_smoothing)
            self.d_opt.zero_grad()
            d_loss.backward()
            self.d_opt.step()
        z, y = self.noise(n, real.dtype)
        fake_logits = self.d(self.g(z, y), y)
        g_loss = generator_loss(fake_logits, self.loss)
        self.g_opt.zero_grad()
        self.d_opt.zero_grad()
        g_loss.backward()
        self.g_opt.step()
        sig = lambda t: float(np.mean(1 / (1 + np.exp(-t._data))))
        return {"d_loss": float(d_loss), "g_loss": float(g_loss),
                "d_real": sig(real_logits), "d_fake": sig(fake_logits)}  # fmt: skip
