"""Connectionist temporal classification loss (Graves et al. 2006) as a composite of ops.

The forward (alpha) recursion runs in log space over the extended label sequence
l' = (blank, l_1, blank, l_2, ..., blank):

    alpha_t(s) = e_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2))

(the s-2 term only when l'_s is not blank and differs from l'_{s-2}), and
loss = -logsumexp(alpha_{T-1}(L-1), alpha_{T-1}(L-2)).  Reverse mode through the
recursion gives the classic alpha-beta gradient; impossible states hold a large
negative number instead of -inf so no gradient is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor, as_tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.reduce import logsumexp
from ..ops.reduce import mean as _mean
from ..ops.reduce import sum as _sum
from ..ops.shape import concatenate, stack
from .loss import _Loss
from .loss_functional import check_reduction
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["CTCLoss", "ctc_loss"]

_NEG = -1e30  # "log 0" that keeps logsumexp's gradient finite


def _lengths(x: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(x._data if isinstance(x, Tensor) else x).astype(np.int64).reshape(-1)
    if arr.shape != (n,):
        raise ValueError(f"ctc_loss: {name} must have one entry per sample ({n}), got {arr.shape}")
    return arr


def _extended(targets, target_lengths: np.ndarray, blank: int) -> np.ndarray:
    """(N, 2 S_max + 1) extended label sequences, padded with blanks."""
    t = np.asarray(targets._data if isinstance(targets, Tensor) else targets).astype(np.int64)
    n, smax = len(target_lengths), int(target_lengths.max(initial=0))
    ext = np.full((n, 2 * smax + 1), blank, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(target_lengths)])
    for i, s in enumerate(target_lengths):
        labels = t[i, :s] if t.ndim == 2 else t[offsets[i] : offsets[i] + s]
        ext[i, 1 : 2 * s : 2] = labels
    return ext


def ctc_loss(
    log_probs: Tensor,
    targets,
    input_lengths,
    target_lengths,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """CTC loss of (T, N, C) log-probabilities against label sequences (padded (N, S) or
    concatenated 1-D targets); 'mean' divides each loss by its target length first."""
    check_reduction("ctc_loss", reduction)
    log_probs = as_tensor(log_probs)
    if log_probs.ndim != 3:
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C), got shape {log_probs.shape}")
    steps, n, c = log_probs.shape
    in_len = _lengths(input_lengths, n, "input_lengths")
    tgt_len = _lengths(target_lengths, n, "target_lengths")
    if in_len.max(initial=0) > steps or in_len.min(initial=1) < 1:
        raise ValueError(f"ctc_loss: input_lengths must be in [1, {steps}], got {in_len.tolist()}")
    ext = _extended(targets, tgt_len, blank)
    if ext.max(initial=0) >= c or ext.min(initial=0) < 0:
        raise ValueError(f"ctc_loss: targets must be class indices in [0, {c}), blank={blank}")
    width = ext.shape[1]
    emit = getitem(log_probs, (slice(None), np.arange(n)[:, None], ext))  # (T, N, L)
    dtype = log_probs._data.dtype
    s_idx = np.arange(width)
    first = np.where(s_idx[None, :] < 2, 0.0, _NEG).astype(dtype) * np.ones((n, 1), dtype)
    prev2 = np.concatenate([np.full((n, 2), blank), ext[:, :-2]], axis=1)
    skip = np.where((ext != blank) & (ext != prev2) & (s_idx >= 2), 0.0, _NEG).astype(dtype)
    neg1, neg2 = Tensor(np.full((n, 1), _NEG, dtype)), Tensor(np.full((n, 2), _NEG, dtype))
    alpha = E.add(emit[0], Tensor(first))
    for t in range(1, steps):
        shift1 = concatenate([neg1, alpha[:, :-1]], axis=1)
        shift2 = E.add(concatenate([neg2, alpha[:, :-2]], axis=1), Tensor(skip))
        new = E.add(emit[t], logsumexp(stack([alpha, shift1, shift2]), axis=0))
        alpha = E.where((t < in_len)[:, None], new, alpha)
    last = 2 * tgt_len
    ends = stack([alpha[np.arange(n), last], alpha[np.arange(n), np.maximum(last - 1, 0)]], 1)
    ends = E.add(
        ends, Tensor(np.stack([np.zeros(n), np.where(last > 0, 0.0, _NEG)], 1).astype(dtype))
    )
    loss = E.neg(logsumexp(ends, axis=1))
    impossible = loss._data > -_NEG / 2
    if impossible.any():
        fill = 0.0 if zero_infinity else np.inf
        loss = E.where(impossible, Tensor(np.full(n, fill, dtype)), loss)
    if reduction == "mean":
        return _mean(E.div(loss, Tensor(np.maximum(tgt_len, 1).astype(dtype))))
    return _sum(loss) if reduction == "sum" else loss


def _ctc_inputs(rng: np.random.Generator) -> list[np.ndarray]:
    logits = rng.normal(size=(6, 2, 4))
    return [logits - np.log(np.exp(logits).sum(-1, keepdims=True))]


@layer_cases(
    LayerCase(
        lambda: CTCLoss(),
        inputs=_ctc_inputs,
        targets=lambda rng: [np.array([[1, 2, 2], [3, 1, 0]]), np.array([6, 5]), np.array([3, 2])],
    ),
    LayerCase(
        lambda: CTCLoss(blank=3, reduction="sum"),
        inputs=_ctc_inputs,
        targets=lambda rng: [np.array([1, 0, 2]), np.array([6, 6]), np.array([2, 1])],
    ),
)
@layer_errors(
    ErrorCase(
        lambda: CTCLoss()(Tensor(np.zeros((3, 2))), [[1]], [3], [1]),
        ValueError,
        r"ctc_loss: log_probs must be \(T, N, C\), got shape \(3, 2\)",
    )
)
class CTCLoss(_Loss):
    """CTC: $-\\log \\sum_{\\pi \\in \\mathcal{B}^{-1}(y)} \\prod_t p_t(\\pi_t)$ over every
    alignment of the labels (Graves et al. 2006)."""

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs: Tensor, targets, input_lengths, target_lengths) -> Tensor:
        return ctc_loss(
            log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction,
            self.zero_infinity,
        )  # fmt: skip
