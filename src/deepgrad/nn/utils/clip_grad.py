"""Gradient clipping, in place on `.grad` (Pascanu et al. 2013: clipping the norm tames
exploding gradients in recurrent nets without changing the gradient's direction)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ...core.state import host_call
from ...core.tensor import Tensor, _wrap


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


@host_call  # NumPy on .grad in place: deepgrad.compile replays it
def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients by $\\min(1, c / (\\|g\\|_p + 10^{-6}))$ where $\\|g\\|_p$ is the norm
    of all gradients together; returns that total norm (before clipping)."""
    grads = _grads(parameters)
    if not grads:
        return _wrap(np.zeros((), np.float32))
    p = float(norm_type)
    if math.isinf(p):
        norms = [np.max(np.abs(g._data)) if g._data.size else 0.0 for g in grads]
        total = float(np.max(norms))
    else:
        norms = [np.sum(np.abs(g._data.astype(np.float64)) ** p) for g in grads]
        total = float(np.sum(norms)) ** (1.0 / p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}; set error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g._data *= np.asarray(coef, dtype=g._data.dtype)
    return _wrap(np.asarray(total, dtype=grads[0]._data.dtype))


@host_call
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [-clip_value, clip_value]."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {clip_value}")
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)
