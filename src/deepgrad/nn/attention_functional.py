"""Attention as functions of tensors: scaled dot-product and additive (Bahdanau) attention.

`scaled_dot_product_attention` follows `torch.nn.functional.scaled_dot_product_attention`:
a boolean `attn_mask` marks the positions that *may* be attended (True = keep), a
float mask is added to the scores; `is_causal` keeps the lower triangle.  (Careful:
`nn.MultiheadAttention`'s boolean masks mean the opposite, True = masked, as in
PyTorch; the module converts them.)
"""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.linalg import matmul
from ..ops.reduce import sum as _sum
from ..ops.shape import swapaxes
from ..ops.softmax import softmax
from .functional import dropout

__all__ = ["additive_attention", "causal_mask", "scaled_dot_product_attention"]


def causal_mask(length: int, source_length: int | None = None) -> np.ndarray:
    """Boolean (L, S) mask, True on and below the diagonal: query i sees keys j <= i."""
    s = length if source_length is None else source_length
    return np.tril(np.ones((length, s), dtype=bool))


def _masked_scores(scores: Tensor, attn_mask, fn: str) -> Tensor:
    m = np.asarray(attn_mask._data if isinstance(attn_mask, Tensor) else attn_mask)
    try:
        np.broadcast_shapes(m.shape, scores.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: attn_mask of shape {m.shape} does not broadcast to the scores "
            f"(..., L, S) = {scores.shape}"
        ) from None
    if m.dtype == bool:
        return E.where(m, scores, -np.inf)
    if isinstance(attn_mask, Tensor):
        return E.add(scores, attn_mask)
    return E.add(scores, Tensor(m.astype(scores.dtype)))


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """$\\mathrm{softmax}(Q K^T s + M) V$ with $s = 1/\\sqrt{E}$ by default (Vaswani et al.
    2017); Q (..., L, E), K (..., S, E), V (..., S, E_v) -> (..., L, E_v).

    `attn_mask`: boolean (True = may attend) or float (added), broadcast to (..., L, S);
    `is_causal`: query i attends to keys j <= i only; `dropout_p` drops attention
    weights (always applied when > 0, as PyTorch's functional form: pass 0.0 in
    evaluation).  A row with every key masked gives NaN, as in PyTorch.
    `generator=` is deepgrad's addition (the dropout masks' RNG).
    """
    fn = "scaled_dot_product_attention"
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise ValueError(f"{fn}: query, key and value need at least 2 dims (..., L, E)")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{fn}: query (..., L, E) {query.shape}, key (..., S, E) {key.shape} and value "
            f"(..., S, Ev) {value.shape} do not agree"
        )
    if is_causal and attn_mask is not None:
        raise ValueError(f"{fn}: pass either attn_mask or is_causal=True, not both")
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = E.mul(matmul(query, swapaxes(key, -1, -2)), s)
    if is_causal:
        attn_mask = causal_mask(query.shape[-2], key.shape[-2])
    if attn_mask is not None:
        scores = _masked_scores(scores, attn_mask, fn)
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True, generator=generator)
    return matmul(weights, value)


def additive_attention(
    query: Tensor,
    keys: Tensor,
    values: Tensor,
    w_query: Tensor,
    w_key: Tensor,
    v: Tensor,
    mask=None,
) -> tuple[Tensor, Tensor]:
    """Bahdanau attention (Bahdanau et al. 2015): $e_j = v^T \\tanh(W_q q + W_k k_j)$,
    $a = \\mathrm{softmax}(e)$, context $= \\sum_j a_j v_j$.

    query (N, Dq), keys (N, S, Dk), values (N, S, Dv), W_q (H, Dq), W_k (H, Dk), v (H,);
    `mask` (N, S) booleans, True = may attend.  Returns (context (N, Dv), weights (N, S)).
    """
    n, s = keys.shape[0], keys.shape[1]
    if query.ndim != 2 or keys.ndim != 3 or values.shape[:2] != (n, s) or query.shape[0] != n:
        raise ValueError(
            f"additive_attention: query (N, Dq) {query.shape}, keys (N, S, Dk) {keys.shape} "
            f"and values (N, S, Dv) {values.shape} do not agree"
        )
    q = matmul(query, swapaxes(w_query, 0, 1)).reshape(n, 1, -1)
    k = matmul(keys, swapaxes(w_key, 0, 1))
    scores = _sum(E.mul(E.tanh(E.add(k, q)), v), -1)
    if mask is not None:
        scores = _masked_scores(scores, mask, "additive_attention")
    weights = softmax(scores, -1)
    context = matmul(weights.reshape(n, 1, s), values).reshape(n, -1)
    return context, weights
