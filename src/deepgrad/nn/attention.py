"""Attention layers: `MultiheadAttention` (PyTorch's signature and parameter names) and
`AdditiveAttention` (Bahdanau et al. 2015)."""

from __future__ import annotations

import math

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.linalg import matmul
from ..ops.nnops import linear
from ..ops.reduce import mean
from ..ops.shape import permute, reshape, swapaxes
from ..ops.softmax import softmax
from . import attention_functional as AF
from . import functional as F
from . import init
from .linear import Linear
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["AdditiveAttention", "MultiheadAttention"]


def _additive(mask, dtype, what: str, owner: str) -> np.ndarray | Tensor:
    """A MultiheadAttention mask as an additive float mask: bool True (masked) -> -inf."""
    if isinstance(mask, Tensor) and mask.dtype != bool:
        return mask
    m = np.asarray(mask)
    if m.dtype == bool:
        return np.where(m, -np.inf, 0.0).astype(dtype)
    if m.dtype.kind != "f":
        raise TypeError(f"{owner}: {what} must be boolean or floating, got {m.dtype}")
    return m.astype(dtype)


def _add_mask(scores: Tensor, mask) -> Tensor:
    return E.add(scores, mask if isinstance(mask, Tensor) else Tensor(mask))


@layer_cases(
    LayerCase(lambda: MultiheadAttention(4, 2), [(3, 2, 4), (5, 2, 4), (5, 2, 4)]),
    LayerCase(
        lambda: MultiheadAttention(4, 2, batch_first=True, kdim=3, vdim=2),
        [(2, 3, 4), (2, 5, 3), (2, 5, 2)],
    ),
    LayerCase(lambda: MultiheadAttention(2, 1, bias=False), [(3, 2), (3, 2), (3, 2)]),
)
@layer_errors(
    ErrorCase(
        lambda: MultiheadAttention(5, 2), ValueError, r"MultiheadAttention: embed_dim 5 is not"
    ),
    ErrorCase(
        lambda: MultiheadAttention(4, 2)(*(Tensor(np.ones((3, 2, 3))),) * 3),
        ValueError,
        r"MultiheadAttention.*query.*\(L, N, 4\).*got \(3, 2, 3\)",
    ),
)
class MultiheadAttention(Module):
    """$\\mathrm{MHA}(Q, K, V) = [\\mathrm{head}_1, \\dots, \\mathrm{head}_h] W_O^T + b_O$ with
    $\\mathrm{head}_i = \\mathrm{softmax}(Q W_{Q,i}^T (K W_{K,i}^T)^T / \\sqrt{d} + M) V W_{V,i}^T$
    (Vaswani et al. 2017).

    PyTorch's signature and parameters: `in_proj_weight` (3E, E) and `in_proj_bias` packed
    q, k, v (or `q_proj_weight`, `k_proj_weight`, `v_proj_weight` when `kdim`/`vdim`
    differ), `out_proj`.  `forward(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)`
    returns `(output, weights or None)`.  Boolean masks mean True = masked (PyTorch's
    MHA convention); float masks are added.  `is_causal` without a mask builds the
    causal mask (PyTorch requires the mask too).  `add_bias_kv` / `add_zero_attn`
    are not supported.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if num_heads < 1 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads "
                f"{num_heads}"
            )
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, float(dropout)
        self.kdim, self.vdim = kdim or embed_dim, vdim or embed_dim
        self.head_dim = embed_dim // num_heads
        self.batch_first, self.generator = batch_first, generator
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        dt = STATE.default_float if dtype is None else np.dtype(dtype)
        e = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dt))
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dt))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dt))
        if bias:
            self.in_proj_bias = Parameter(np.zeros(3 * e, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt, generator=generator)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's: in-projections xavier_uniform, biases zero, out_proj as Linear."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if hasattr(self, name):
                init.xavier_uniform_(getattr(self, name), generator=generator)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _projections(self) -> tuple:
        e = self.embed_dim
        b = self.in_proj_bias
        bs = (
            (None,) * 3
            if b is None
            else tuple(getitem(b, slice(k * e, (k + 1) * e)) for k in range(3))
        )
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            ws = tuple(getitem(w, slice(k * e, (k + 1) * e)) for k in range(3))
        else:
            ws = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        return ws, bs

    def _batch_major(self, x: Tensor, dim: int, what: str) -> tuple[Tensor, bool]:
        """(N, L, D) view of a (L, N, D) / (N, L, D) / (L, D) input; True if unbatched."""
        if x.ndim not in (2, 3) or x.shape[-1] != dim:
            lay = "(N, L, {0})" if self.batch_first else "(L, N, {0})"
            raise ValueError(
                f"{self.describe()}: {what} must be {lay.format(dim)} or (L, {dim}), got {x.shape}"
            )
        if x.ndim == 2:
            return x.reshape(1, *x.shape), True
        return (x, False) if self.batch_first else (swapaxes(x, 0, 1), False)

    def _heads(self, x: Tensor) -> Tensor:
        n, length = x.shape[0], x.shape[1]
        return permute(reshape(x, (n, length, self.num_heads, self.head_dim)), 0, 2, 1, 3)

    def _mask(self, attn_mask, key_padding_mask, is_causal, n, tgt, src, dtype):
        """attn_mask and key_padding_mask merged into one additive mask (N or 1, H or 1, L, S)."""
        owner = self.describe()
        if attn_mask is None and is_causal:
            attn_mask = ~AF.causal_mask(tgt, src)
        parts = []
        if attn_mask is not None:
            m = _additive(attn_mask, dtype, "attn_mask", owner)
            if tuple(m.shape) == (n * self.num_heads, tgt, src):
                m = m.reshape(n, self.num_heads, tgt, src)
            elif tuple(m.shape) != (tgt, src):
                raise ValueError(
                    f"{owner}: attn_mask must be ({tgt}, {src}) or "
                    f"({n * self.num_heads}, {tgt}, {src}), got {tuple(m.shape)}"
                )
            parts.append(m)
        if key_padding_mask is not None:
            k = _additive(key_padding_mask, dtype, "key_padding_mask", owner)
            if tuple(k.shape) not in ((n, src), (src,)):
                raise ValueError(
                    f"{owner}: key_padding_mask must be ({n}, {src}), got {tuple(k.shape)}"
                )
            parts.append(k.reshape(-1, 1, 1, src))
        return parts

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        q, unbatched = self._batch_major(query, self.embed_dim, "query")
        k, _ = self._batch_major(key, self.kdim, "key")
        v, _ = self._batch_major(value, self.vdim, "value")
        n, tgt, src = q.shape[0], q.shape[1], k.shape[1]
        if k.shape[:2] != v.shape[:2] or k.shape[0] != n:
            raise ValueError(
                f"{self.describe()}: query {query.shape}, key {key.shape} and value "
                f"{value.shape} disagree on batch or source length"
            )
        ws, bs = self._projections()
        qh, kh, vh = (self._heads(linear(x, w, b)) for x, w, b in zip((q, k, v), ws, bs))
        scores = matmul(E.mul(qh, 1.0 / math.sqrt(self.head_dim)), swapaxes(kh, -1, -2))
        mask = self._mask(attn_mask, key_padding_mask, is_causal, n, tgt, src, q.dtype)
        for m in mask:
            scores = _add_mask(scores, m)
        weights = softmax(scores, -1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True, generator=self.generator)
        out = reshape(permute(matmul(weights, vh), 0, 2, 1, 3), (n, tgt, self.embed_dim))
        out = self.out_proj(out)
        if unbatched:
            out = out.reshape(tgt, self.embed_dim)
        elif not self.batch_first:
            out = swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = mean(weights, 1)
        return out, (weights.reshape(*weights.shape[1:]) if unbatched else weights)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"


@layer_cases(
    LayerCase(lambda: AdditiveAttention(3, 2, 4), [(2, 3), (2, 5, 2)]),
)
@layer_errors(
    ErrorCase(
        lambda: AdditiveAttention(3, 2, 4)(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 5, 3)))),
        ValueError,
        r"AdditiveAttention.*keys must be \(N, S, 2\), got \(2, 5, 3\)",
    ),
)
class AdditiveAttention(Module):
    """Bahdanau attention (Bahdanau et al. 2015): $e_j = v^T \\tanh(W_q q + W_k k_j)$,
    $a = \\mathrm{softmax}(e)$, context $= \\sum_j a_j \\mathrm{values}_j$.

    `forward(query (N, Dq), keys (N, S, Dk), values=None, mask=None)` returns
    `(context (N, Dv), weights (N, S))`; values default to the keys; `mask` (N, S)
    booleans, True = may attend.  Weights ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(
        self,
        query_dim: int,
        key_dim: int,
        hidden_dim: int,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.query_dim, self.key_dim, self.hidden_dim = query_dim, key_dim, hidden_dim
        dt = STATE.default_float if dtype is None else np.dtype(dtype)
        self.w_query = Parameter(np.empty((hidden_dim, query_dim), dt))
        self.w_key = Parameter(np.empty((hidden_dim, key_dim), dt))
        self.v = Parameter(np.empty(hidden_dim, dt))
        for p, fan_in in ((self.w_query, query_dim), (self.w_key, key_dim), (self.v, hidden_dim)):
            init.uniform_(p, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in), generator)

    def forward(
        self, query: Tensor, keys: Tensor, values: Tensor | None = None, mask=None
    ) -> tuple[Tensor, Tensor]:
        if keys.ndim != 3 or keys.shape[-1] != self.key_dim:
            raise ValueError(
                f"{self.describe()}: keys must be (N, S, {self.key_dim}), got {keys.shape}"
            )
        if query.ndim != 2 or query.shape[-1] != self.query_dim:
            raise ValueError(
                f"{self.describe()}: query must be (N, {self.query_dim}), got {query.shape}"
            )
        values = keys if values is None else values
        return AF.additive_attention(query, keys, values, self.w_query, self.w_key, self.v, mask)

    def extra_repr(self) -> str:
        return f"{self.query_dim}, {self.key_dim}, hidden_dim={self.hidden_dim}"
