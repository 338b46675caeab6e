"""Resampling and padding layers: Upsample and its 2-d forms, pixel (un)shuffle, and the
constant, reflection, replication and circular pads (PyTorch's names and arguments)."""

from __future__ import annotations

from ..core.tensor import Tensor
from ..ops.validation import check_int, check_ints
from . import conv_functional as F
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input

__all__ = [
    "CircularPad2d", "ConstantPad2d", "PixelShuffle", "PixelUnshuffle", "ReflectionPad1d",
    "ReflectionPad2d", "ReplicationPad2d", "Upsample", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad2d",
]  # fmt: skip

_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "trilinear")


@layer_errors(
    ErrorCase(lambda: Upsample(), ValueError, r"Upsample: give exactly one of size and scale"),
    ErrorCase(lambda: Upsample(scale_factor=2, mode="cubic"), ValueError, r"Upsample: .*mode"),
)
@layer_cases(
    LayerCase(lambda: Upsample(scale_factor=2), [(1, 2, 2, 3)]),
    LayerCase(lambda: Upsample(size=(3, 5), mode="bilinear"), [(1, 2, 2, 3)]),
    LayerCase(lambda: Upsample(scale_factor=1.5, mode="bilinear", align_corners=True), [(1, 1, 3, 2)]),
    LayerCase(lambda: Upsample(size=5, mode="linear"), [(1, 2, 3)]),
)  # fmt: skip
class Upsample(Module):
    """Resize by `size` or `scale_factor`: nearest, linear, bilinear or trilinear, with
    PyTorch's align_corners convention (Long et al. 2015; Ronneberger et al. 2015)."""

    def __init__(
        self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{name}: give exactly one of size and scale_factor")
        if mode not in _UPSAMPLE_MODES:
            raise ValueError(f"{name}: mode must be one of {_UPSAMPLE_MODES}, got {mode!r}")
        self.size, self.scale_factor, self.mode, self.align_corners = (
            size,
            scale_factor,
            mode,
            align_corners,
        )

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)
        except ValueError as e:
            raise ValueError(f"{self.describe()}: {e}") from None

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


@layer_errors(
    ErrorCase(
        lambda: UpsamplingNearest2d(), ValueError, r"UpsamplingNearest2d: give exactly one of size"
    )
)
@layer_cases(LayerCase(lambda: UpsamplingNearest2d(scale_factor=2), [(1, 2, 2, 2)]))
class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour 2-d upsampling (Upsample with mode='nearest')."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "nearest")


@layer_errors(
    ErrorCase(
        lambda: UpsamplingBilinear2d(),
        ValueError,
        r"UpsamplingBilinear2d: give exactly one of size",
    )
)
@layer_cases(LayerCase(lambda: UpsamplingBilinear2d(size=(3, 4)), [(1, 2, 2, 2)]))
class UpsamplingBilinear2d(Upsample):
    """Bilinear 2-d upsampling with align_corners=True (PyTorch's legacy layer)."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "bilinear", True)


class _PadNd(Module):
    _mode = "constant"
    _n = 4

    def __init__(self, padding, value: float = 0.0) -> None:
        super().__init__()
        self.padding = check_ints(type(self).__name__, "padding", padding, self._n, low=None)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.pad(x, self.padding, self._mode, self.value)
        except ValueError as e:
            raise ValueError(f"{self.describe()}: {e}") from None

    def extra_repr(self) -> str:
        return f"padding={self.padding}"


@layer_errors(
    ErrorCase(lambda: ZeroPad2d(1.5), TypeError, r"ZeroPad2d: padding must be an int, got 1.5")
)
@layer_cases(
    LayerCase(lambda: ZeroPad2d((1, 0, 2, 1)), [(1, 2, 2, 3)]),
    LayerCase(lambda: ZeroPad2d((-1, 1, 0, -1)), [(1, 2, 3, 3)]),
)
class ZeroPad2d(_PadNd):
    """Zero padding (left, right, top, bottom); negative values crop."""

    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)


@layer_errors(
    ErrorCase(
        lambda: ConstantPad2d((1, 2), 0.0),
        ValueError,
        r"ConstantPad2d: padding must be an int or 4 ints, got \(1, 2\)",
    )
)
@layer_cases(LayerCase(lambda: ConstantPad2d(1, 0.5), [(1, 2, 2, 2)]))
class ConstantPad2d(_PadNd):
    """Pad (left, right, top, bottom) with a constant value."""


@layer_errors(
    ErrorCase(
        lambda: ReflectionPad1d(1.5), TypeError, r"ReflectionPad1d: padding must be an int, got 1.5"
    )
)
@layer_cases(LayerCase(lambda: ReflectionPad1d((2, 1)), [(1, 2, 4)]))
class ReflectionPad1d(_PadNd):
    """Mirror padding (left, right) without repeating the edge."""

    _mode, _n = "reflect", 2

    def __init__(self, padding) -> None:
        super().__init__(padding)


@layer_errors(
    ErrorCase(
        lambda: ReflectionPad2d(1.5), TypeError, r"ReflectionPad2d: padding must be an int, got 1.5"
    )
)
@layer_cases(LayerCase(lambda: ReflectionPad2d((1, 2, 2, 0)), [(1, 2, 3, 4)]))
class ReflectionPad2d(_PadNd):
    """Mirror padding (left, right, top, bottom) without repeating the edge."""

    _mode = "reflect"

    def __init__(self, padding) -> None:
        super().__init__(padding)


@layer_errors(
    ErrorCase(
        lambda: ReplicationPad2d(1.5),
        TypeError,
        r"ReplicationPad2d: padding must be an int, got 1.5",
    )
)
@layer_cases(LayerCase(lambda: ReplicationPad2d((1, 2, 0, 2)), [(1, 2, 2, 3)]))
class ReplicationPad2d(_PadNd):
    """Edge padding (left, right, top, bottom): the border value repeated."""

    _mode = "replicate"

    def __init__(self, padding) -> None:
        super().__init__(padding)


@layer_errors(
    ErrorCase(
        lambda: CircularPad2d(1.5), TypeError, r"CircularPad2d: padding must be an int, got 1.5"
    )
)
@layer_cases(LayerCase(lambda: CircularPad2d((1, 1, 2, 0)), [(1, 2, 3, 3)]))
class CircularPad2d(_PadNd):
    """Periodic padding (left, right, top, bottom): the input wraps around."""

    _mode = "circular"

    def __init__(self, padding) -> None:
        super().__init__(padding)


@layer_errors(
    ErrorCase(lambda: PixelShuffle(2)(ones_input(1, 3, 2, 2)), ValueError, r"pixel_shuffle: "),
    ErrorCase(
        lambda: PixelShuffle(0), ValueError, r"PixelShuffle: upscale_factor must be >= 1, got 0"
    ),
)
@layer_cases(LayerCase(lambda: PixelShuffle(2), [(1, 8, 2, 3)]))
class PixelShuffle(Module):
    """(N, C r^2, H, W) -> (N, C, H r, W r): sub-pixel convolution upsampling (Shi et al. 2016)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = check_int("PixelShuffle", "upscale_factor", upscale_factor, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


@layer_errors(
    ErrorCase(lambda: PixelUnshuffle(2)(ones_input(1, 1, 3, 3)), ValueError, r"pixel_unshuffle: "),
    ErrorCase(
        lambda: PixelUnshuffle(0),
        ValueError,
        r"PixelUnshuffle: downscale_factor must be >= 1, got 0",
    ),
)
@layer_cases(LayerCase(lambda: PixelUnshuffle(2), [(1, 2, 4, 2)]))
class PixelUnshuffle(Module):
    """(N, C, H r, W r) -> (N, C r^2, H, W), the inverse of PixelShuffle."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = check_int("PixelUnshuffle", "downscale_factor", downscale_factor, 1)

    def forward(self, x: Tensor) -> Tensor:
        return F.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
