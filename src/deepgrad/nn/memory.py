"""Key-value memory read by attention over several hops (Sukhbaatar et al. 2015's end-to-end
memory network; Miller et al. 2016's key-value form)."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.linalg import matmul
from ..ops.shape import stack
from ..ops.softmax import softmax
from .container import ModuleList
from .linear import Linear
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["KeyValueMemory"]


@layer_cases(
    LayerCase(lambda: KeyValueMemory(3, hops=2), [(2, 3), (2, 4, 3), (2, 4, 3)]),
    LayerCase(lambda: KeyValueMemory(2, hops=3, hop_linear=False), [(1, 2), (1, 3, 2), (1, 3, 2)]),
)
@layer_errors(
    ErrorCase(
        lambda: KeyValueMemory(3)(*(Tensor(np.ones(s)) for s in [(2, 3), (2, 4, 3), (2, 5, 3)])),
        ValueError,
        r"KeyValueMemory.*keys \(N, M, 3\) \(2, 4, 3\) and values \(N, M, 3\) \(2, 5, 3\)",
    )
)
class KeyValueMemory(Module):
    """`hops` rounds of reading a memory: $p = \\mathrm{softmax}(K u)$, $o = \\sum_i p_i v_i$,
    $u \\leftarrow R_k (u + o)$ ($R_k$ a linear map per hop, Miller et al. 2016; the identity
    with `hop_linear=False`, Sukhbaatar et al. 2015).

    `forward(query (N, D), keys (N, M, D), values (N, M, D), mask=None)` returns
    `(u (N, D), attention (N, hops, M))`; `mask` (N, M) booleans, True = a real memory.
    """

    def __init__(
        self,
        dim: int,
        hops: int = 3,
        hop_linear: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if dim < 1 or hops < 1:
            raise ValueError(f"KeyValueMemory: dim and hops must be positive, got {dim}, {hops}")
        self.dim, self.hops = dim, hops
        self.hop_maps = ModuleList(
            [Linear(dim, dim, bias=False, dtype=dtype, generator=generator) for _ in range(hops)]
            if hop_linear
            else []
        )

    def forward(self, query: Tensor, keys: Tensor, values: Tensor, mask=None) -> tuple:
        d = self.dim
        if query.ndim != 2 or query.shape[1] != d or keys.ndim != 3 or keys.shape != values.shape:
            raise ValueError(
                f"{self.describe()}: expects query (N, {d}) {query.shape}, keys (N, M, {d}) "
                f"{keys.shape} and values (N, M, {d}) {values.shape}"
            )
        n, m = keys.shape[0], keys.shape[1]
        u, maps = query, []
        for k in range(self.hops):
            scores = matmul(keys, u.reshape(n, d, 1)).reshape(n, m)
            if mask is not None:
                scores = E.where(np.asarray(mask, dtype=bool), scores, -np.inf)
            p = softmax(scores, -1)
            o = matmul(p.reshape(n, 1, m), values).reshape(n, d)
            u = E.add(u, o)
            if len(self.hop_maps):
                u = self.hop_maps[k](u)
            maps.append(p)
        return u, stack(maps, 1)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, hops={self.hops}, hop_linear={len(self.hop_maps) > 0}"
