"""Normalisation layers: batch, layer, group and instance norm.

`_BatchNorm` and `_InstanceNorm` are generic over the number of spatial axes: a
subclass only states which input ranks it accepts (`_check_input_dim`), so
BatchNorm2d/3d and InstanceNorm2d/3d are three-line subclasses (see `conv.py`).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..core.state import host_call
from ..core.tensor import Tensor
from ..ops.batch_norm import batch_norm as channel_batch_norm
from ..ops.shape import reshape
from ..ops.validation import check_int
from . import functional as F
from .linear import _float
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input


def _affine_params(module: Module, shape, dtype, weight: bool, bias: bool) -> None:
    """Register the learned scale gamma (ones) and shift beta (zeros) of a norm layer, or
    None in their place, so y = gamma * x_hat + beta starts as the identity."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype)) if weight else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype)) if bias else None)


class _NormBase(Module):
    """Affine parameters (gamma = 1, beta = 0) and optional running statistics per channel."""

    # Input layouts accepted, e.g. ("(N, {C})", "(N, {C}, L)"), and their ranks.
    _layouts: tuple[str, ...] = ()
    _ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype=None,
    ) -> None:
        super().__init__()
        self.num_features = check_int(type(self).__name__, "num_features", num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = _float(dtype)
        _affine_params(self, num_features, dt, affine, affine)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dt))
            self.register_buffer("running_var", np.ones(num_features, dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def _check_input_dim(self, x: Tensor) -> None:
        """Raise naming this layer unless x has an accepted rank and C channels on axis 1."""
        c = self.num_features
        if x.ndim not in self._ndims or x.shape[self._channel_axis(x)] != c:
            expects = " or ".join(s.format(C=c) for s in self._layouts)
            raise self.input_error(expects, x.shape)

    def _channel_axis(self, x: Tensor) -> int:
        return 1

    @host_call  # it counts batches: deepgrad.compile replays it each step
    def _factor(self) -> float:
        """The running-average weight for this step; momentum None: cumulative (1 / t)."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        self.num_batches_tracked._data += 1
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked._data)
        return self.momentum

    def _short_repr(self) -> str:
        return str(self.num_features)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Batch norm over every axis but the channel axis 1 (Ioffe & Szegedy 2015).

    Training normalises with the batch mean and biased variance and updates
    running_mean / running_var (unbiased) with weight `momentum` (None: a cumulative
    average); evaluation uses the running statistics.
    """

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        factor = self._factor()
        use_batch = self.training or self.running_mean is None
        keep_running = not self.training or self.track_running_stats
        # ops/batch_norm: two primitives (same math as F.batch_norm, about a third of the
        # passes over x; see docs/design.md, "Convolutional networks")
        return channel_batch_norm(
            x,
            self.running_mean if keep_running else None,
            self.running_var if keep_running else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )


@layer_errors(
    ErrorCase(
        lambda: BatchNorm1d(3)(ones_input(2, 4)),
        ValueError,
        r"BatchNorm1d 3 expects input \(N, 3\) or \(N, 3, L\), got \(2, 4\)",
    ),
    ErrorCase(
        lambda: BatchNorm1d(-1), ValueError, r"BatchNorm1d: num_features must be >= 0, got -1"
    ),
)
@layer_cases(
    LayerCase(lambda: BatchNorm1d(3), [(4, 3)]),
    LayerCase(lambda: BatchNorm1d(2, momentum=None), [(3, 2, 4)]),
    LayerCase(lambda: BatchNorm1d(3, affine=False), [(5, 3)]),
    LayerCase(lambda: _eval_bn(BatchNorm1d(3)), [(4, 3, 2)], train=False),
)
class BatchNorm1d(_BatchNorm):
    """Batch norm for (N, C) or (N, C, L): $y = \\gamma (x - \\mu_B) / \\sqrt{\\sigma_B^2 +
    \\epsilon} + \\beta$ per channel (Ioffe & Szegedy 2015)."""

    _layouts = ("(N, {C})", "(N, {C}, L)")
    _ndims = (2, 3)


def _eval_bn(bn: _BatchNorm) -> _BatchNorm:
    """A batch norm with non-trivial running statistics, for the eval-mode check."""
    n = bn.num_features
    bn.running_mean._data[...] = np.linspace(-0.5, 0.5, n)
    bn.running_var._data[...] = np.linspace(0.5, 2.0, n)
    return bn


class _InstanceNorm(_NormBase):
    """Instance norm: each sample's channel normalised over its spatial axes (Ulyanov et al.
    2016).  Unbatched input (C, *spatial) is accepted; defaults affine=False and
    track_running_stats=False, as PyTorch.  Also as PyTorch, num_batches_tracked is never
    incremented and momentum=None leaves the running statistics unchanged."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        dtype=None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype)

    def _channel_axis(self, x: Tensor) -> int:
        return 1 if x.ndim == max(self._ndims) else 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._ndims:
            self._check_input_dim(x)
        batched = x.ndim == max(self._ndims)
        c = x.shape[self._channel_axis(x)]
        if c != self.num_features:
            if self.affine or self.track_running_stats:
                self._check_input_dim(x)
            warnings.warn(
                f"{self.describe()}: got {c} channels, expected {self.num_features}; "
                "normalising anyway (no per-channel state is used)",
                stacklevel=2,
            )
        if not batched:
            x = reshape(x, (1,) + x.shape)
        # As PyTorch: instance norm never counts batches, and momentum=None means no update.
        factor = 0.0 if self.momentum is None else self.momentum
        use_input = self.training or not self.track_running_stats
        y = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input,
            factor,
            self.eps,
        )
        return y if batched else reshape(y, y.shape[1:])


@layer_errors(
    ErrorCase(
        lambda: InstanceNorm1d(3)(ones_input(3)), ValueError, r"InstanceNorm1d 3 expects input"
    )
)
@layer_cases(
    LayerCase(lambda: InstanceNorm1d(3), [(2, 3, 5)]),
    LayerCase(lambda: InstanceNorm1d(2, affine=True), [(2, 4)]),
    LayerCase(lambda: InstanceNorm1d(2, affine=True, track_running_stats=True), [(3, 2, 4)]),
)
class InstanceNorm1d(_InstanceNorm):
    """Instance norm for (N, C, L) or (C, L)."""

    _layouts = ("(N, {C}, L)", "({C}, L)")
    _ndims = (3, 2)


@layer_errors(
    ErrorCase(
        lambda: LayerNorm(4)(ones_input(2, 3)),
        ValueError,
        r"LayerNorm \(4,\) expects input \(\*, 4\), got \(2, 3\)",
    ),
    ErrorCase(
        lambda: LayerNorm(-1), ValueError, r"LayerNorm: normalized_shape must be >= 0, got -1"
    ),
)
@layer_cases(
    LayerCase(lambda: LayerNorm(4), [(2, 3, 4)]),
    LayerCase(lambda: LayerNorm((2, 3), elementwise_affine=False), [(2, 2, 3)]),
    LayerCase(lambda: LayerNorm(3, bias=False), [(5, 3)]),
)
class LayerNorm(Module):
    """$y = \\gamma (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon} + \\beta$ over the trailing
    `normalized_shape` axes of each sample (Ba et al. 2016); same in train and eval."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype=None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(check_int("LayerNorm", "normalized_shape", s) for s in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = _float(dtype)
        _affine_params(
            self, self.normalized_shape, dt, elementwise_affine, elementwise_affine and bias
        )

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape or x.ndim < k:
            dims = ", ".join(str(s) for s in self.normalized_shape)
            raise self.input_error(f"(*, {dims})", x.shape)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def _short_repr(self) -> str:
        return str(self.normalized_shape)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


@layer_errors(
    ErrorCase(
        lambda: GroupNorm(2, 3),
        ValueError,
        r"GroupNorm: num_channels \(3\) must be divisible by num_groups \(2\)",
    ),
    ErrorCase(
        lambda: GroupNorm(1, 3)(ones_input(2, 4)),
        ValueError,
        r"GroupNorm.* expects input \(N, 3, \*\)",
    ),
)
@layer_cases(
    LayerCase(lambda: GroupNorm(2, 4), [(2, 4, 3)]),
    LayerCase(lambda: GroupNorm(1, 3, affine=False), [(2, 3)]),
    LayerCase(lambda: GroupNorm(3, 3), [(2, 3, 2, 2)]),
)
class GroupNorm(Module):
    """Normalise each sample over groups of C / G channels and all spatial axes, then a
    per-channel affine map (Wu & He 2018); works for any number of spatial axes."""

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=None
    ) -> None:
        super().__init__()
        check_int("GroupNorm", "num_groups", num_groups, 1)
        check_int("GroupNorm", "num_channels", num_channels)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                f"({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dt = _float(dtype)
        _affine_params(self, num_channels, dt, affine, affine)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise self.input_error(f"(N, {self.num_channels}, *)", x.shape)
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def _short_repr(self) -> str:
        return f"{self.num_groups} groups, {self.num_channels}"

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
