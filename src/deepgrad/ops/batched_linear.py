"""`batched_linear`: one affine map per sample, the primitive behind per-sample gradients.

    y_b = x_b W_b^T        (x: (B, n, i), W: (B, o, i), y: (B, n, o))
    dx_b = g_b W_b,        dW_b = g_b^T x_b

vmap's rule for `linear` uses it when the weight is batched (the weight of a
`vmap(grad(loss))` is the parameter broadcast over the batch).  It exists for
speed: written as `matmul`, dW with one row per sample (n = 1) is a batched
matrix product with inner size 1, which NumPy runs in its slow generic loop
(about 10x a broadcasting multiply for a 784x256 layer at batch 64).
"""

from __future__ import annotations

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, primitive
from .elementwise import mul
from .linalg import matmul
from .shape import broadcast_to, permute, reshape


def _dw(g: Tensor, x: Tensor) -> Tensor:
    """dW_b = g_b^T x_b: an outer product by broadcasting when n = 1."""
    if x.shape[1] == 1:
        b, o, i = g.shape[0], g.shape[2], x.shape[2]
        return mul(reshape(g, (b, o, 1)), reshape(x, (b, 1, i)))
    return matmul(permute(g, (0, 2, 1)), x)


def _check(x: Tensor, w: Tensor) -> None:
    xs, ws = tuple(x.shape), tuple(w.shape)
    if len(xs) != 3 or len(ws) != 3 or xs[0] != ws[0] or xs[2] != ws[2]:
        raise ValueError(
            f"batched_linear: expected x (B, n, i) and weight (B, o, i), got x {xs} and weight {ws}"
        )


def _rule(xs, batched, nb, /):
    """vmap of batched_linear: fold the new batch axis into the existing one."""
    x, w = (v if b else _bcast(v, nb) for v, b in zip(xs, batched))
    n0 = x.shape[1]
    xf = reshape(x, (nb * n0,) + tuple(x.shape[2:]))
    wf = reshape(w, (nb * n0,) + tuple(w.shape[2:]))
    out = batched_linear_p(xf, wf)
    return reshape(out, (nb, n0) + tuple(out.shape[1:]))


def _bcast(v: Tensor, nb: int) -> Tensor:
    return broadcast_to(reshape(v, (1,) + tuple(v.shape)), (nb,) + tuple(v.shape))


@primitive(
    "batched_linear",
    vjp=[lambda g, ans, x, w: matmul(g, w), lambda g, ans, x, w: _dw(g, x)],
    jvp=[
        lambda t, ans, x, w: batched_linear_p(t, w),
        lambda t, ans, x, w: batched_linear_p(x, t),
    ],
    domain=Domain(
        [Case(((2, 1, 3), (2, 4, 3))), Case(((3, 2, 2), (3, 1, 2))), Case(((1, 1, 1), (1, 1, 1)))],
        fn=lambda x, w: batched_linear(x, w),
        errors=[
            ErrorCase(
                lambda: batched_linear(Tensor(np.ones((2, 1, 3))), Tensor(np.ones((3, 4, 3)))),
                ValueError,
                r"batched_linear: expected x \(B, n, i\) .* x \(2, 1, 3\) and weight \(3, 4, 3\)",
            )
        ],
    ),
    batch=_rule,  # declared inline, as new primitives do
)
def batched_linear_p(x, w):
    """$y_b = x_b W_b^T$; dx_b = g_b W_b, dW_b = g_b^T x_b."""
    return np.matmul(x, np.swapaxes(w, -1, -2))


def batched_linear(x: Tensor, weight: Tensor) -> Tensor:
    """y_b = x_b W_b^T for every b (x: (B, n, i), weight: (B, o, i)) -> (B, n, o)."""
    _check(x, weight)
    return batched_linear_p(x, weight)
