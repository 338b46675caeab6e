"""dtype casts and the identity: linear maps whose adjoints are themselves."""

from __future__ import annotations

import numpy as np

from ._base import UNARY_CASES, Case, Domain, ErrorCase, Tensor, _ones, _wrap, apply, primitive


@primitive(
    "cast",
    linear=True,
    transpose=[lambda g, x, dtype: cast(g, x._data.dtype)],
    domain=Domain(
        [Case(c.shapes, {"dtype": np.dtype(np.float64)}) for c in UNARY_CASES],
        errors=[
            ErrorCase(
                lambda: cast(_ones(2), "no-such-dtype"),
                TypeError,
                r"cast: 'no-such-dtype' is not a dtype",
            ),
            ErrorCase(
                lambda: cast(_ones(2), np.complex128), TypeError, r"cast: cannot cast to complex128"
            ),
        ],
    ),
)
def cast_p(x, dtype):
    """$y = x$ stored as `dtype`; dy/dx = 1 (gradients are cast back)."""
    return x.astype(dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """`x` converted to `dtype`; differentiable between float dtypes."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cast: {dtype!r} is not a dtype") from None
    if dt.kind not in "fiub":
        raise TypeError(f"cast: cannot cast to {dt}: deepgrad tensors are real or bool")
    if x._data.dtype == dt:
        return x
    if dt.kind not in "fc" and x.requires_grad:
        return _wrap(x._data.astype(dt))
    return apply(cast_p, x, dtype=dt)


@primitive(
    "identity",
    linear=True,
    transpose=[lambda g, x: g],
    domain=Domain(
        UNARY_CASES,
        errors=[
            ErrorCase(
                lambda: cast(_ones(2), "float64").to(np.complex64),
                TypeError,
                r"cast: cannot cast to complex64",
            )
        ],
    ),
)
def identity_p(x):
    """$y = x$; a fresh graph node standing for its input (used by the transforms)."""
    return x
