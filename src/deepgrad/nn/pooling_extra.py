"""Fold/Unfold (col2im/im2col), LPPool1d/2d, AdaptiveMaxPool3d and `F.one_hot`, with
their functional forms (exported from `deepgrad.nn.functional`)."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, as_tensor
from ..ops import elementwise as E
from ..ops.index import getitem, index_add_zeros
from ..ops.index import one_hot as _one_hot
from ..ops.shape import reshape
from . import conv_functional as CF
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = [
    "AdaptiveMaxPool3d", "Fold", "LPPool1d", "LPPool2d", "Unfold", "adaptive_max_pool3d", "fold",
    "lp_pool1d", "lp_pool2d", "one_hot", "unfold",
]  # fmt: skip


def _pair(value, name: str, fn: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v for v in pair):
        raise ValueError(f"{fn}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _patch_index(hp: int, wp: int, k, d, s, fn: str):
    """Row and column indices (k_h k_w, L) of every patch element in a padded (hp, wp) map."""
    oh = (hp - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (wp - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{fn}: kernel {k} with dilation {d} does not fit a padded {hp}x{wp} map")
    ki, kj = np.meshgrid(np.arange(k[0]) * d[0], np.arange(k[1]) * d[1], indexing="ij")
    pi, pj = np.meshgrid(np.arange(oh) * s[0], np.arange(ow) * s[1], indexing="ij")
    rows = ki.reshape(-1, 1) + pi.reshape(1, -1)
    cols = kj.reshape(-1, 1) + pj.reshape(1, -1)
    return rows, cols


def unfold(x: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """im2col: (N, C, H, W) -> (N, C k_h k_w, L), column l holding the l-th sliding patch."""
    x = as_tensor(x)
    if x.ndim != 4:
        raise ValueError(f"unfold: input must be (N, C, H, W), got shape {x.shape}")
    k, d = _pair(kernel_size, "kernel_size", "unfold"), _pair(dilation, "dilation", "unfold")
    p, s = _pair(padding, "padding", "unfold"), _pair(stride, "stride", "unfold")
    xp = CF.pad(x, (p[1], p[1], p[0], p[0])) if any(p) else x
    rows, cols = _patch_index(xp.shape[2], xp.shape[3], k, d, s, "unfold")
    patches = getitem(xp, (slice(None), slice(None), rows, cols))  # (N, C, k_h k_w, L)
    n, c = x.shape[:2]
    return reshape(patches, (n, c * k[0] * k[1], rows.shape[1]))


def fold(x: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """col2im, the adjoint of `unfold`: (N, C k_h k_w, L) -> (N, C, H, W), overlaps summed."""
    x = as_tensor(x)
    size = _pair(output_size, "output_size", "fold")
    k, d = _pair(kernel_size, "kernel_size", "fold"), _pair(dilation, "dilation", "fold")
    p, s = _pair(padding, "padding", "fold"), _pair(stride, "stride", "fold")
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    rows, cols = _patch_index(hp, wp, k, d, s, "fold")
    kk = k[0] * k[1]
    if x.ndim != 3 or x.shape[1] % kk or x.shape[2] != rows.shape[1]:
        raise ValueError(
            f"fold: input must be (N, C * {kk}, {rows.shape[1]}) for kernel {k} and output "
            f"{size}, got shape {x.shape}"
        )
    n, c = x.shape[0], x.shape[1] // kk
    y = reshape(x, (n, c, kk, rows.shape[1]))
    out = index_add_zeros(y, (slice(None), slice(None), rows, cols), (n, c, hp, wp))
    return out[:, :, p[0] : p[0] + size[0], p[1] : p[1] + size[1]]


def _lp_pool(d: int, x, norm_type: float, kernel_size, stride, ceil_mode: bool) -> Tensor:
    """(sum over the window of x^p)^(1/p), as PyTorch: avg_pool(x^p) * window size."""
    ks = (kernel_size,) * d if isinstance(kernel_size, (int, np.integer)) else tuple(kernel_size)
    pool = CF.avg_pool1d if d == 1 else CF.avg_pool2d
    out = pool(E.pow(x, float(norm_type)), ks if d > 1 else ks[0], stride, 0, ceil_mode)
    return E.pow(E.mul(out, float(np.prod(ks))), 1.0 / norm_type)


def lp_pool1d(x: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average pooling $(\\sum_{window} x^p)^{1/p}$ (p = 1: sum, p -> inf: max)."""
    return _lp_pool(1, x, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(x: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """2-d power-average pooling $(\\sum_{window} x^p)^{1/p}$."""
    return _lp_pool(2, x, norm_type, kernel_size, stride, ceil_mode)


def adaptive_max_pool3d(x: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive bins per spatial dim of a (N, C, D, H, W) input."""
    return CF._adaptive(3, CF._P.adaptive_max_pool, x, output_size, return_indices)


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape (*, num_classes) with a 1 at each class index (PyTorch's dtype;
    num_classes -1 means max + 1)."""
    return _one_hot(tensor, num_classes, dtype=np.int64)


def _ones(*shape) -> Tensor:
    return Tensor(np.ones(shape))


@layer_cases(
    LayerCase(lambda: Unfold(2), [(1, 2, 3, 3)]),
    LayerCase(lambda: Unfold((2, 3), dilation=(1, 2), padding=1, stride=2), [(2, 1, 4, 5)]),
)
@layer_errors(ErrorCase(lambda: Unfold(2)(_ones(2, 3)), ValueError, r"unfold: input must be"))
class Unfold(Module):
    """im2col: sliding (k_h, k_w) patches of (N, C, H, W) as the columns of (N, C k_h k_w, L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


@layer_cases(
    LayerCase(lambda: Fold((3, 3), 2), [(1, 8, 4)]),
    LayerCase(lambda: Fold((4, 5), (2, 3), dilation=(1, 2), padding=1, stride=2), [(2, 6, 6)]),
)
@layer_errors(
    ErrorCase(lambda: Fold((3, 3), 2)(_ones(1, 7, 4)), ValueError, r"fold: input must be")
)
class Fold(Module):
    """col2im: sums (N, C k_h k_w, L) patch columns back into (N, C, H, W)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)


class _LPPool(Module):
    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode=False) -> None:
        super().__init__()
        if norm_type <= 0:
            raise ValueError(f"{type(self).__name__}: norm_type must be > 0, got {norm_type}")
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def extra_repr(self) -> str:
        return f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}"


@layer_cases(LayerCase(lambda: LPPool1d(2, 3, 2), [(2, 2, 7)], low=0.2, high=2.0))
@layer_errors(ErrorCase(lambda: LPPool1d(0, 2), ValueError, r"LPPool1d: norm_type must be > 0"))
class LPPool1d(_LPPool):
    """$(\\sum_{window} x^p)^{1/p}$ over windows of the last axis."""

    def forward(self, x: Tensor) -> Tensor:
        return lp_pool1d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


@layer_cases(LayerCase(lambda: LPPool2d(3, 2), [(1, 2, 4, 4)], low=0.2, high=2.0))
@layer_errors(ErrorCase(lambda: LPPool2d(-1, 2), ValueError, r"LPPool2d: norm_type must be > 0"))
class LPPool2d(_LPPool):
    """$(\\sum_{window} x^p)^{1/p}$ over 2-d windows."""

    def forward(self, x: Tensor) -> Tensor:
        return lp_pool2d(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


@layer_cases(LayerCase(lambda: AdaptiveMaxPool3d((1, 2, 2)), [(1, 2, 2, 3, 4)]))
@layer_errors(
    ErrorCase(lambda: AdaptiveMaxPool3d(2)(_ones(2, 3)), ValueError, r"adaptive_max_pool")
)
class AdaptiveMaxPool3d(Module):
    """Maximum over adaptive bins to a fixed (D_out, H_out, W_out)."""

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x: Tensor):
        return adaptive_max_pool3d(x, self.output_size, self.return_indices)
