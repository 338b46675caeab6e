"""The univariate normal (Gaussian) distribution, reparameterised."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops.elementwise import log
from .distribution import Distribution, as_float, broadcast_all

__all__ = ["Normal"]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Normal(Distribution):
    """$\\mathcal N(\\mu, \\sigma^2)$: $\\log p(x) = -\\frac{(x-\\mu)^2}{2\\sigma^2} - \\log\\sigma
    - \\tfrac12\\log 2\\pi$.

    `rsample` is the reparameterisation trick (Kingma & Welling 2014): $x = \\mu + \\sigma
    \\epsilon$, $\\epsilon \\sim \\mathcal N(0, 1)$ drawn from the generator, so gradients flow
    to `loc` and `scale`.

    >>> import deepgrad as dg, numpy as np
    >>> d = dg.distributions.Normal(0.0, 2.0)
    >>> round(float(d.log_prob(dg.tensor(0.0))), 4)
    -1.6121
    >>> d.rsample((3,), generator=np.random.default_rng(0)).shape
    (3,)
    """

    has_rsample = True

    def __init__(self, loc: Any, scale: Any, validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        self._check(np.isfinite(self.loc._data), f"loc must be finite, got {self.loc._data}")
        self._check(
            (self.scale._data > 0) & np.isfinite(self.scale._data),
            f"scale must be positive and finite, got {self.scale._data}",
        )

    @property
    def mean(self) -> Tensor:
        """$\\mu$."""
        return self.loc

    @property
    def mode(self) -> Tensor:
        """$\\mu$."""
        return self.loc

    @property
    def stddev(self) -> Tensor:
        """$\\sigma$."""
        return self.scale

    @property
    def variance(self) -> Tensor:
        """$\\sigma^2$."""
        return self.scale * self.scale

    def rsample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """$\\mu + \\sigma \\epsilon$ with $\\epsilon \\sim \\mathcal N(0, I)$ from `generator`."""
        shape = self._extended_shape(sample_shape)
        eps = self._gen(generator).standard_normal(shape).astype(self.loc.dtype)
        return self.loc + self.scale * Tensor(eps)

    def log_prob(self, value: Any) -> Tensor:
        """$-\\frac{(x-\\mu)^2}{2\\sigma^2} - \\log\\sigma - \\tfrac12 \\log 2\\pi$."""
        value = as_float(value, self.loc)
        self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -0.5 * z * z - log(self.scale) - _HALF_LOG_2PI

    def entropy(self) -> Tensor:
        """$\\tfrac12 + \\tfrac12 \\log 2\\pi + \\log \\sigma$."""
        return log(self.scale) + (0.5 + _HALF_LOG_2PI)

    def cdf(self, value: Any) -> Tensor:
        """$\\Phi((x-\\mu)/\\sigma)$ (forward only: uses NumPy's erf via `math`)."""
        value = as_float(value, self.loc)
        z = ((value - self.loc) / self.scale)._data
        erf = np.vectorize(math.erf, otypes=[z.dtype])
        return Tensor(0.5 * (1 + erf(z / math.sqrt(2))))
