"""Autoregressive models: PixelCNN for binary images and a small WaveNet for 1-D signals.

Both factorise $p(x) = \\prod_i p(x_i \\mid x_{<i})$ with convolutions that never look
ahead (`nn.MaskedConv2d`, `nn.DilatedCausalConv1d`), so the training loss over all
positions is one forward pass, while sampling takes one pass per position.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import nn
from ...core.state import no_grad
from ...core.tensor import Tensor
from ...ops.elementwise import sigmoid, tanh
from ...ops.index import one_hot

__all__ = ["PixelCNN", "WaveNet"]


class PixelCNN(nn.Module):
    """PixelCNN (van den Oord et al. 2016) for one-channel binary images: a 7x7 mask-A conv,
    `layers` residual blocks of ReLU + 3x3 mask-B conv, then ReLU + 1x1 conv to one
    Bernoulli logit per pixel: $p(x) = \\prod_{ij} \\mathrm{Bern}(x_{ij}; \\sigma(\\ell_{ij}(x_{<ij})))$."""

    def __init__(self, channels: int = 32, layers: int = 4,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if channels < 1 or layers < 0:
            raise ValueError(f"PixelCNN: channels >= 1 and layers >= 0, got {channels}, {layers}")
        g = generator
        self.input = nn.MaskedConv2d("A", 1, channels, 7, padding=3, generator=g)
        self.blocks = nn.ModuleList([
            nn.MaskedConv2d("B", channels, channels, 3, padding=1, generator=g)
            for _ in range(layers)
        ])  # fmt: skip
        self.output = nn.Conv2d(channels, 1, 1, generator=g)

    @property
    def receptive_rows(self) -> int:
        """How many rows above a pixel its logit can see: 3 (the 7x7 mask A) + 1 per block."""
        return 3 + len(self.blocks)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, 1, H, W) for binary input (N, 1, H, W)."""
        h = self.input(x)
        for block in self.blocks:
            h = h + block(h.relu())
        return self.output(h.relu())

    def nll(self, x: Any) -> Tensor:
        """$-\\log p(x)$ in nats per image, averaged over the batch."""
        x = x if isinstance(x, Tensor) else Tensor(x)
        loss = nn.functional.binary_cross_entropy_with_logits(self(x), x, reduction="sum")
        return loss / x.shape[0]

    def sample(self, n: int, shape: tuple[int, int], generator: np.random.Generator) -> np.ndarray:
        """n binary images drawn pixel by pixel in raster order (H*W forward passes).

        Row i only depends on the `receptive_rows` rows above it, so each pass runs on that
        strip of rows alone (exact: no output it needs sees the strip's top padding).
        """
        h, w = shape
        x = np.zeros((n, 1, h, w), dtype=self.output.weight.dtype)
        with no_grad():
            for i in range(h):
                top = max(0, i - self.receptive_rows)
                for j in range(w):
                    logits = self(Tensor(x[:, :, top : i + 1]))._data[:, 0, -1, j]
                    p = 1 / (1 + np.exp(-logits))
                    x[:, 0, i, j] = generator.random(n) < p
        return x


class WaveNet(nn.Module):
    """A small WaveNet (van den Oord et al. 2016) over signals quantised to `levels` classes:
    one-hot input -> causal conv -> gated residual blocks $\\tanh(W_f * h) \\odot \\sigma(W_g * h)$
    with dilations `dilations` -> ReLU -> 1x1 -> ReLU -> 1x1 logits predicting $x_{t+1}$."""

    def __init__(self, levels: int = 16, channels: int = 16,
                 dilations: tuple[int, ...] = (1, 2, 4, 8),
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        if levels < 2 or channels < 1 or not dilations:
            raise ValueError(f"WaveNet: levels >= 2, channels >= 1 and some dilations, got "
                             f"{levels}, {channels}, {dilations}")  # fmt: skip
        g, c = generator, channels
        self.levels = levels
        self.input = nn.DilatedCausalConv1d(levels, c, 2, generator=g)
        self.filters = nn.ModuleList([nn.DilatedCausalConv1d(c, c, 2, dilation=d, generator=g)
                                      for d in dilations])  # fmt: skip
        self.gates = nn.ModuleList([nn.DilatedCausalConv1d(c, c, 2, dilation=d, generator=g)
                                    for d in dilations])  # fmt: skip
        self.mix = nn.ModuleList([nn.Conv1d(c, c, 1, generator=g) for _ in dilations])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv1d(c, c, 1, generator=g), nn.ReLU(),
                                  nn.Conv1d(c, levels, 1, generator=g))  # fmt: skip

    @property
    def receptive_field(self) -> int:
        """Samples of the past each prediction sees: $2 + \\sum_l d_l$."""
        return 2 + sum(f.dilation[0] for f in self.filters)

    def forward(self, codes: Any) -> Tensor:
        """Logits (N, levels, L): position t predicts the code at t + 1 from codes[:, :t+1]."""
        codes = np.asarray(codes._data if isinstance(codes, Tensor) else codes, dtype=np.int64)
        x = one_hot(codes, self.levels, dtype=self.input.weight.dtype).permute(0, 2, 1)
        h, skip = self.input(x), 0.0
        for f, gate, mix in zip(self.filters, self.gates, self.mix):
            out = mix(tanh(f(h)) * sigmoid(gate(h)))
            h, skip = h + out, skip + out
        return self.head(skip)

    def nll(self, codes: Any) -> Tensor:
        """Mean $-\\log p(x_{t+1} | x_{\\le t})$ over positions (nats per sample)."""
        codes = np.asarray(codes, dtype=np.int64)
        logits = self(codes)[:, :, :-1]
        return nn.functional.cross_entropy(logits, codes[:, 1:])

    def generate(self, prefix: Any, steps: int, generator: np.random.Generator) -> np.ndarray:
        """Extend each row of `prefix` (N, L0) by `steps` codes drawn one at a time."""
        codes = np.asarray(prefix, dtype=np.int64)
        with no_grad():
            for _ in range(steps):
                window = codes[:, -self.receptive_field :]
                logits = self(window)._data[:, :, -1]
                p = np.exp(logits - logits.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                u = generator.random((len(p), 1))
                nxt = np.minimum((u > np.cumsum(p, 1)).sum(1), self.levels - 1)
                codes = np.concatenate([codes, nxt[:, None]], axis=1)
        return codes
