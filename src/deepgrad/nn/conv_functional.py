"""Functional convolution, pooling and image ops, as `torch.nn.functional` (NCHW).

Every function accepts a batched input (N, C, *spatial) or, like PyTorch, an
unbatched one (C, *spatial).  The primitives live in `deepgrad.ops.conv`,
`ops.pool` and `ops.resample`; this file only adds bias, argument handling and
PyTorch's names.
"""

from __future__ import annotations

import numpy as np

from ..core.random import _gen
from ..core.state import host_call
from ..core.tensor import Tensor, _wrap
from ..ops import conv as _C
from ..ops import pool as _P
from ..ops import resample as _R
from ..ops.elementwise import add, mul
from ..ops.reduce import mean
from ..ops.shape import pad as _const_pad
from ..ops.shape import reshape

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d", "conv1d", "conv2d",
    "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "dropout1d",
    "dropout2d", "dropout3d", "global_avg_pool2d", "interpolate", "max_pool1d", "max_pool2d",
    "max_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d", "pad", "pixel_shuffle",
    "pixel_unshuffle", "same_padding", "upsample",
]  # fmt: skip

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _batched(x: Tensor, d: int, op: str) -> tuple[Tensor, bool]:
    """(N, C, *S) as is; (C, *S) gets a batch axis of 1 (removed again by `_unbatch`)."""
    if x.ndim == d + 2:
        return x, False
    if x.ndim == d + 1:
        return reshape(x, (1,) + x.shape), True
    raise ValueError(
        f"{op}: expected input (N, C, {_SPATIAL[d]}) or (C, {_SPATIAL[d]}), got {x.shape}"
    )


def _unbatch(y, squeeze: bool):
    if not squeeze:
        return y
    if isinstance(y, tuple):
        return tuple(reshape(t, t.shape[1:]) for t in y)
    return reshape(y, y.shape[1:])


def _add_bias(y: Tensor, bias: Tensor | None) -> Tensor:
    if bias is None:
        return y
    if y.dtype != bias.dtype or bias.ndim != 1 or bias.shape[0] != y.shape[1]:
        return add(y, reshape(bias, (1, bias.shape[0]) + (1,) * (y.ndim - 2)))
    return _C.channel_bias(y, bias)


def same_padding(kernel_size, dilation) -> tuple[tuple[int, int], ...]:
    """PyTorch's padding='same' for stride 1: total D(F-1), the extra one on the high side."""
    return tuple(
        (d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel_size, dilation)
    )


def _conv_padding(padding, ksize, stride, dilation, op: str):
    if isinstance(padding, str):
        if padding == "valid":
            return 0
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            return same_padding(ksize, dilation)
        raise ValueError(
            f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}"
        )
    return padding


def _convnd(d, x, weight, bias, stride, padding, dilation, groups):
    op = f"conv{d}d"
    x, squeeze = _batched(x, d, op)
    stride = _C.norm_tuple(stride, d, "stride", op)
    dilation = _C.norm_tuple(dilation, d, "dilation", op)
    padding = _conv_padding(padding, weight.shape[2:], stride, dilation, op)
    if bias is not None and bias.ndim == 1 and bias.dtype == x.dtype == weight.dtype:
        return _unbatch(_C.conv(x, weight, stride, padding, dilation, groups, bias=bias), squeeze)
    y = _C.conv(x, weight, stride, padding, dilation, groups)
    return _unbatch(_add_bias(y, bias), squeeze)


def conv1d(x: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d cross-correlation $y[n,o,t] = b_o + \\sum_{c,k} w[o,c,k] x[n,c,s t + d k - p]$."""
    return _convnd(1, x, weight, bias, stride, padding, dilation, groups)


def conv2d(x: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d cross-correlation $y = b + w \\star x$ over (H, W) (LeCun et al. 1998)."""
    return _convnd(2, x, weight, bias, stride, padding, dilation, groups)


def conv3d(x: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d cross-correlation over (D, H, W)."""
    return _convnd(3, x, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(d, x, weight, bias, stride, padding, output_padding, groups, dilation):
    x, squeeze = _batched(x, d, f"conv_transpose{d}d")
    y = _C.conv_transpose(x, weight, stride, padding, output_padding, groups, dilation)
    return _unbatch(_add_bias(y, bias), squeeze)


def conv_transpose1d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:  # fmt: skip
    """1-d transposed convolution, the adjoint of conv1d in its input (Zeiler & Fergus 2014)."""
    return _conv_transposend(1, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:  # fmt: skip
    """2-d transposed convolution: output (H-1)S - 2P + D(F-1) + output_padding + 1
    (Long et al. 2015's learned upsampling)."""
    return _conv_transposend(2, x, weight, bias, stride, padding, output_padding, groups, dilation)


def conv_transpose3d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:  # fmt: skip
    """3-d transposed convolution."""
    return _conv_transposend(3, x, weight, bias, stride, padding, output_padding, groups, dilation)


# --- pooling ------------------------------------------------------------------------------


def _max_poolnd(d, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, squeeze = _batched(x, d, f"max_pool{d}d")
    y = _P.max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)
    return _unbatch(y, squeeze)


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):  # fmt: skip
    """$y[n,c,t] = \\max_k x[n,c,s t + d k - p]$ (with return_indices: also the argmax)."""
    return _max_poolnd(1, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):  # fmt: skip
    """2-d max pooling; indices are flat over (H, W) per channel (LeCun et al. 1998)."""
    return _max_poolnd(2, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):  # fmt: skip
    """3-d max pooling."""
    return _max_poolnd(3, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_poolnd(d, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor):
    x, squeeze = _batched(x, d, f"avg_pool{d}d")
    y = _P.avg_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor)
    return _unbatch(y, squeeze)


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:  # fmt: skip
    """$y[n,c,t] = \\frac{1}{F} \\sum_k x[n,c,s t + k - p]$."""
    return _avg_poolnd(1, x, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:  # fmt: skip
    """2-d average pooling (LeCun et al. 1998's subsampling)."""
    return _avg_poolnd(2, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)  # fmt: skip


def avg_pool3d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:  # fmt: skip
    """3-d average pooling."""
    return _avg_poolnd(3, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)  # fmt: skip


def _adaptive(d, fn, x, output_size, *extra):
    x, squeeze = _batched(x, d, fn.__name__)
    return _unbatch(fn(x, output_size, *extra), squeeze)


def adaptive_avg_pool1d(x: Tensor, output_size) -> Tensor:
    """Average over bins [floor(i L/O), ceil((i+1) L/O))."""
    return _adaptive(1, _P.adaptive_avg_pool, x, output_size)


def adaptive_avg_pool2d(x: Tensor, output_size) -> Tensor:
    """Average over adaptive bins per spatial dim; output_size 1 is global average pooling."""
    return _adaptive(2, _P.adaptive_avg_pool, x, output_size)


def adaptive_avg_pool3d(x: Tensor, output_size) -> Tensor:
    """3-d adaptive average pooling."""
    return _adaptive(3, _P.adaptive_avg_pool, x, output_size)


def adaptive_max_pool1d(x: Tensor, output_size, return_indices: bool = False):
    """Maximum over bins [floor(i L/O), ceil((i+1) L/O))."""
    return _adaptive(1, _P.adaptive_max_pool, x, output_size, return_indices)


def adaptive_max_pool2d(x: Tensor, output_size, return_indices: bool = False):
    """Maximum over adaptive bins per spatial dim."""
    return _adaptive(2, _P.adaptive_max_pool, x, output_size, return_indices)


def global_avg_pool2d(x: Tensor) -> Tensor:
    """$y[n,c] = \\frac{1}{HW} \\sum_{h,w} x[n,c,h,w]$, shape (N, C) (Lin et al. 2014)."""
    if x.ndim != 4:
        raise ValueError(f"global_avg_pool2d: expected input (N, C, H, W), got {x.shape}")
    return mean(x, axis=(2, 3))


def _max_unpoolnd(d, x, indices, kernel_size, stride, padding, output_size):
    x, squeeze = _batched(x, d, f"max_unpool{d}d")
    if squeeze:
        indices = np.asarray(indices._data if isinstance(indices, Tensor) else indices)[None]
    return _unbatch(_P.max_unpool(x, indices, kernel_size, stride, padding, output_size), squeeze)


def max_unpool1d(x, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Inverse of max_pool1d: zeros except x at the argmax positions."""
    return _max_unpoolnd(1, x, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Inverse of max_pool2d (Zeiler & Fergus 2014's switches)."""
    return _max_unpoolnd(2, x, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(x, indices, kernel_size, stride=None, padding=0, output_size=None) -> Tensor:
    """Inverse of max_pool3d."""
    return _max_unpoolnd(3, x, indices, kernel_size, stride, padding, output_size)


# --- resampling, padding, dropout -------------------------------------------------------------


def interpolate(x: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None) -> Tensor:  # fmt: skip
    """Resize spatial axes: nearest or (bi/tri)linear, as torch.nn.functional.interpolate."""
    return _R.interpolate(x, size, scale_factor, mode, align_corners)


upsample = interpolate


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(N, C r^2, H, W) -> (N, C, H r, W r) (Shi et al. 2016)."""
    return _R.pixel_shuffle(x, upscale_factor)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """(N, C, H r, W r) -> (N, C r^2, H, W)."""
    return _R.pixel_unshuffle(x, downscale_factor)


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's F.pad: `pad` = (last_lo, last_hi, prev_lo, prev_hi, ...) from the last axis.

    Modes constant (negative values crop), reflect, replicate, circular.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding {pad} must have an even length <= 2 * ndim ({x.ndim})")
    pairs = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pairs[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, pairs))
        if any(lo < 0 or hi < 0 for lo, hi in pairs):
            x = x[crop]
        return _const_pad(x, [(max(lo, 0), max(hi, 0)) for lo, hi in pairs], value)
    return _R.pad_nd(x, pairs, mode)


def _feature_dropout(x: Tensor, p: float, training: bool, d: int, generator) -> Tensor:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout{d}d: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if x.ndim not in (d + 1, d + 2):
        raise ValueError(f"dropout{d}d: expected (N, C, {_SPATIAL[d]}) or (C, ...), got {x.shape}")
    lead = x.shape[: x.ndim - d]
    scale = _feature_mask(generator, lead, p, x.dtype)
    return mul(x, _wrap(scale.reshape(lead + (1,) * d)))


@host_call  # deepgrad.compile replays the draw, so the generator advances as in eager
def _feature_mask(generator, lead: tuple[int, ...], p: float, dtype) -> np.ndarray:
    """keep / (1 - p) per (sample, channel), keep ~ Bernoulli(1 - p)."""
    keep = _gen(generator).random(lead) >= p
    return keep.astype(dtype) / (1.0 - p) if p < 1.0 else keep.astype(dtype)


def dropout1d(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Drop whole channels of (N, C, L): $y = x \\cdot m_{nc} / (1-p)$ (Tompson et al. 2015)."""
    return _feature_dropout(x, p, training, 1, generator)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Drop whole feature maps of (N, C, H, W) with probability p, scale the rest by 1/(1-p)."""
    return _feature_dropout(x, p, training, 2, generator)


def dropout3d(x: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Drop whole feature volumes of (N, C, D, H, W)."""
    return _feature_dropout(x, p, training, 3, generator)
