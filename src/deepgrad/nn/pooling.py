"""Pooling, resampling and padding layers (PyTorch's names, arguments and defaults)."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..ops.validation import check_int, check_ints
from . import conv_functional as F
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "GlobalAvgPool2d", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
]  # fmt: skip

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _default_stride(module: Module, kernel_size, stride):
    """PyTorch's default stride (the kernel size) for None or []; checked sizes otherwise.

    NOTE: not `stride or kernel_size`, which would silently turn stride 0 into the kernel.
    """
    op, d = type(module).__name__, module._dims
    check_ints(op, "kernel_size", kernel_size, d, low=1)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        return kernel_size
    check_ints(op, "stride", stride, d, low=1)
    return stride


class _Pool(Module):
    """Checks the input rank and names this layer in the error."""

    _dims = 2

    def _check(self, x: Tensor) -> None:
        d = self._dims
        if x.ndim not in (d + 1, d + 2):
            raise self.input_error(f"(N, C, {_SPATIAL[d]}) or (C, {_SPATIAL[d]})", x.shape)


class _MaxPoolNd(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:  # fmt: skip
        super().__init__()
        stride = _default_stride(self, kernel_size, stride)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x: Tensor):
        self._check(x)
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self._dims - 1]
        try:
            return fn(x, self.kernel_size, self.stride, self.padding, self.dilation,
                      self.ceil_mode, self.return_indices)  # fmt: skip
        except ValueError as e:
            raise ValueError(f"{self.describe()}: {e}") from None

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")  # fmt: skip


@layer_errors(
    ErrorCase(lambda: MaxPool1d(2, stride=0), ValueError, r"MaxPool1d: stride must be >= 1, got 0"),
    ErrorCase(lambda: MaxPool1d(2)(ones_input(4)), ValueError, r"MaxPool1d expects input"),
)
@layer_cases(LayerCase(lambda: MaxPool1d(3, 2, padding=1), [(2, 2, 7)]))
class MaxPool1d(_MaxPoolNd):
    """$y[n,c,t] = \\max_k x[n,c,s t + d k - p]$; gradient to the first maximum."""

    _dims = 1


@layer_errors(
    ErrorCase(lambda: MaxPool2d(2, stride=0), ValueError, r"MaxPool2d: stride must be >= 1, got 0"),
    ErrorCase(lambda: MaxPool2d(2)(ones_input(4)), ValueError, r"MaxPool2d expects input"),
)
@layer_cases(
    LayerCase(lambda: MaxPool2d(2), [(2, 2, 4, 4)]),
    LayerCase(lambda: MaxPool2d(3, 2, padding=1, ceil_mode=True), [(1, 2, 6, 5)]),
    LayerCase(lambda: MaxPool2d((2, 3), (1, 2), dilation=(2, 1)), [(1, 2, 5, 6)]),
)
class MaxPool2d(_MaxPoolNd):
    """2-d max pooling, default stride = kernel_size (LeCun et al. 1998; Krizhevsky et al.
    2012 overlap 3x3 windows at stride 2).  Output floor((N + 2P - D(F-1) - 1)/S) + 1."""

    _dims = 2


@layer_errors(
    ErrorCase(lambda: MaxPool3d(2, stride=0), ValueError, r"MaxPool3d: stride must be >= 1, got 0"),
    ErrorCase(lambda: MaxPool3d(2)(ones_input(4)), ValueError, r"MaxPool3d expects input"),
)
@layer_cases(LayerCase(lambda: MaxPool3d(2, (1, 2, 2)), [(1, 2, 3, 4, 4)]))
class MaxPool3d(_MaxPoolNd):
    """3-d max pooling over (D, H, W)."""

    _dims = 3


class _AvgPoolNd(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override=None) -> None:  # fmt: skip
        super().__init__()
        stride = _default_stride(self, kernel_size, stride)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        if divisor_override is not None:
            check_int(type(self).__name__, "divisor_override", divisor_override, low=1)
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        args = (
            x,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )
        try:
            if self._dims == 1:
                return F.avg_pool1d(*args)
            fn = F.avg_pool2d if self._dims == 2 else F.avg_pool3d
            return fn(*args, self.divisor_override)
        except ValueError as e:
            raise ValueError(f"{self.describe()}: {e}") from None

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


@layer_errors(
    ErrorCase(lambda: AvgPool1d(2, stride=0), ValueError, r"AvgPool1d: stride must be >= 1, got 0"),
    ErrorCase(lambda: AvgPool1d(2.5), TypeError, r"AvgPool1d: kernel_size must be an int, got 2.5"),
)
@layer_cases(LayerCase(lambda: AvgPool1d(3, 2, padding=1, count_include_pad=False), [(2, 2, 6)]))
class AvgPool1d(_AvgPoolNd):
    """$y[n,c,t] = \\frac{1}{F} \\sum_k x[n,c,s t + k - p]$."""

    _dims = 1


@layer_errors(
    ErrorCase(lambda: AvgPool2d(2, stride=0), ValueError, r"AvgPool2d: stride must be >= 1, got 0"),
    ErrorCase(lambda: AvgPool2d(2.5), TypeError, r"AvgPool2d: kernel_size must be an int, got 2.5"),
    ErrorCase(
        lambda: AvgPool2d(2, divisor_override=0),
        ValueError,
        r"AvgPool2d: divisor_override must be >= 1, got 0",
    ),
)
@layer_cases(
    LayerCase(lambda: AvgPool2d(2), [(2, 2, 4, 4)]),
    LayerCase(lambda: AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False),
              [(1, 2, 6, 5)]),
)  # fmt: skip
class AvgPool2d(_AvgPoolNd):
    """2-d average pooling; the divisor counts padding iff count_include_pad (LeCun et al. 1998)."""

    _dims = 2


@layer_errors(
    ErrorCase(lambda: AvgPool3d(2, stride=0), ValueError, r"AvgPool3d: stride must be >= 1, got 0"),
    ErrorCase(lambda: AvgPool3d(2.5), TypeError, r"AvgPool3d: kernel_size must be an int, got 2.5"),
)
@layer_cases(LayerCase(lambda: AvgPool3d(2, padding=1), [(1, 2, 3, 2, 3)]))
class AvgPool3d(_AvgPoolNd):
    """3-d average pooling over (D, H, W)."""

    _dims = 3


class _AdaptiveNd(_Pool):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


@layer_errors(
    ErrorCase(
        lambda: AdaptiveAvgPool1d(0)(ones_input(1, 1, 4)),
        ValueError,
        r"adaptive_avg_pool: output_size must be positive",
    )
)
@layer_cases(LayerCase(lambda: AdaptiveAvgPool1d(3), [(2, 2, 7)]))
class AdaptiveAvgPool1d(_AdaptiveNd):
    """Average over bins [floor(i L/O), ceil((i+1) L/O)) so any L gives O outputs."""

    _dims = 1

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.adaptive_avg_pool1d(x, self.output_size)


@layer_errors(
    ErrorCase(
        lambda: AdaptiveAvgPool2d(0)(ones_input(1, 1, 4, 4)),
        ValueError,
        r"adaptive_avg_pool: output_size must be positive",
    )
)
@layer_cases(
    LayerCase(lambda: AdaptiveAvgPool2d((2, 3)), [(1, 2, 5, 4)]),
    LayerCase(lambda: AdaptiveAvgPool2d(1), [(2, 3, 3, 2)]),
    LayerCase(lambda: AdaptiveAvgPool2d((2, None)), [(1, 2, 4, 3)]),
)
class AdaptiveAvgPool2d(_AdaptiveNd):
    """Adaptive average pooling to a fixed (H_out, W_out); 1 gives global average pooling
    (Lin et al. 2014; He et al. 2016's head)."""

    _dims = 2

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.adaptive_avg_pool2d(x, self.output_size)


@layer_errors(
    ErrorCase(
        lambda: AdaptiveAvgPool3d(0)(ones_input(1, 1, 4, 4, 4)),
        ValueError,
        r"adaptive_avg_pool: output_size must be positive",
    )
)
@layer_cases(LayerCase(lambda: AdaptiveAvgPool3d((1, 2, 2)), [(1, 2, 2, 3, 4)]))
class AdaptiveAvgPool3d(_AdaptiveNd):
    """3-d adaptive average pooling."""

    _dims = 3

    def forward(self, x: Tensor) -> Tensor:
        self._check(x)
        return F.adaptive_avg_pool3d(x, self.output_size)


@layer_errors(
    ErrorCase(
        lambda: AdaptiveMaxPool1d(0)(ones_input(1, 1, 4)),
        ValueError,
        r"adaptive_max_pool: output_size must be positive",
    )
)
@layer_cases(LayerCase(lambda: AdaptiveMaxPool1d(3), [(2, 2, 7)]))
class AdaptiveMaxPool1d(_AdaptiveNd):
    """Maximum over adaptive bins [floor(i L/O), ceil((i+1) L/O))."""

    _dims = 1

    def forward(self, x: Tensor):
        self._check(x)
        return F.adaptive_max_pool1d(x, self.output_size, self.return_indices)


@layer_errors(
    ErrorCase(
        lambda: AdaptiveMaxPool2d(0)(ones_input(1, 1, 4, 4)),
        ValueError,
        r"adaptive_max_pool: output_size must be positive",
    )
)
@layer_cases(
    LayerCase(lambda: AdaptiveMaxPool2d((2, 3)), [(1, 2, 5, 4)]),
    LayerCase(lambda: AdaptiveMaxPool2d(2), [(1, 2, 4, 4)]),
)
class AdaptiveMaxPool2d(_AdaptiveNd):
    """Maximum over adaptive bins to a fixed (H_out, W_out)."""

    _dims = 2

    def forward(self, x: Tensor):
        self._check(x)
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)


@layer_errors(
    ErrorCase(
        lambda: GlobalAvgPool2d()(ones_input(2, 3)),
        ValueError,
        r"GlobalAvgPool2d expects input \(N, C, H, W\), got \(2, 3\)",
    )
)
@layer_cases(LayerCase(lambda: GlobalAvgPool2d(), [(2, 3, 3, 2)]))
class GlobalAvgPool2d(Module):
    """$y[n,c] = \\frac{1}{HW}\\sum_{h,w} x[n,c,h,w]$, (N, C, H, W) -> (N, C) (Lin et al. 2014)."""

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4:
            raise self.input_error("(N, C, H, W)", x.shape)
        return F.global_avg_pool2d(x)


class _MaxUnpoolNd(_Pool):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        stride = _default_stride(self, kernel_size, stride)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor, indices, output_size=None) -> Tensor:
        self._check(x)
        fn = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self._dims - 1]
        return fn(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _window_indices(d):
    """Indices of one element per 2-wide window, as max_pool(kernel 2) returns (targets)."""

    def make(rng):
        out = (2,) * d
        offs = [rng.integers(0, 2, size=(1, 2) + out) for _ in range(d)]
        grids = np.indices(out)
        coords = [2 * g + o for g, o in zip(grids, offs)]
        return [np.ravel_multi_index(tuple(coords), (4,) * d)]

    return make


@layer_errors(
    ErrorCase(
        lambda: MaxUnpool1d(2, stride=0), ValueError, r"MaxUnpool1d: stride must be >= 1, got 0"
    )
)
@layer_cases(LayerCase(lambda: MaxUnpool1d(2), [(1, 2, 2)], targets=_window_indices(1)))
class MaxUnpool1d(_MaxUnpoolNd):
    """Zeros of length (L-1)S - 2P + F with x put back at the pooled argmax indices."""

    _dims = 1


@layer_errors(
    ErrorCase(
        lambda: MaxUnpool2d(2, stride=0), ValueError, r"MaxUnpool2d: stride must be >= 1, got 0"
    )
)
@layer_cases(LayerCase(lambda: MaxUnpool2d(2), [(1, 2, 2, 2)], targets=_window_indices(2)))
class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of MaxPool2d: zeros with each value at its recorded argmax (Zeiler & Fergus
    2014's "switches")."""

    _dims = 2


@layer_errors(
    ErrorCase(
        lambda: MaxUnpool3d(2, stride=0), ValueError, r"MaxUnpool3d: stride must be >= 1, got 0"
    )
)
@layer_cases(LayerCase(lambda: MaxUnpool3d(2), [(1, 2, 2, 2, 2)], targets=_window_indices(3)))
class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of MaxPool3d."""

    _dims = 3
