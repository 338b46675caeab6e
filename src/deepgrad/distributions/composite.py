"""Distributions built from others: `Independent` and `MixtureSameFamily`."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops.index import take_along_axis
from ..ops.reduce import logsumexp
from ..ops.shape import expand_dims, squeeze
from .categorical import Categorical
from .distribution import Distribution, as_float

__all__ = ["Independent", "MixtureSameFamily"]


def _sum_rightmost(x: Tensor, n: int) -> Tensor:
    return x.sum(axis=tuple(range(-n, 0))) if n > 0 else x


class Independent(Distribution):
    """Reinterprets the last `reinterpreted_batch_ndims` batch dims as event dims:
    $\\log p(x) = \\sum_{i} \\log p_{\\text{base}}(x_i)$ over those dims.

    E.g. `Independent(Normal(mu, sigma), 1)` is a diagonal Gaussian over vectors.
    """

    def __init__(
        self,
        base_distribution: Distribution,
        reinterpreted_batch_ndims: int,
        validate_args: bool | None = None,
    ) -> None:
        n = int(reinterpreted_batch_ndims)
        shape = base_distribution.batch_shape + base_distribution.event_shape
        if n < 0 or n > len(base_distribution.batch_shape):
            raise ValueError(
                f"Independent: reinterpreted_batch_ndims must be in [0, "
                f"{len(base_distribution.batch_shape)}] for batch_shape "
                f"{base_distribution.batch_shape}, got {reinterpreted_batch_ndims}"
            )
        cut = len(base_distribution.batch_shape) - n
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        self.has_rsample = base_distribution.has_rsample
        super().__init__(shape[:cut], shape[cut:], validate_args)

    @property
    def mean(self) -> Tensor:
        """The base distribution's mean."""
        return self.base_dist.mean

    @property
    def mode(self) -> Tensor:
        """The base distribution's mode."""
        return self.base_dist.mode

    @property
    def variance(self) -> Tensor:
        """The base distribution's variance."""
        return self.base_dist.variance

    def sample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """The base distribution's sample."""
        return self.base_dist.sample(sample_shape, generator)

    def rsample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """The base distribution's reparameterised sample."""
        return self.base_dist.rsample(sample_shape, generator)

    def log_prob(self, value: Any) -> Tensor:
        """$\\sum$ of the base log-probabilities over the reinterpreted dims."""
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self) -> Tensor:
        """$\\sum$ of the base entropies over the reinterpreted dims."""
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)


class MixtureSameFamily(Distribution):
    """$p(x) = \\sum_k \\pi_k\\, p_k(x)$: a `Categorical` over the last batch dim of
    `component_distribution` (e.g. a Gaussian mixture with `Independent(Normal(...), 1)`).

    `log_prob` is $\\log\\sum_k \\exp(\\log\\pi_k + \\log p_k(x))$ (stable); sampling picks a
    component then draws from it (not reparameterised, as PyTorch).
    """

    def __init__(
        self,
        mixture_distribution: Categorical,
        component_distribution: Distribution,
        validate_args: bool | None = None,
    ) -> None:
        if not isinstance(mixture_distribution, Categorical):
            raise TypeError(
                "MixtureSameFamily: mixture_distribution must be a Categorical, got "
                f"{type(mixture_distribution).__name__}"
            )
        cb = component_distribution.batch_shape
        k = mixture_distribution.num_events
        if not cb or cb[-1] != k or mixture_distribution.batch_shape != cb[:-1]:
            raise ValueError(
                f"MixtureSameFamily: component batch_shape {cb} must be the mixture's "
                f"batch_shape {mixture_distribution.batch_shape} + ({k},)"
            )
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cb[:-1], component_distribution.event_shape, validate_args)

    @property
    def mixture_distribution(self) -> Categorical:
        """The categorical over components."""
        return self._mixture_distribution

    @property
    def component_distribution(self) -> Distribution:
        """The components (last batch dim indexes them)."""
        return self._component_distribution

    def _pad(self, x: Tensor) -> Tensor:
        """Mixture weights shaped to broadcast against a component statistic."""
        for _ in range(self._event_ndims):
            x = expand_dims(x, -1)
        return x

    @property
    def mean(self) -> Tensor:
        """$\\sum_k \\pi_k \\mu_k$."""
        w = self._pad(self._mixture_distribution.probs)
        return (w * self._component_distribution.mean).sum(axis=-1 - self._event_ndims)

    @property
    def variance(self) -> Tensor:
        """Law of total variance: $\\sum_k \\pi_k \\sigma_k^2 + \\sum_k \\pi_k (\\mu_k - \\mu)^2$."""
        axis = -1 - self._event_ndims
        w = self._pad(self._mixture_distribution.probs)
        comp = self._component_distribution
        mean = expand_dims(self.mean, axis)
        return (w * comp.variance).sum(axis=axis) + (w * (comp.mean - mean) ** 2).sum(axis=axis)

    def log_prob(self, value: Any) -> Tensor:
        """$\\log \\sum_k \\exp(\\log \\pi_k + \\log p_k(x))$."""
        value = as_float(value)
        x = expand_dims(value, -1 - self._event_ndims)
        comp = self._component_distribution.log_prob(x)
        log_w = self._mixture_distribution.logits
        return logsumexp(comp + log_w, axis=-1)

    def sample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """Pick component k ~ Categorical(pi), then x ~ p_k (one generator for both)."""
        gen = self._gen(generator)
        idx = self._mixture_distribution.sample(sample_shape, gen)._data
        draws = self._component_distribution.sample(sample_shape, gen)._data
        e = self._event_ndims
        idx = idx.reshape(idx.shape + (1,) * (e + 1))
        idx = np.broadcast_to(idx, idx.shape[: idx.ndim - e] + draws.shape[draws.ndim - e :])
        out = take_along_axis(Tensor(draws), idx, axis=-1 - e)
        return squeeze(out, -1 - e)
