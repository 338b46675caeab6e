"""More of torch.nn.functional's losses: margin ranking, soft margin, multi-label margin and
soft margin, Poisson NLL and triplet margin (composites of ops, PyTorch's formulas)."""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor, _wrap, as_tensor
from ..ops import elementwise as E
from ..ops.nnops import softplus_unit
from ..ops.reduce import mean
from ..ops.reduce import min as _min
from ..ops.reduce import sum as _sum
from ..ops.shape import stack, unsqueeze
from .activation_extra_functional import pairwise_distance
from .loss_functional import _like, _sign_target, check_reduction, reduce

__all__ = [
    "margin_ranking_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss",
    "poisson_nll_loss", "soft_margin_loss", "triplet_margin_loss",
]  # fmt: skip


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """$\\ell = \\max(0, -y (x_1 - x_2) + m)$ with $y \\in \\{1, -1\\}$ saying which input
    should rank higher."""
    check_reduction("margin_ranking_loss", reduction)
    if input1.shape != input2.shape:
        raise ValueError(
            f"margin_ranking_loss: input1 {input1.shape} and input2 {input2.shape} must match"
        )
    y = _sign_target("margin_ranking_loss", target, input1.shape).astype(input1.dtype)
    loss = E.relu(E.add(E.mul(E.sub(input1, input2), _wrap(-y)), margin))
    return reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """$\\ell = \\log(1 + e^{-y x})$ with $y \\in \\{1, -1\\}$ (a smooth hinge)."""
    check_reduction("soft_margin_loss", reduction)
    y = _sign_target("soft_margin_loss", target, input.shape).astype(input.dtype)
    return reduce(softplus_unit(E.mul(input, _wrap(-y))), reduction)


def multilabel_soft_margin_loss(
    input: Tensor, target, weight=None, reduction: str = "mean"
) -> Tensor:
    """$\\ell_n = -\\frac1C \\sum_c w_c [y_c \\log \\sigma(x_c) + (1 - y_c) \\log \\sigma(-x_c)]$,
    one value per sample (target in {0, 1}, shape (N, C))."""
    check_reduction("multilabel_soft_margin_loss", reduction)
    y = _like(target, input)
    if y.shape != input.shape:
        raise ValueError(
            f"multilabel_soft_margin_loss: target shape {y.shape} must equal input shape "
            f"{input.shape}"
        )
    pos = E.mul(y, E.neg(softplus_unit(E.neg(input))))
    neg = E.mul(E.rsub(y, 1.0), E.neg(softplus_unit(input)))
    loss = E.neg(E.add(pos, neg))
    if weight is not None:
        loss = E.mul(loss, _like(weight, input))
    return reduce(mean(loss, axis=input.ndim - 1), reduction)


def _label_sets(name: str, target, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean (N, C) membership from PyTorch's -1-terminated index lists."""
    y = np.asarray(target._data if isinstance(target, Tensor) else target)
    if y.shape != shape or y.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: target must be integer class lists shaped {shape}, got {y.dtype} {y.shape}"
        )
    c = shape[-1]
    if y.size and (y.min() < -1 or y.max() >= c):
        raise ValueError(
            f"{name}: target values must be in [-1, {c - 1}], got {y.min()}..{y.max()}"
        )
    flat = y.reshape(-1, c)
    member = np.zeros(flat.shape, dtype=bool)
    for row, labels in enumerate(flat):
        stop = np.flatnonzero(labels < 0)
        member[row, labels[: stop[0] if stop.size else c]] = True
    return member.reshape(shape)


def multilabel_margin_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """$\\ell_n = \\sum_{j \\in Y} \\sum_{i \\notin Y} \\max(0, 1 - (x_j - x_i)) / C$, with the
    label set Y given as class indices ended by -1 (input (C,) or (N, C))."""
    check_reduction("multilabel_margin_loss", reduction)
    if input.ndim not in (1, 2):
        raise ValueError(f"multilabel_margin_loss: input must be (C,) or (N, C), got {input.shape}")
    member = _label_sets("multilabel_margin_loss", target, input.shape)
    pairs = (member[..., :, None] & ~member[..., None, :]).astype(input.dtype)
    # hinge[n, j, i] = 1 - x_j + x_i
    hinge = E.relu(E.rsub(E.sub(unsqueeze(input, -1), unsqueeze(input, -2)), 1.0))
    loss = E.div(_sum(E.mul(hinge, _wrap(pairs)), axis=(-2, -1)), float(input.shape[-1]))
    return reduce(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood: $e^x - y x$ (log_input) or $x - y \\log(x + \\epsilon)$;
    `full` adds Stirling's $y \\log y - y + \\frac12 \\log(2 \\pi y)$ where y > 1."""
    check_reduction("poisson_nll_loss", reduction)
    y = _like(target, input)
    if y.shape != input.shape:
        raise ValueError(
            f"poisson_nll_loss: target shape {y.shape} must equal input shape {input.shape}"
        )
    if log_input:
        loss = E.sub(E.exp(input), E.mul(y, input))
    else:
        loss = E.sub(input, E.mul(y, E.log(E.add(input, eps))))
    if full:
        yd = y._data
        safe = np.where(yd > 1, yd, 1.0)
        stirling = np.where(
            yd > 1, safe * np.log(safe) - safe + 0.5 * np.log(2 * math.pi * safe), 0
        )
        loss = E.add(loss, _wrap(stirling.astype(yd.dtype)))
    return reduce(loss, reduction)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """$\\ell = \\max(0, d(a, p) - d(a, n) + m)$ with $d$ the p-norm distance
    (Schroff et al. 2015); `swap` uses min(d(a, n), d(p, n)) (Balntas et al. 2016)."""
    check_reduction("triplet_margin_loss", reduction)
    anchor, positive, negative = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    if not anchor.ndim == positive.ndim == negative.ndim or anchor.ndim not in (1, 2):
        raise ValueError(
            "triplet_margin_loss: anchor, positive and negative must all be (D,) or (N, D), got "
            f"{anchor.shape}, {positive.shape}, {negative.shape}"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _min(stack([d_neg, pairwise_distance(positive, negative, p, eps)]), axis=0)
    return reduce(E.relu(E.add(E.sub(d_pos, d_neg), margin)), reduction)
