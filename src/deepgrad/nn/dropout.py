"""Dropout layers: random masks in training, the identity in evaluation.

Both take `generator=` (a `numpy.random.Generator`; PyTorch uses its global RNG) so a run
is reproducible from its seed; without it the default generator is used.  The
gradient-check cases run in eval mode: in training each call draws a new mask.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from . import functional as F
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors


class _DropoutNd(Module):
    def __init__(
        self, p: float = 0.5, inplace: bool = False, generator: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: probability p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self.inplace = inplace
        self.generator = generator

    def extra_repr(self) -> str:
        return f"p={self.p}"


@layer_errors(
    ErrorCase(
        lambda: Dropout(p=-0.5), ValueError, r"Dropout: probability p must be in \[0, 1\], got -0.5"
    )
)
@layer_cases(LayerCase(lambda: Dropout(0.3), [(3, 4)], train=False))
class Dropout(_DropoutNd):
    """Inverted dropout: $y = x \\odot m / (1 - p)$, $m_i \\sim$ Bernoulli(1 - p), so
    $E[y] = x$ and evaluation needs no rescaling (Srivastava et al. 2014)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace, generator=self.generator)


@layer_errors(
    ErrorCase(
        lambda: AlphaDropout(p=1.5),
        ValueError,
        r"AlphaDropout: probability p must be in \[0, 1\], got 1.5",
    )
)
@layer_cases(LayerCase(lambda: AlphaDropout(0.2), [(3, 4)], train=False))
class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU activations at mean 0 and variance 1: dropped units take
    SELU's saturation value and $a x + b$ restores the moments (Klambauer et al. 2017)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.alpha_dropout(x, self.p, self.training, generator=self.generator)
