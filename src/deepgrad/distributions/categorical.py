"""The categorical distribution over {0, ..., K-1}, parameterised by probabilities or logits."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops.elementwise import clip, exp
from ..ops.index import take_along_axis
from ..ops.reduce import logsumexp
from ..ops.shape import broadcast_to, squeeze
from .bernoulli import _exactly_one, probs_to_logits
from .distribution import Distribution, as_float

__all__ = ["Categorical"]


class Categorical(Distribution):
    """$P(x = k) = p_k$, $p = \\mathrm{softmax}(\\ell)$; the last axis of the parameter indexes k.

    Pass `probs` (non-negative, normalised here along the last axis) or unnormalised
    `logits`, as PyTorch; `logits` is stored normalised ($\\ell - \\log\\sum e^\\ell$).
    Samples are int64 class indices.

    >>> import deepgrad as dg
    >>> d = dg.distributions.Categorical(probs=dg.tensor([0.5, 0.25, 0.25]))
    >>> round(float(d.entropy()), 4)
    1.0397
    """

    support_name = "integers in [0, K)"

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        _exactly_one("Categorical", probs, logits)
        param = as_float(probs if logits is None else logits)
        if param.ndim < 1:
            raise ValueError(
                f"Categorical: parameter must have at least 1 dim, got shape {param.shape}"
            )
        self._is_logits = logits is not None
        if self._is_logits:
            self.logits = param - logsumexp(param, axis=-1, keepdims=True)
        else:
            self.probs = param / param.sum(axis=-1, keepdims=True)
        super().__init__(param.shape[:-1], (), validate_args)
        self._num_events = param.shape[-1]
        if not self._is_logits:
            ok = (param._data >= 0).all() and (param._data.sum(-1) > 0).all()
            self._check(ok, f"probs must be non-negative with a positive sum, got {param._data}")
        else:
            self._check(~np.isnan(param._data), f"logits must not be NaN, got {param._data}")

    def __getattr__(self, name: str) -> Tensor:
        if name == "probs" and "logits" in self.__dict__:
            self.probs = exp(self.logits)
            return self.probs
        if name == "logits" and "probs" in self.__dict__:
            self.logits = probs_to_logits(self.probs)
            return self.logits
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def param(self) -> Tensor:
        """The (normalised) parameter the distribution was built from."""
        return self.logits if self._is_logits else self.probs

    @property
    def num_events(self) -> int:
        """K, the number of categories."""
        return self._num_events

    @property
    def mean(self) -> Tensor:
        """Undefined for categories: NaN of the batch shape (as PyTorch)."""
        return Tensor(np.full(self.batch_shape, np.nan, self.param.dtype))

    @property
    def variance(self) -> Tensor:
        """Undefined for categories: NaN of the batch shape (as PyTorch)."""
        return self.mean

    @property
    def mode(self) -> Tensor:
        """$\\arg\\max_k p_k$."""
        return Tensor(np.argmax(self.param._data, axis=-1))

    def sample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """Inverse-CDF draws: the first k with $u < \\sum_{j \\le k} p_j$, u from `generator`."""
        shape = self._extended_shape(sample_shape)
        cdf = np.cumsum(self.probs._data, axis=-1)
        cdf = np.broadcast_to(cdf, shape + (self._num_events,))
        u = self._gen(generator).random(shape + (1,)) * cdf[..., -1:]
        idx = (u >= cdf).sum(axis=-1)
        return Tensor(np.minimum(idx, self._num_events - 1).astype(np.int64))

    def _in_support(self, x: np.ndarray) -> np.ndarray:
        return (x == np.floor(x)) & (x >= 0) & (x < self._num_events)

    def log_prob(self, value: Any) -> Tensor:
        """$\\log p_x$, gathered from the normalised logits (broadcasting value and batch)."""
        value = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
        self._validate_sample(value)
        idx = value._data.astype(np.int64)
        shape = np.broadcast_shapes(idx.shape, self.batch_shape)
        logits = broadcast_to(self.logits, shape + (self._num_events,))
        idx = np.broadcast_to(idx, shape)[..., None]
        return squeeze(take_along_axis(logits, idx, axis=-1), -1)

    def entropy(self) -> Tensor:
        """$-\\sum_k p_k \\log p_k$ (0 log 0 taken as 0)."""
        finfo = np.finfo(self.logits.dtype)
        logits = clip(self.logits, float(finfo.min), None)
        return -(logits * self.probs).sum(axis=-1)

    def enumerate_support(self) -> Tensor:
        """0..K-1 along a new first axis, broadcast over the batch."""
        k = np.arange(self._num_events).reshape((-1,) + (1,) * len(self.batch_shape))
        return Tensor(np.broadcast_to(k, (self._num_events,) + self.batch_shape).copy())
