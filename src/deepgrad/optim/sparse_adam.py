"""SparseAdam: Adam for the sparse gradients of `Embedding(sparse=True)` (PyTorch's semantics).

Only the rows the sparse gradient holds (`nn.sparse_grad.grad_rows`) are updated: their
moments and parameter entries move; every other row's moments stay untouched (they do
not decay, unlike dense Adam, where a zero gradient still shrinks them).  The update per
held row r, at step t (counted per parameter, as PyTorch):

    m_r <- m_r + (1 - b1)(g_r - m_r);  v_r <- v_r + (1 - b2)(g_r^2 - v_r)
    theta_r <- theta_r - lr sqrt(1 - b2^t) / (1 - b1^t) * m_r / (sqrt(v_r) + eps)

(Kingma & Ba 2015, restricted to the held rows; the lines follow torch.optim's
`_sparse_adam`, so float64 trajectories agree with PyTorch to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..nn.sparse_grad import grad_rows
from .optimizer import Optimizer, ParamsT, check_betas, check_nonneg


class SparseAdam(Optimizer):
    """Adam restricted to the rows a sparse gradient holds (lazy Adam).

    >>> import deepgrad as dg
    >>> emb = dg.nn.Embedding(5, 2, sparse=True)
    >>> opt = dg.optim.SparseAdam(emb.parameters(), lr=0.1)
    >>> before = emb.weight.numpy().copy()
    >>> emb(dg.tensor([1, 3])).sum().backward()
    >>> opt.step()
    >>> [bool((emb.weight.numpy()[r] != before[r]).any()) for r in range(5)]
    [False, True, False, True, False]
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": tuple(betas), "eps": eps, "maximize": maximize}
        )

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_betas("SparseAdam", group["betas"])
        check_nonneg("SparseAdam", "eps", group["eps"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One SparseAdam step for every parameter with a sparse gradient."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                rows = _sparse_rows(p)
                state = self.state.get(p)
                if state is None:
                    z = np.zeros_like(p._data)
                    state = self.state[p] = {"step": 0, "exp_avg": z, "exp_avg_sq": z.copy()}
                state["step"] += 1
                _sparse_adam(p._data, p.grad._data, rows, state, group)
        return loss


def _sparse_rows(p) -> np.ndarray:
    rows = grad_rows(p)
    if rows is None:
        raise RuntimeError(
            "SparseAdam does not support dense gradients, please consider Adam instead "
            f"(a parameter of shape {p.shape} has a dense gradient; give it one through "
            "nn.Embedding(..., sparse=True) or F.embedding(..., sparse=True))"
        )
    g = p.grad._data
    outside = np.ones(g.shape[0], bool)
    outside[rows] = False
    if g.ndim and np.any(g[outside]):  # a dense contribution too (a tied weight): dense
        raise RuntimeError(
            "SparseAdam does not support dense gradients, please consider Adam instead "
            f"(the gradient of a parameter of shape {p.shape} is nonzero outside the rows "
            "its sparse lookups hold)"
        )
    return rows


def _sparse_adam(x: np.ndarray, grad: np.ndarray, rows, state: dict, group: dict) -> None:
    """PyTorch's `_sparse_adam` on the held rows (the order of its operations kept)."""
    g = -grad[rows] if group["maximize"] else grad[rows]
    beta1, beta2 = group["betas"]
    m, v = state["exp_avg"], state["exp_avg_sq"]
    old_m, old_v = m[rows], v[rows]
    m_update = (g - old_m) * (1 - beta1)
    m[rows] += m_update
    v_update = (g**2 - old_v) * (1 - beta2)
    v[rows] += v_update
    numer = m_update + old_m
    denom = np.sqrt(v_update + old_v) + group["eps"]
    t = state["step"]
    step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    x[rows] += -step_size * (numer / denom)
