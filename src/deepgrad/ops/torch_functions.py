"""PyTorch's tensor functions that compose from deepgrad's primitives.

Each is differentiable through the primitives it is built from (their VJP/JVP
rules and registry domains cover it); none adds a primitive.  Arguments follow
PyTorch (`dim`, `keepdim`, `unbiased`/`correction`).
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, _wrap, as_tensor
from . import elementwise as E
from . import reduce as R
from . import shape as S
from .cast import cast


def _correction(name: str, unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: pass either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(
    input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None
) -> Tensor:
    """$\\frac{1}{N - c} \\sum_i (x_i - \\bar x)^2$, c = 1 (`unbiased=True`, the default) or 0.

    PyTorch's positional `var(x, dim, unbiased, keepdim)` and `correction=`.
    """
    if isinstance(dim, bool):  # var(x, False): the old positional `unbiased`
        dim, unbiased = None, dim
    c = _correction("var", unbiased, correction)
    return R.var(input, axis, keepdim, correction=c, dim=dim)


def std(
    input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None
) -> Tensor:
    """$\\sqrt{\\mathrm{var}(x)}$ with the same `unbiased`/`correction` as `var`."""
    return E.sqrt(var(input, dim, unbiased, keepdim, correction=correction, axis=axis))


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to `sizes`; -1 keeps that dimension (PyTorch's `expand`), a read-only view."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    nd, lead = input.ndim, len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
            f"number of dims ({nd}); got sizes {sizes} for shape {input.shape}"
        )
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(
                    f"expand: -1 is not allowed in a new leading dim (sizes {sizes})"
                )
            s = input.shape[i - lead]
        shape.append(int(s))
    return S.broadcast_to(input, tuple(shape))


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """$y_i = v$ where $mask_i$ else $x_i$ (mask broadcasts to x's shape)."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    v = value if isinstance(value, Tensor) else as_tensor(value, like=input)
    out = E.where(_wrap(m), v, input)
    if out.shape != input.shape:
        raise RuntimeError(
            f"masked_fill: mask of shape {m.shape} does not broadcast to the input's {input.shape}"
        )
    return cast(out, input.data.dtype) if out.data.dtype != input.data.dtype else out
