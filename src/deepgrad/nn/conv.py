"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d (NCHW, PyTorch's API).

Pooling layers live in `pooling.py`, resampling and padding layers in `resize.py`; the 2-d/3-d
normalisation and feature dropout in `conv_norm.py`.  All are exported here, so
`dg.nn.Conv2d`, `dg.nn.MaxPool2d` and `dg.nn.BatchNorm2d` come from one place.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor
from ..ops import conv as _C
from ..ops.validation import check_int
from . import conv_functional as F
from . import conv_norm, init, pooling, resize
from .conv_norm import *
from .linear import _float
from .module import Module, Parameter
from .pooling import *
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input
from .resize import *

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]
__all__ += pooling.__all__ + resize.__all__
__all__ += conv_norm.__all__

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}
_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared state of the convolution layers: geometry, weight, bias, PyTorch's init."""

    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 output_padding=0, dtype=None,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        d, name = self._dims, type(self).__name__
        for arg, v in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("groups", groups),
        ):
            check_int(name, arg, v, None)
        if in_channels < 1 or out_channels < 1:
            raise ValueError(
                f"{name}: channel counts must be positive, got {in_channels}, {out_channels}"
            )
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: groups={groups} must divide in_channels={in_channels} and "
                f"out_channels={out_channels}"
            )
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _C.norm_tuple(kernel_size, d, "kernel_size", name)
        self.stride = _C.norm_tuple(stride, d, "stride", name)
        self.dilation = _C.norm_tuple(dilation, d, "dilation", name)
        self.output_padding = _C.norm_tuple(output_padding, d, "output_padding", name)
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"{name}: kernel_size, stride and dilation must be >= 1")
        self.padding = (
            padding if isinstance(padding, str) else _C.norm_tuple(padding, d, "padding", name)
        )
        self.padding_mode = padding_mode
        self._pairs = self._padding_pairs()
        dt = _float(dtype)
        shape = (in_channels, out_channels // groups) if self._transposed else (
            out_channels, in_channels // groups)  # fmt: skip
        self.weight = Parameter(np.empty(shape + self.kernel_size, dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def _padding_pairs(self) -> tuple[tuple[int, int], ...]:
        name = type(self).__name__
        if self.padding == "valid":
            return ((0, 0),) * self._dims
        if self.padding == "same":
            if self._transposed or any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' needs stride 1 (got {self.stride})")
            return F.same_padding(self.kernel_size, self.dilation)
        if isinstance(self.padding, str):
            raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid'")  # noqa: TRY004
        if min(self.padding) < 0:
            raise ValueError(f"{name}: padding must be non-negative, got {self.padding}")
        return tuple((p, p) for p in self.padding)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt 5), i.e. U(+-1/sqrt(fan_in)); bias alike."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def _check_input(self, x: Tensor) -> None:
        d = self._dims
        if x.ndim not in (d + 1, d + 2) or x.shape[-d - 1] != self.in_channels:
            raise self.input_error(f"(N, {self.in_channels}, {_SPATIAL[d]}) with {self.in_channels} "
                                   f"channels", x.shape)  # fmt: skip

    def _short_repr(self) -> str:
        k = "x".join(map(str, self.kernel_size))
        return f"{self.in_channels} -> {self.out_channels}, {k}"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        pairs = self._pairs
        if self.padding_mode != "zeros" and any(lo or hi for lo, hi in pairs):
            flat = tuple(v for lo, hi in reversed(pairs) for v in (lo, hi))
            x = F.pad(x, flat, mode=self.padding_mode)
            pairs = ((0, 0),) * self._dims
        _C.check_out_size(self.describe(), x.shape[-self._dims :], self.kernel_size, self.stride,
                          pairs, self.dilation)  # fmt: skip
        return F._convnd(self._dims, x, self.weight, self.bias, self.stride, pairs, self.dilation,
                         self.groups)  # fmt: skip


@layer_errors(
    ErrorCase(
        lambda: Conv1d(2, 3, 3)(ones_input(1, 3, 5)),
        ValueError,
        r"Conv1d 2 -> 3, .* expects input \(N, 2, .*\) with 2 channels",
    ),
    ErrorCase(
        lambda: Conv1d(2, 3, 3, groups=2),
        ValueError,
        r"Conv1d: groups=2 must divide in_channels=2 and out_channels=3",
    ),
)
@layer_cases(
    LayerCase(lambda: Conv1d(2, 3, 3, stride=2, padding=1), [(2, 2, 6)]),
    LayerCase(lambda: Conv1d(2, 2, 2, dilation=2, padding="same", padding_mode="reflect"), [(1, 2, 5)]),
    LayerCase(lambda: Conv1d(2, 4, 3, groups=2, padding_mode="circular", padding=1, bias=False),
              [(2, 5)]),
)  # fmt: skip
class Conv1d(_Conv):
    """$y[n,o,t] = b_o + \\sum_{c,k} w[o,c,k]\\, x[n,c,s t + d k - p]$ on (N, C, L) (LeCun et al. 1998)."""

    _dims = 1


@layer_errors(
    ErrorCase(
        lambda: Conv2d(2, 3, 3)(ones_input(1, 3, 5, 5)),
        ValueError,
        r"Conv2d 2 -> 3, .* expects input \(N, 2, .*\) with 2 channels",
    ),
    ErrorCase(
        lambda: Conv2d(2, 3, 3, groups=2),
        ValueError,
        r"Conv2d: groups=2 must divide in_channels=2 and out_channels=3",
    ),
    ErrorCase(
        lambda: Conv2d(0, 1, 3), ValueError, r"Conv2d: channel counts must be positive, got 0, 1"
    ),
)
@layer_cases(
    LayerCase(lambda: Conv2d(2, 3, 3, stride=2, padding=1), [(1, 2, 5, 5)]),
    LayerCase(lambda: Conv2d(4, 4, (2, 3), groups=2, dilation=(2, 1), padding=(1, 0)), [(1, 4, 4, 4)]),
    LayerCase(lambda: Conv2d(2, 2, 3, padding="same", padding_mode="reflect"), [(1, 2, 4, 3)]),
    LayerCase(lambda: Conv2d(2, 2, 2, padding=1, padding_mode="replicate", bias=False), [(1, 2, 3, 3)]),
    LayerCase(lambda: Conv2d(3, 3, 3, groups=3, stride=(1, 2), padding="valid"), [(1, 3, 4, 5)]),
)  # fmt: skip
class Conv2d(_Conv):
    """2-d convolution over (N, C, H, W): $y = b + w \\star x$ (LeCun et al. 1998; Krizhevsky et
    al. 2012).  Output size floor((N + 2P - D(F-1) - 1)/S) + 1; `groups=C` is depthwise
    (Chollet 2017); `padding='same'` keeps the size at stride 1; padding_mode zeros,
    reflect, replicate or circular.  Init: PyTorch's kaiming_uniform(a=sqrt 5)."""

    _dims = 2


@layer_errors(
    ErrorCase(
        lambda: Conv3d(2, 3, 3)(ones_input(1, 3, 3, 3, 3)),
        ValueError,
        r"Conv3d 2 -> 3, .* expects input \(N, 2, .*\) with 2 channels",
    ),
    ErrorCase(
        lambda: Conv3d(2, 3, 3, groups=2),
        ValueError,
        r"Conv3d: groups=2 must divide in_channels=2 and out_channels=3",
    ),
    ErrorCase(lambda: Conv3d(1, 1, 2.5), TypeError, r"Conv3d: kernel_size must be an int, got 2.5"),
)
@layer_cases(
    LayerCase(lambda: Conv3d(2, 2, 2, stride=(1, 2, 1), padding=(0, 1, 1)), [(1, 2, 2, 3, 3)]),
    LayerCase(lambda: Conv3d(2, 2, (1, 2, 2), groups=2, padding_mode="replicate", padding=1),
              [(1, 2, 2, 2, 2)]),
)  # fmt: skip
class Conv3d(_Conv):
    """3-d convolution over (N, C, D, H, W)."""

    _dims = 3


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", dtype=None,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is supported")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple")  # noqa: TRY004
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, output_padding, dtype, generator)  # fmt: skip
        for o, s, dl in zip(self.output_padding, self.stride, self.dilation):
            if not 0 <= o < max(s, dl):
                raise ValueError(
                    f"{type(self).__name__}: output_padding {o} must be smaller than stride {s} "
                    f"or dilation {dl}"
                )

    def _output_padding(self, x: Tensor, output_size) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        d = self._dims
        want = tuple(int(v) for v in tuple(output_size)[-d:])
        base = tuple(
            _C.conv_transpose_out_size(n, k, s, 2 * p, dl, 0)
            for n, k, s, p, dl in zip(x.shape[-d:], self.kernel_size, self.stride, self.padding,
                                      self.dilation)
        )  # fmt: skip
        extra = tuple(w - b for w, b in zip(want, base))
        if any(not 0 <= e < max(s, dl) for e, s, dl in zip(extra, self.stride, self.dilation)):
            raise ValueError(f"{self.describe()}: output_size {want} is not reachable from input "
                             f"{x.shape} (sizes {base} up to {base} + stride - 1)")  # fmt: skip
        return extra

    def forward(self, x: Tensor, output_size=None) -> Tensor:
        self._check_input(x)
        op = self._output_padding(x, output_size)
        return F._conv_transposend(self._dims, x, self.weight, self.bias, self.stride, self.padding,
                                   op, self.groups, self.dilation)  # fmt: skip


@layer_errors(
    ErrorCase(
        lambda: ConvTranspose1d(1, 1, 3, output_padding=1),
        ValueError,
        r"ConvTranspose1d: output_padding 1 must be smaller than stride 1 or dilation 1",
    ),
    ErrorCase(
        lambda: ConvTranspose1d(1, 1, 3, padding="same"),
        ValueError,
        r"ConvTranspose1d: padding must be an int or a tuple",
    ),
)
@layer_cases(
    LayerCase(lambda: ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1), [(1, 2, 4)]),
    LayerCase(lambda: ConvTranspose1d(2, 2, 2, groups=2, dilation=2, bias=False), [(2, 2, 3)]),
)  # fmt: skip
class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-d convolution: the adjoint of Conv1d in its input; weight (C_in, C_out/G, F)."""

    _dims = 1


@layer_errors(
    ErrorCase(
        lambda: ConvTranspose2d(1, 1, 3, output_padding=1),
        ValueError,
        r"ConvTranspose2d: output_padding 1 must be smaller than stride 1 or dilation 1",
    ),
    ErrorCase(
        lambda: ConvTranspose2d(1, 1, 3, padding="same"),
        ValueError,
        r"ConvTranspose2d: padding must be an int or a tuple",
    ),
)
@layer_cases(
    LayerCase(lambda: ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1), [(1, 2, 2, 3)]),
    LayerCase(lambda: ConvTranspose2d(2, 4, 2, stride=2, groups=2), [(1, 2, 2, 2)]),
    LayerCase(lambda: ConvTranspose2d(2, 2, (2, 3), dilation=(1, 2), padding=(0, 1)), [(1, 2, 3, 2)]),
)  # fmt: skip
class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-d convolution ("deconvolution"): output (H-1)S - 2P + D(F-1) +
    output_padding + 1; the learned upsampling of FCN and U-Net (Long et al. 2015;
    Ronneberger et al. 2015; Zeiler & Fergus 2014)."""

    _dims = 2


@layer_errors(
    ErrorCase(
        lambda: ConvTranspose3d(1, 1, 3, output_padding=1),
        ValueError,
        r"ConvTranspose3d: output_padding 1 must be smaller than stride 1 or dilation 1",
    ),
    ErrorCase(
        lambda: ConvTranspose3d(1, 1, 3, padding="same"),
        ValueError,
        r"ConvTranspose3d: padding must be an int or a tuple",
    ),
)
@layer_cases(LayerCase(lambda: ConvTranspose3d(2, 2, 2, stride=2), [(1, 2, 1, 2, 2)]))
class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-d convolution over (N, C, D, H, W)."""

    _dims = 3
