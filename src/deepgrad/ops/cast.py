"""dtype casts and the identity: linear maps whose adjoints are themselves."""

from __future__ import annotations

import numpy as np

from ._base import UNARY_CASES, Case, Domain, Tensor, apply, primitive


@primitive(
    "cast",
    vjp=[lambda g, ans, x, dtype: cast(g, x.data.dtype)],
    jvp=[lambda t, ans, x, dtype: cast(t, dtype)],
    domain=Domain(
        [Case(c.shapes, {"dtype": np.dtype(np.float64)}) for c in UNARY_CASES],
    ),
)
def _cast(x, dtype):
    """$y = x$ stored as `dtype`; dy/dx = 1 (gradients are cast back)."""
    return x.astype(dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """`x` converted to `dtype`; differentiable between float dtypes."""
    dt = np.dtype(dtype)
    if x.data.dtype == dt:
        return x
    if dt.kind not in "fc" and x.requires_grad:
        from ..core.tensor import _wrap

        return _wrap(x.data.astype(dt))
    return apply(_cast, x, dtype=dt)


@primitive(
    "identity",
    vjp=[lambda g, ans, x: g],
    jvp=[lambda t, ans, x: t],
    domain=Domain(UNARY_CASES),
)
def _identity(x):
    """$y = x$; a fresh graph node standing for its input (used by the transforms)."""
    return x
