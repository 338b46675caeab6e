"""`deepgrad.distributions`: probability distributions with PyTorch's names and conventions.

Every draw takes a `numpy.random.Generator` (the run's); `rsample` is reparameterised
(differentiable in the parameters); `kl_divergence` dispatches on the pair of types.

>>> import deepgrad as dg, numpy as np
>>> p, q = dg.distributions.Normal(0.0, 1.0), dg.distributions.Normal(1.0, 1.0)
>>> float(dg.distributions.kl_divergence(p, q))
0.5
"""

from .bernoulli import Bernoulli
from .categorical import Categorical
from .composite import Independent, MixtureSameFamily
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .normal import Normal

__all__ = [
    "Bernoulli",
    "Categorical",
    "Distribution",
    "Independent",
    "MixtureSameFamily",
    "Normal",
    "kl_divergence",
    "register_kl",
]
