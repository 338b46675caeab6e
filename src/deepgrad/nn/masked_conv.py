"""Autoregressive convolutions: PixelCNN's masked 2-d convolution and WaveNet's causal 1-d one.

Both make output position i depend only on inputs that come before i in a fixed
order (raster order for images, time for signals), so a stack of them models
$p(x) = \\prod_i p(x_i \\mid x_{<i})$ and trains on all positions at once.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from . import conv_functional as F
from .conv import Conv1d, Conv2d
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["DilatedCausalConv1d", "MaskedConv2d", "pixelcnn_mask"]


def pixelcnn_mask(mask_type: str, kernel_size: tuple[int, int]) -> np.ndarray:
    """The (kH, kW) 0/1 mask of van den Oord et al. (2016): rows above the centre, and the
    centre row left of the centre; type 'B' also keeps the centre itself.

    >>> pixelcnn_mask("A", (3, 3)).astype(int).tolist()
    [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"MaskedConv2d: mask_type must be 'A' or 'B', got {mask_type!r}")
    kh, kw = kernel_size
    mask = np.zeros((kh, kw))
    mask[: kh // 2] = 1
    mask[kh // 2, : kw // 2 + (mask_type == "B")] = 1
    return mask


@layer_cases(
    LayerCase(lambda: MaskedConv2d("A", 2, 3, 3, padding=1), [(1, 2, 4, 4)]),
    LayerCase(lambda: MaskedConv2d("B", 1, 2, 5, padding=2, bias=False), [(2, 1, 5, 5)]),
)
@layer_errors(
    ErrorCase(lambda: MaskedConv2d("C", 1, 1, 3), ValueError, r"mask_type must be 'A' or 'B'"),
    ErrorCase(lambda: MaskedConv2d("A", 1, 1, 2), ValueError, r"odd kernel_size, got \(2, 2\)"),
    ErrorCase(
        lambda: MaskedConv2d("B", 2, 1, 3, padding=1)(Tensor(np.ones((1, 3, 4, 4)))),
        ValueError,
        r"MaskedConv2d 2 -> 1, 3x3 \(mask B\) expects input \(N, 2, H, W\)",
    ),
)
class MaskedConv2d(Conv2d):
    """PixelCNN's masked convolution (van den Oord et al. 2016): $y = b + (w \\odot M) \\star x$
    with M from `pixelcnn_mask`, so output pixel (i, j) sees only pixels before it in raster
    order.  Mask 'A' (first layer) also hides (i, j) itself; 'B' (later layers) keeps it.

    The mask covers space only, the same for every channel pair: exact for one-channel
    images; colour images would also need the R -> G -> B channel masks of the paper.
    Takes `mask_type` first, then Conv2d's arguments (kernel sizes must be odd).
    """

    def __init__(self, mask_type: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"MaskedConv2d: needs an odd kernel_size, got {self.kernel_size}")
        self.mask_type = mask_type
        mask = pixelcnn_mask(mask_type, self.kernel_size).astype(self.weight.dtype)
        self.register_buffer("mask", Tensor(mask), persistent=False)

    def _short_repr(self) -> str:
        return f"{super()._short_repr()} (mask {self.mask_type})"

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        weight = self.weight * self.mask
        return F._convnd(2, x, weight, self.bias, self.stride, self._pairs, self.dilation,
                         self.groups)  # fmt: skip


@layer_cases(
    LayerCase(lambda: DilatedCausalConv1d(2, 3, 2, dilation=2), [(2, 2, 6)]),
    LayerCase(lambda: DilatedCausalConv1d(1, 2, 3, bias=False), [(1, 5)]),
)
@layer_errors(
    ErrorCase(lambda: DilatedCausalConv1d(1, 1, 2, stride=2), ValueError, r"stride 1, got 2"),
    ErrorCase(
        lambda: DilatedCausalConv1d(2, 1, 2)(Tensor(np.ones((1, 3, 4)))),
        ValueError,
        r"DilatedCausalConv1d 2 -> 1, 2 expects input \(N, 2, L\)",
    ),
)
class DilatedCausalConv1d(Conv1d):
    """WaveNet's causal dilated convolution (van den Oord et al. 2016):
    $y[t] = b + \\sum_k w[k]\\, x[t - d (K - 1 - k)]$, zero-padded on the left only, so the
    output keeps the length and y[t] sees x[t' <= t] only.  A stack with dilations 1, 2,
    4, ... has a receptive field of $1 + (K-1)\\sum_l d_l$ samples.

    (Issue 14 adds a `CausalConv1d` with the same semantics; this one lives here so the
    generative models do not depend on it.)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 dilation: int = 1, bias: bool = True, dtype=None,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        if stride != 1:
            raise ValueError(f"DilatedCausalConv1d: needs stride 1, got {stride}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, bias=bias,
                         dtype=dtype, generator=generator)  # fmt: skip
        self._pairs = ((self.dilation[0] * (self.kernel_size[0] - 1), 0),)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return F._convnd(1, x, self.weight, self.bias, self.stride, self._pairs, self.dilation,
                         self.groups)  # fmt: skip
