"""Array-level VJPs for rules that read their inputs' values with NumPy.

A rule such as relu's (`g * (ans > 0)`) builds a mask from the arrays, which a trace
cannot see being computed; such a rule would be run whole, on tensors, at every
replay.  For the hot ones this table gives the same computation on arrays, call for
call (the same primitive forwards on the same masks), so the gradients stay bitwise
the eager ones: `tests/jit` compares them with the rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.primitive import REGISTRY
from ..ops._pool_kernels import _first_max_mask


def _relu_vjp(g: np.ndarray, ans: np.ndarray, x: np.ndarray) -> np.ndarray:
    """relu's rule, mul(g, ans > 0), on arrays."""
    return REGISTRY["mul"].forward(g, ans > 0)


def _max_pool_vjp(g: np.ndarray, ans: np.ndarray, x: np.ndarray, **p) -> np.ndarray:
    """max_pool's rule, window_put(g, first-argmax mask), on arrays."""
    mask = _first_max_mask(x, ans, **p)
    return REGISTRY["window_put"].forward(g, mask=mask, size=x.shape[2:], **p)


ARRAY_VJPS: dict[tuple[str, int], Callable[..., np.ndarray]] = {
    ("relu", 0): _relu_vjp,
    ("max_pool", 0): _max_pool_vjp,
}
