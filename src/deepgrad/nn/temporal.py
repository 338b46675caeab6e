"""Temporal convolutions: `CausalConv1d` and the WaveNet residual block.

A causal convolution pads only on the left, by (kernel_size - 1) * dilation, so the
output at time t sees inputs at times <= t; stacking dilations 1, 2, 4, ... grows
the receptive field exponentially with depth (van den Oord et al. 2016; Bai et al.
2018's TCN).
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.shape import pad
from .conv import Conv1d
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["CausalConv1d", "WaveNetBlock"]


@layer_cases(
    LayerCase(lambda: CausalConv1d(2, 3, 3, dilation=2), [(2, 2, 6)]),
    LayerCase(lambda: CausalConv1d(1, 2, 2, bias=False), [(1, 1, 4)]),
)
@layer_errors(
    ErrorCase(
        lambda: CausalConv1d(2, 3, 3)(Tensor(np.ones((1, 4, 5)))),
        ValueError,
        r"CausalConv1d.*expects",
    )
)
class CausalConv1d(Conv1d):
    """$y[n, o, t] = b_o + \\sum_{c, k} w[o, c, k]\\, x[n, c, t - d (K - 1 - k)]$: a Conv1d
    whose output at time t sees only inputs at times <= t (zeros before the start), and
    whose output has the input's length.  Parameters as `Conv1d` (weight (out, in, K))."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int = 1,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, dilation=dilation, bias=bias, dtype=dtype,
            generator=generator,
        )  # fmt: skip
        self.left = (self.kernel_size[0] - 1) * self.dilation[0]

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        widths = ((0, 0),) * (x.ndim - 1) + ((self.left, 0),)
        return super().forward(pad(x, widths) if self.left else x)


@layer_cases(LayerCase(lambda: WaveNetBlock(2, 3, 2, dilation=2), [(2, 2, 5)]))
@layer_errors(
    ErrorCase(lambda: WaveNetBlock(2, 0, 2), ValueError, r"WaveNetBlock: channels must be positive")
)
class WaveNetBlock(Module):
    """WaveNet's gated residual block (van den Oord et al. 2016):
    $z = \\tanh(W_f * x) \\odot \\sigma(W_g * x)$ (dilated causal convolutions),
    residual $x + W_r z$ and skip $W_s z$ (1x1 convolutions).

    Input (N, channels, L); returns `(residual (N, channels, L), skip (N, skip_channels, L))`.
    """

    def __init__(
        self,
        channels: int,
        skip_channels: int,
        kernel_size: int = 2,
        dilation: int = 1,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if channels < 1 or skip_channels < 1:
            raise ValueError(
                f"WaveNetBlock: channels must be positive, got {channels} and {skip_channels}"
            )
        self.channels = channels
        kw = {"dtype": dtype, "generator": generator}
        self.dilated = CausalConv1d(channels, 2 * channels, kernel_size, dilation, **kw)
        self.residual = Conv1d(channels, channels, 1, **kw)
        self.skip = Conv1d(channels, skip_channels, 1, **kw)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.dilated(x)
        c = self.channels
        filt = getitem(h, (slice(None), slice(0, c)))
        gate = getitem(h, (slice(None), slice(c, 2 * c)))
        z = E.mul(E.tanh(filt), E.sigmoid(gate))
        return E.add(x, self.residual(z)), self.skip(z)
