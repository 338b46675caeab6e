"""CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B.

Two generators $G: A \\to B$, $F: B \\to A$ and two discriminators $D_A$, $D_B$ (PatchGAN)
trained with the least-squares GAN loss (as the paper), plus cycle consistency
$\\lambda_c(\\|F(G(a)) - a\\|_1 + \\|G(F(b)) - b\\|_1)$ and identity $\\lambda_i(\\|G(b) - b\\|_1 +
\\|F(a) - a\\|_1)$ terms.  Sized for 28x28 one-channel images.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import nn, optim
from ...core.tensor import Tensor

__all__ = ["CycleGAN", "CycleGenerator", "PatchDiscriminator"]


class CycleGenerator(nn.Module):
    """Image-to-image net: conv 3x3 -> IN ReLU -> conv 3x3/2 -> IN ReLU -> residual block ->
    ConvT 4/2 -> IN ReLU -> conv 3x3 -> tanh; same size in and out."""

    def __init__(self, channels: int = 1, width: int = 16,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        g, w = generator, width
        self.down = nn.Sequential(
            nn.Conv2d(channels, w, 3, padding=1, generator=g), nn.InstanceNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, generator=g), nn.InstanceNorm2d(2 * w),
            nn.ReLU(),
        )  # fmt: skip
        self.res = nn.Sequential(
            nn.Conv2d(2 * w, 2 * w, 3, padding=1, generator=g), nn.InstanceNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1, generator=g), nn.InstanceNorm2d(2 * w),
        )  # fmt: skip
        self.up = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, generator=g),
            nn.InstanceNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, channels, 3, padding=1, generator=g), nn.Tanh(),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        h = self.down(x)
        return self.up(h + self.res(h))


class PatchDiscriminator(nn.Module):
    """PatchGAN (Isola et al. 2017): a logit per overlapping patch, (N, 1, 7, 7) for 28x28."""

    def __init__(self, channels: int = 1, width: int = 16,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        g, w = generator, width
        self.net = nn.Sequential(
            nn.Conv2d(channels, w, 4, stride=2, padding=1, generator=g), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, generator=g), nn.InstanceNorm2d(2 * w),
            nn.LeakyReLU(0.2), nn.Conv2d(2 * w, 1, 3, padding=1, generator=g),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _ls(pred: Tensor, target: float) -> Tensor:
    """Least-squares GAN loss $\\mathbb E (D(\\cdot) - t)^2$ (Mao et al. 2017)."""
    return ((pred - target) ** 2).mean()


class CycleGAN:
    """Holds G (A -> B), F (B -> A), D_A, D_B and their Adam optimisers; `step(a, b)` does one
    generator update on the full objective, then one update of each discriminator."""

    def __init__(self, width: int = 16, lr: float = 2e-4, lambda_cycle: float = 10.0,
                 lambda_identity: float = 5.0, channels: int = 1,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        if lambda_cycle < 0 or lambda_identity < 0:
            raise ValueError(f"CycleGAN: loss weights must be >= 0, got {lambda_cycle}, "
                             f"{lambda_identity}")  # fmt: skip
        g = generator
        self.G, self.F = CycleGenerator(channels, width, g), CycleGenerator(channels, width, g)
        self.D_A, self.D_B = (
            PatchDiscriminator(channels, width, g),
            PatchDiscriminator(channels, width, g),
        )
        gen_params = list(self.G.parameters()) + list(self.F.parameters())
        dis_params = list(self.D_A.parameters()) + list(self.D_B.parameters())
        self.g_opt = optim.Adam(gen_params, lr=lr, betas=(0.5, 0.999))
        self.d_opt = optim.Adam(dis_params, lr=lr, betas=(0.5, 0.999))
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity

    def cycle_loss(self, a: Any, b: Any) -> Tensor:
        """$\\|F(G(a)) - a\\|_1 + \\|G(F(b)) - b\\|_1$ (mean absolute error per pixel)."""
        a, b = (
            Tensor(a) if not isinstance(a, Tensor) else a,
            Tensor(b) if not isinstance(b, Tensor) else b,
        )
        return abs(self.F(self.G(a)) - a).mean() + abs(self.G(self.F(b)) - b).mean()

    def step(self, a: Any, b: Any) -> dict[str, float]:
        """One update of G and F, then of D_A and D_B; the loss terms."""
        a, b = Tensor(np.asarray(a)), Tensor(np.asarray(b))
        fake_b, fake_a = self.G(a), self.F(b)
        adv = _ls(self.D_B(fake_b), 1.0) + _ls(self.D_A(fake_a), 1.0)
        cyc = abs(self.F(fake_b) - a).mean() + abs(self.G(fake_a) - b).mean()
        idt = abs(self.G(b) - b).mean() + abs(self.F(a) - a).mean()
        g_loss = adv + self.lambda_cycle * cyc + self.lambda_identity * idt
        self.g_opt.zero_grad()
        g_loss.backward()
        self.g_opt.step()
        fb, fa = fake_b.detach(), fake_a.detach()
        d_loss = 0.5 * (_ls(self.D_B(b), 1.0) + _ls(self.D_B(fb), 0.0)
                        + _ls(self.D_A(a), 1.0) + _ls(self.D_A(fa), 0.0))  # fmt: skip
        self.d_opt.zero_grad()
        d_loss.backward()
        self.d_opt.step()
        return {"g_adv": float(adv), "cycle": float(cyc), "identity": float(idt),
                "d_loss": float(d_loss)}  # fmt: skip

    def modules(self) -> dict[str, nn.Module]:
        """The four networks by name (for saving)."""
        return {"G": self.G, "F": self.F, "D_A": self.D_A, "D_B": self.D_B}
