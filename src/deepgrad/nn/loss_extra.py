"""More torch.nn losses: MarginRankingLoss, SoftMarginLoss, MultiLabelMarginLoss,
MultiLabelSoftMarginLoss, PoissonNLLLoss, TripletMarginLoss (modules over
`loss_extra_functional`; keyword-only options as the other losses here)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from . import loss_extra_functional as LF
from .loss import _Loss, _WeightedLoss
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, sign_targets

__all__ = [
    "MarginRankingLoss", "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "PoissonNLLLoss",
    "SoftMarginLoss", "TripletMarginLoss",
]  # fmt: skip


def _ones(*shape) -> Tensor:
    return Tensor(np.ones(shape))


@layer_cases(
    LayerCase(lambda: MarginRankingLoss(margin=0.3), [(5,), (5,)], targets=sign_targets((5,)))
)
@layer_errors(
    ErrorCase(
        lambda: MarginRankingLoss()(_ones(3), _ones(3), np.array([1, 0, 1])),
        ValueError,
        r"margin_ranking_loss: target values must be 1 or -1, got 0",
    )
)
class MarginRankingLoss(_Loss):
    """$\\ell = \\max(0, -y (x_1 - x_2) + m)$."""

    def __init__(self, *, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return LF.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


@layer_cases(LayerCase(lambda: SoftMarginLoss(), [(3, 4)], targets=sign_targets((3, 4))))
@layer_errors(
    ErrorCase(
        lambda: SoftMarginLoss()(_ones(3, 4), np.ones(4)),
        ValueError,
        r"soft_margin_loss: target shape \(4,\) must be \(3, 4\)",
    )
)
class SoftMarginLoss(_Loss):
    """$\\ell = \\log(1 + e^{-y x})$."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return LF.soft_margin_loss(input, target, self.reduction)


def _multilabel_targets(rng: np.random.Generator) -> list:
    t = np.full((3, 4), -1, dtype=np.int64)
    for row in range(3):
        k = int(rng.integers(1, 4))
        t[row, :k] = rng.permutation(4)[:k]
    return [t]


@layer_cases(LayerCase(lambda: MultiLabelMarginLoss(), [(3, 4)], targets=_multilabel_targets))
@layer_errors(
    ErrorCase(
        lambda: MultiLabelMarginLoss()(_ones(2, 3), np.array([[0, 5, -1], [1, -1, 0]])),
        ValueError,
        r"multilabel_margin_loss: target values must be in \[-1, 2\]",
    )
)
class MultiLabelMarginLoss(_Loss):
    """$\\ell_n = \\sum_{j \\in Y} \\sum_{i \\notin Y} \\max(0, 1 - (x_j - x_i)) / C$."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return LF.multilabel_margin_loss(input, target, self.reduction)


@layer_cases(
    LayerCase(
        lambda: MultiLabelSoftMarginLoss(weight=np.array([1.0, 2.0, 0.5, 1.0])),
        [(3, 4)],
        targets=lambda rng: [rng.integers(0, 2, size=(3, 4)).astype(np.float64)],
    )
)
@layer_errors(
    ErrorCase(
        lambda: MultiLabelSoftMarginLoss()(_ones(2, 3), np.ones((3, 2))),
        ValueError,
        r"multilabel_soft_margin_loss: target shape \(3, 2\) must equal input shape \(2, 3\)",
    )
)
class MultiLabelSoftMarginLoss(_WeightedLoss):
    """$\\ell_n = -\\frac1C \\sum_c w_c [y_c \\log \\sigma(x_c)
    + (1 - y_c) \\log \\sigma(-x_c)]$."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return LF.multilabel_soft_margin_loss(input, target, self.weight, self.reduction)


@layer_cases(
    LayerCase(
        lambda: PoissonNLLLoss(), [(3, 4)], targets=lambda rng: [rng.poisson(2.0, (3, 4)) * 1.0]
    ),
    LayerCase(
        lambda: PoissonNLLLoss(log_input=False, full=True),
        [(3, 4)],
        low=0.5,
        high=3.0,
        targets=lambda rng: [rng.poisson(2.0, (3, 4)) * 1.0],
    ),
)
@layer_errors(
    ErrorCase(
        lambda: PoissonNLLLoss()(_ones(2, 3), np.ones(3)),
        ValueError,
        r"poisson_nll_loss: target shape \(3,\) must equal input shape \(2, 3\)",
    )
)
class PoissonNLLLoss(_Loss):
    """$e^x - y x$ (log_input) or $x - y \\log(x + \\epsilon)$, plus Stirling's term if `full`."""

    def __init__(
        self,
        *,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return LF.poisson_nll_loss(
            input, target, self.log_input, self.full, self.eps, self.reduction
        )


@layer_cases(
    LayerCase(lambda: TripletMarginLoss(margin=2.0), [(3, 4), (3, 4), (3, 4)]),
    LayerCase(lambda: TripletMarginLoss(margin=2.0, p=1.0, swap=True), [(3, 4), (3, 4), (3, 4)]),
)
@layer_errors(
    ErrorCase(
        lambda: TripletMarginLoss()(_ones(3, 4), _ones(3, 4), _ones(4)),
        ValueError,
        r"triplet_margin_loss: anchor, positive and negative must all be",
    )
)
class TripletMarginLoss(_Loss):
    """$\\ell = \\max(0, d(a, p) - d(a, n) + m)$ (Schroff et al. 2015)."""

    def __init__(
        self,
        *,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return LF.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )
