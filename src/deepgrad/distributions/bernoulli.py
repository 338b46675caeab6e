"""The Bernoulli distribution, parameterised by probabilities or logits."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops.elementwise import clip, log, log1p, sigmoid
from ..ops.nnops import softplus_unit
from .distribution import Distribution, as_float

__all__ = ["Bernoulli", "probs_to_logits"]


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """$\\log p - \\log(1-p)$ (binary) or $\\log p$, with p clamped away from 0 and 1 (PyTorch)."""
    eps = float(np.finfo(probs.dtype).eps)
    p = clip(probs, eps, 1 - eps)
    return log(p) - log1p(-p) if is_binary else log(p)


def _exactly_one(name: str, probs: Any, logits: Any) -> None:
    if (probs is None) == (logits is None):
        raise ValueError(f"{name}: pass exactly one of probs or logits")


class Bernoulli(Distribution):
    """$P(x) = p^x (1-p)^{1-x}$, x in {0, 1}; $\\log P(x) = x \\ell - \\mathrm{softplus}(\\ell)$
    with logit $\\ell = \\log\\frac{p}{1-p}$.

    Pass `probs` or `logits` (not both), as PyTorch.  Values in `log_prob` may be any
    number in [0, 1] with `validate_args=False` (the continuous relaxation used by
    Bernoulli decoders on grey-level images); with validation they must be 0 or 1.

    >>> import deepgrad as dg
    >>> round(float(dg.distributions.Bernoulli(probs=0.25).log_prob(dg.tensor(1.0))), 4)
    -1.3863
    """

    support_name = "{0, 1}"

    def __init__(
        self, probs: Any = None, logits: Any = None, validate_args: bool | None = None
    ) -> None:
        _exactly_one("Bernoulli", probs, logits)
        self._is_logits = logits is not None
        if self._is_logits:
            self.logits = as_float(logits)
            param = self.logits
        else:
            self.probs = as_float(probs)
            param = self.probs
        super().__init__(param.shape, (), validate_args)
        if self._is_logits:
            self._check(~np.isnan(param._data), f"logits must not be NaN, got {param._data}")
        else:
            ok = (param._data >= 0) & (param._data <= 1)
            self._check(ok, f"probs must lie in [0, 1], got {param._data}")

    def __getattr__(self, name: str) -> Tensor:
        # The parameter not given is derived on first use (PyTorch's lazy_property).
        if name == "probs" and "logits" in self.__dict__:
            self.probs = sigmoid(self.logits)
            return self.probs
        if name == "logits" and "probs" in self.__dict__:
            self.logits = probs_to_logits(self.probs, is_binary=True)
            return self.logits
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def param(self) -> Tensor:
        """The parameter the distribution was built from."""
        return self.logits if self._is_logits else self.probs

    @property
    def mean(self) -> Tensor:
        """$p$."""
        return self.probs

    @property
    def mode(self) -> Tensor:
        """1 where $p > 1/2$, else 0."""
        return Tensor((self.probs._data > 0.5).astype(self.probs.dtype))

    @property
    def variance(self) -> Tensor:
        """$p(1-p)$."""
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """0/1 floats: $u < p$ with $u \\sim U(0, 1)$ from `generator` (not differentiable)."""
        shape = self._extended_shape(sample_shape)
        p = np.broadcast_to(self.probs._data, shape)
        u = self._gen(generator).random(shape)
        return Tensor((u < p).astype(self.probs.dtype))

    def _in_support(self, x: np.ndarray) -> np.ndarray:
        return (x == 0) | (x == 1)

    def log_prob(self, value: Any) -> Tensor:
        """$x \\ell - \\mathrm{softplus}(\\ell)$ (the negative binary cross-entropy with logits)."""
        value = as_float(value, self.logits)
        self._validate_sample(value)
        return value * self.logits - softplus_unit(self.logits)

    def entropy(self) -> Tensor:
        """$\\mathrm{softplus}(\\ell) - p \\ell$."""
        return softplus_unit(self.logits) - self.probs * self.logits
