"""Loss modules: `loss_fn(input, target)` -> scalar (or per-element with reduction='none').

Thin wrappers over `deepgrad.nn.functional`.  Differences from PyTorch: the legacy
`size_average` / `reduce` arguments do not exist, so every argument but `weight` is
keyword-only (a positional argument can never land in the wrong legacy slot), and
`reduction` is validated when the loss is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from . import functional as F
from .loss_functional import check_reduction
from .module import Module
from .registry import (
    ErrorCase,
    LayerCase,
    int_targets,
    layer_cases,
    layer_errors,
    ones_input,
    sign_targets,
)


class _Loss(Module):
    _reductions: tuple[str, ...] = ("none", "mean", "sum")

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class `weight`, kept as a buffer (saved, cast with .to)."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else _tensor(weight))


def _tensor(x: Any) -> Tensor:
    """A weight as a tensor: float arrays keep their dtype, anything else gets the default."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    return Tensor(arr if arr.dtype.kind == "f" else arr.astype(STATE.default_float))


def _unit(rng: np.random.Generator, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    return [rng.uniform(0.1, 0.9, size=s) for s in shapes]


_PAIR = [(3, 4), (3, 4)]


@layer_errors(
    ErrorCase(
        lambda: L1Loss(reduction="avg"),
        ValueError,
        r"L1Loss: reduction='avg' is not valid",
    ),
    ErrorCase(
        lambda: L1Loss()(ones_input(2, dtype=np.int64), ones_input(2, dtype=np.int64)),
        TypeError,
        r"l1_loss: input must be a floating-point tensor",
    ),
)
@layer_cases(LayerCase(lambda: L1Loss(), _PAIR), LayerCase(lambda: L1Loss(reduction="none"), _PAIR))
class L1Loss(_Loss):
    """$\\ell = |x - y|$, reduced."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: MSELoss(reduction="avg"),
        ValueError,
        r"MSELoss: reduction='avg' is not valid",
    ),
    ErrorCase(
        lambda: MSELoss()(ones_input(2, dtype=np.int64), ones_input(2, dtype=np.int64)),
        TypeError,
        r"mse_loss: input must be a floating-point tensor",
    ),
)
@layer_cases(
    LayerCase(lambda: MSELoss(), _PAIR), LayerCase(lambda: MSELoss(reduction="sum"), _PAIR)
)
class MSELoss(_Loss):
    """$\\ell = (x - y)^2$, reduced (the Gaussian log-likelihood up to constants)."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: HuberLoss(reduction="avg"),
        ValueError,
        r"HuberLoss: reduction='avg' is not valid",
    )
)
@layer_cases(LayerCase(lambda: HuberLoss(delta=0.5), _PAIR))
class HuberLoss(_Loss):
    """Quadratic for $|d| < \\delta$, linear beyond: robust to outliers (Huber 1964)."""

    def __init__(self, *, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


@layer_errors(
    ErrorCase(
        lambda: SmoothL1Loss(reduction="avg"),
        ValueError,
        r"SmoothL1Loss: reduction='avg' is not valid",
    )
)
@layer_cases(LayerCase(lambda: SmoothL1Loss(beta=0.5), _PAIR))
class SmoothL1Loss(_Loss):
    """Huber loss divided by beta: $d^2 / 2\\beta$ for $|d| < \\beta$, else $|d| - \\beta/2$."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


@layer_errors(
    ErrorCase(
        lambda: BCELoss(reduction="avg"),
        ValueError,
        r"BCELoss: reduction='avg' is not valid",
    )
)
@layer_cases(
    LayerCase(lambda: BCELoss(), inputs=lambda rng: _unit(rng, (3, 4), (3, 4))),
    LayerCase(
        lambda: BCELoss(np.linspace(0.5, 2, 4)), inputs=lambda rng: _unit(rng, (2, 4), (2, 4))
    ),
)
class BCELoss(_WeightedLoss):
    """$\\ell = -w [y \\log x + (1 - y) \\log(1 - x)]$ on probabilities; logs clamped at -100."""

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: BCEWithLogitsLoss(reduction="avg"),
        ValueError,
        r"BCEWithLogitsLoss: reduction='avg' is not valid",
    )
)
@layer_cases(
    LayerCase(
        lambda: BCEWithLogitsLoss(),
        inputs=lambda rng: [rng.normal(size=(3, 4)), *_unit(rng, (3, 4))],
    ),
    LayerCase(
        lambda: BCEWithLogitsLoss(pos_weight=np.array([1.0, 2.0, 0.5])),
        inputs=lambda rng: [rng.normal(size=(2, 3)), *_unit(rng, (2, 3))],
    ),
)
class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid and binary cross-entropy in one stable formula; `pos_weight` (per class, last
    axis) scales the positive term to trade recall for precision."""

    def __init__(self, weight: Any = None, *, reduction: str = "mean", pos_weight: Any = None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", None if pos_weight is None else _tensor(pos_weight))

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


def _probs(rng: np.random.Generator, shape: tuple[int, ...]) -> list[np.ndarray]:
    p = rng.uniform(0.1, 1.0, size=shape)
    return [p / p.sum(axis=1, keepdims=True)]


def _with_ignored(rng: np.random.Generator) -> list[np.ndarray]:
    t = rng.integers(0, 5, size=(6,))
    t[1] = -100
    return [t]


@layer_errors(
    ErrorCase(
        lambda: CrossEntropyLoss(reduction="avg"),
        ValueError,
        r"CrossEntropyLoss: reduction='avg' is not valid",
    ),
    ErrorCase(
        lambda: CrossEntropyLoss()(ones_input(2, 3, dtype=np.int64), np.array([0, 1])),
        TypeError,
        r"cross_entropy: input must be a floating-point tensor",
    ),
    ErrorCase(
        lambda: CrossEntropyLoss()(ones_input(2, 3), np.array([0, 3])),
        IndexError,
        r"cross_entropy: target class 3 at position \(1,\) is out of range",
    ),
)
@layer_cases(
    LayerCase(lambda: CrossEntropyLoss(), [(4, 5)], targets=int_targets((4,), 5)),
    LayerCase(
        lambda: CrossEntropyLoss(np.linspace(0.5, 2.0, 5), label_smoothing=0.1),
        [(6, 5)],
        targets=_with_ignored,
    ),
    LayerCase(
        lambda: CrossEntropyLoss(reduction="none"), [(2, 3, 4)], targets=int_targets((2, 4), 3)
    ),
    LayerCase(
        lambda: CrossEntropyLoss(label_smoothing=0.2),
        [(3, 4)],
        targets=lambda rng: _probs(rng, (3, 4)),
    ),
)
class CrossEntropyLoss(_WeightedLoss):
    """$\\ell_n = -w_{y_n} \\log \\mathrm{softmax}(x_n)_{y_n}$ on logits (N, C) or (N, C, d...);
    targets are class indices (ints) or class probabilities (floats, the input's shape).
    'mean' divides by the summed weights of the counted targets, as PyTorch."""

    def __init__(
        self,
        weight: Any = None,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


@layer_errors(
    ErrorCase(
        lambda: NLLLoss(reduction="avg"),
        ValueError,
        r"NLLLoss: reduction='avg' is not valid",
    ),
    ErrorCase(
        lambda: NLLLoss()(ones_input(2, 3), np.array([0.0, 1.0])),
        TypeError,
        r"nll_loss: class-index targets must be integers",
    ),
)
@layer_cases(
    LayerCase(lambda: NLLLoss(), [(4, 3)], targets=int_targets((4,), 3)),
    LayerCase(
        lambda: NLLLoss(np.array([1.0, 2.0, 0.5, 1.5, 1.0])), [(6, 5)], targets=_with_ignored
    ),
)
class NLLLoss(_WeightedLoss):
    """$\\ell_n = -w_{y_n} x_{n, y_n}$ on log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight: Any = None, *, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: MultiMarginLoss(reduction="avg"),
        ValueError,
        r"MultiMarginLoss: reduction='avg' is not valid",
    ),
    ErrorCase(
        lambda: MultiMarginLoss(p=3),
        ValueError,
        r"MultiMarginLoss: only p = 1 and p = 2",
    ),
)
@layer_cases(
    LayerCase(lambda: MultiMarginLoss(), [(4, 3)], targets=int_targets((4,), 3)),
    LayerCase(
        lambda: MultiMarginLoss(p=2, margin=0.5, weight=np.array([1.0, 2.0, 0.5])),
        [(4, 3)],
        targets=int_targets((4,), 3),
    ),
)
class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge: $\\frac1C \\sum_{i \\ne y} w_y \\max(0, m - x_y + x_i)^p$ (the SVM loss
    of Weston & Watkins 1999)."""

    def __init__(
        self, *, p: int = 1, margin: float = 1.0, weight: Any = None, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p = 1 and p = 2 are supported, got {p}")
        self.p = p
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.multi_margin_loss(input, target, self.p, self.margin, self.weight, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: HingeEmbeddingLoss(reduction="avg"),
        ValueError,
        r"HingeEmbeddingLoss: reduction='avg' is not valid",
    )
)
@layer_cases(
    LayerCase(lambda: HingeEmbeddingLoss(), [(3, 4)], avoid=(1.0,), targets=sign_targets((3, 4)))
)
class HingeEmbeddingLoss(_Loss):
    """$\\ell = x$ for similar pairs (y = 1), $\\max(0, m - x)$ for dissimilar ones (y = -1)."""

    def __init__(self, *, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.hinge_embedding_loss(input, target, self.margin, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: KLDivLoss(reduction="avg"),
        ValueError,
        r"KLDivLoss: reduction='avg' is not valid",
    )
)
@layer_cases(
    LayerCase(
        lambda: KLDivLoss(reduction="batchmean"),
        inputs=lambda rng: [rng.normal(size=(3, 4)), *_unit(rng, (3, 4))],
    ),
    LayerCase(lambda: KLDivLoss(log_target=True), [(3, 4), (3, 4)]),
)
class KLDivLoss(_Loss):
    """$\\ell = p (\\log p - x)$ for log-probabilities x: with reduction='batchmean' this is
    KL(p || q) averaged over the batch (Kullback & Leibler 1951)."""

    _reductions = ("none", "mean", "sum", "batchmean")

    def __init__(self, *, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


@layer_errors(
    ErrorCase(
        lambda: GaussianNLLLoss(reduction="avg"),
        ValueError,
        r"GaussianNLLLoss: reduction='avg' is not valid",
    )
)
@layer_cases(
    LayerCase(
        lambda: GaussianNLLLoss(),
        inputs=lambda rng: [
            rng.normal(size=(3, 2)),
            rng.normal(size=(3, 2)),
            rng.uniform(0.5, 2.0, size=(3, 2)),
        ],
    ),
    LayerCase(
        lambda: GaussianNLLLoss(full=True, reduction="sum"),
        inputs=lambda rng: [
            rng.normal(size=(4, 3)),
            rng.normal(size=(4, 3)),
            rng.uniform(0.5, 2.0, size=(4,)),
        ],
    ),
)
class GaussianNLLLoss(_Loss):
    """$\\ell = \\frac12(\\log v + (x - y)^2 / v)$: the negative log-likelihood of y under
    N(x, v), with v clamped to `eps` (Nix & Weigend 1994).  forward(input, target, var)."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean"):
        super().__init__(reduction)
        self.full = full
        self.eps = eps

    def forward(self, input: Tensor, target: Any, var: Any) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)


@layer_errors(
    ErrorCase(
        lambda: CosineEmbeddingLoss(reduction="avg"),
        ValueError,
        r"CosineEmbeddingLoss: reduction='avg' is not valid",
    )
)
@layer_cases(LayerCase(lambda: CosineEmbeddingLoss(margin=0.2), _PAIR, targets=sign_targets((3,))))
class CosineEmbeddingLoss(_Loss):
    """$\\ell = 1 - \\cos(x_1, x_2)$ for y = 1, $\\max(0, \\cos(x_1, x_2) - m)$ for y = -1."""

    def __init__(self, *, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)
