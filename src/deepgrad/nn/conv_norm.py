"""Normalisation and dropout for feature maps: BatchNorm2d/3d, InstanceNorm2d/3d, Dropout1d/2d/3d.

The statistics code is the nn package's generic `_BatchNorm` / `_InstanceNorm`;
these classes only declare the input layouts they accept.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from . import conv_functional as F
from .dropout import _DropoutNd
from .normalization import _BatchNorm, _eval_bn, _InstanceNorm
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input

__all__ = [
    "BatchNorm2d", "BatchNorm3d", "Dropout1d", "Dropout2d", "Dropout3d", "InstanceNorm2d",
    "InstanceNorm3d",
]  # fmt: skip


@layer_errors(
    ErrorCase(lambda: BatchNorm2d(3)(ones_input(2, 3)), ValueError, r"BatchNorm2d 3 expects input"),
    ErrorCase(lambda: BatchNorm2d(2.0), TypeError, r"BatchNorm2d: num_features must be an int"),
)
@layer_cases(
    LayerCase(lambda: BatchNorm2d(3), [(2, 3, 2, 2)]),
    LayerCase(lambda: BatchNorm2d(2, affine=False, momentum=None), [(3, 2, 2, 1)]),
    LayerCase(lambda: _eval_bn(BatchNorm2d(2)), [(2, 2, 2, 3)], train=False),
)
class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, H, W) per channel of (N, C, H, W): $y = \\gamma (x - \\mu_B) /
    \\sqrt{\\sigma_B^2 + \\epsilon} + \\beta$ (Ioffe & Szegedy 2015; He et al. 2016)."""

    _layouts = ("(N, {C}, H, W)",)
    _ndims = (4,)


@layer_errors(
    ErrorCase(
        lambda: BatchNorm3d(3)(ones_input(2, 3, 4, 4)), ValueError, r"BatchNorm3d 3 expects input"
    )
)
@layer_cases(LayerCase(lambda: BatchNorm3d(2), [(2, 2, 2, 1, 2)]))
class BatchNorm3d(_BatchNorm):
    """Batch norm per channel of (N, C, D, H, W) (Ioffe & Szegedy 2015)."""

    _layouts = ("(N, {C}, D, H, W)",)
    _ndims = (5,)


@layer_errors(
    ErrorCase(
        lambda: InstanceNorm2d(3)(ones_input(2, 3)), ValueError, r"InstanceNorm2d 3 expects input"
    )
)
@layer_cases(
    LayerCase(lambda: InstanceNorm2d(2), [(2, 2, 3, 2)]),
    LayerCase(lambda: InstanceNorm2d(3, affine=True), [(3, 2, 2)]),
)
class InstanceNorm2d(_InstanceNorm):
    """Each sample's channel normalised over (H, W) (Ulyanov et al. 2016); (N, C, H, W) or
    (C, H, W); affine=False and track_running_stats=False by default, as PyTorch."""

    _layouts = ("(N, {C}, H, W)", "({C}, H, W)")
    _ndims = (4, 3)


@layer_errors(
    ErrorCase(
        lambda: InstanceNorm3d(3)(ones_input(3, 4)),
        ValueError,
        r"InstanceNorm3d 3 expects input",
    )
)
@layer_cases(LayerCase(lambda: InstanceNorm3d(2, affine=True), [(1, 2, 2, 2, 2)]))
class InstanceNorm3d(_InstanceNorm):
    """Instance norm over (D, H, W) of (N, C, D, H, W) or (C, D, H, W)."""

    _layouts = ("(N, {C}, D, H, W)", "({C}, D, H, W)")
    _ndims = (5, 4)


class _FeatureDropout(_DropoutNd):
    _dims = 2

    def forward(self, x: Tensor) -> Tensor:
        fn = (F.dropout1d, F.dropout2d, F.dropout3d)[self._dims - 1]
        if self.training and x.ndim not in (self._dims + 1, self._dims + 2):
            raise self.input_error(f"a {self._dims + 2}-d (N, C, ...) or {self._dims + 1}-d input",
                                   x.shape)  # fmt: skip
        return fn(x, self.p, self.training, generator=self.generator)


def _seeded(cls, p):
    """A training-mode case with a fixed mask: a fresh generator seeded the same every call."""

    class _Fixed(cls):
        def forward(self, x: Tensor) -> Tensor:
            self.generator = np.random.default_rng(7)
            return super().forward(x)

    return _Fixed(p)


@layer_errors(
    ErrorCase(
        lambda: Dropout1d(p=2.0),
        ValueError,
        r"Dropout1d: probability p must be in \[0, 1\], got 2.0",
    )
)
@layer_cases(
    LayerCase(lambda: _seeded(Dropout1d, 0.5), [(3, 4, 2)]),
    LayerCase(lambda: Dropout1d(0.3), [(2, 3, 2)], train=False),
)
class Dropout1d(_FeatureDropout):
    """Zero whole channels of (N, C, L) with probability p, scale the rest by 1/(1-p)."""

    _dims = 1


@layer_errors(
    ErrorCase(
        lambda: Dropout2d(p=2.0),
        ValueError,
        r"Dropout2d: probability p must be in \[0, 1\], got 2.0",
    )
)
@layer_cases(
    LayerCase(lambda: _seeded(Dropout2d, 0.5), [(3, 4, 2, 2)]),
    LayerCase(lambda: Dropout2d(0.3), [(2, 3, 2, 2)], train=False),
)
class Dropout2d(_FeatureDropout):
    """Zero whole feature maps $x[n, c]$ with probability p (neighbouring pixels are
    correlated, so per-pixel dropout barely regularises; Tompson et al. 2015)."""

    _dims = 2


@layer_errors(
    ErrorCase(
        lambda: Dropout3d(p=2.0),
        ValueError,
        r"Dropout3d: probability p must be in \[0, 1\], got 2.0",
    )
)
@layer_cases(LayerCase(lambda: _seeded(Dropout3d, 0.5), [(2, 3, 1, 2, 2)]))
class Dropout3d(_FeatureDropout):
    """Zero whole feature volumes of (N, C, D, H, W) with probability p."""

    _dims = 3
