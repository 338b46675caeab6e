"""Fused recurrent-cell primitives: the pointwise half of an LSTM step in one node.

    lstm_pointwise: [h', c'] = [o tanh(c'), f c + i g]  with  i, f, o = sigmoid(gates_{i,f,o}),
                    g = tanh(gates_g), gates = W_ih x + b_ih + W_hh h + b_hh (PyTorch's order)
                    dc' = g_c + g_h o (1 - tanh^2 c');   dc = dc' f
                    dgates = [dc' g i(1-i), dc' c f(1-f), dc' i (1-g^2), g_h tanh(c') o(1-o)]

The matmuls stay in `linear`; this node replaces the twelve or so elementwise and
slicing nodes of a composite step.  Its rules are written with deepgrad ops (the
activations recomputed from `gates`), so gradients of gradients work; in the usual
no-grad backward each is one NumPy call.  The payoff is mostly memory traffic: the
gate gradient is built in one concatenation instead of four zero-filled scatters
added into one buffer.
"""

from __future__ import annotations

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, apply, primitive
from .elementwise import add, mul, rsub, sigmoid, square, tanh
from .index import getitem
from .shape import concatenate


def _cols(x: Tensor, k: int, size: int) -> Tensor:
    return getitem(x, (Ellipsis, slice(k * size, (k + 1) * size)))


def _acts(gates: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    i, f = sigmoid(_cols(gates, 0, size)), sigmoid(_cols(gates, 1, size))
    return i, f, tanh(_cols(gates, 2, size)), sigmoid(_cols(gates, 3, size))


def _dsig(s: Tensor) -> Tensor:
    return mul(s, rsub(s, 1.0))


def _dc_new(g: Tensor, ans: Tensor, o: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """The total cotangent of c' (through c' itself and through h') and tanh(c')."""
    tc = tanh(_cols(ans, 1, size))
    return add(_cols(g, 1, size), mul(mul(_cols(g, 0, size), o), rsub(square(tc), 1.0))), tc


def _vjp_gates(g, ans, gates, c):
    size = c.shape[-1]
    i, f, gg, o = _acts(gates, size)
    dcn, tc = _dc_new(g, ans, o, size)
    return concatenate(
        [
            mul(mul(dcn, gg), _dsig(i)),
            mul(mul(dcn, c), _dsig(f)),
            mul(mul(dcn, i), rsub(square(gg), 1.0)),
            mul(mul(_cols(g, 0, size), tc), _dsig(o)),
        ],
        -1,
    )


def _vjp_c(g, ans, gates, c):
    size = c.shape[-1]
    f, o = sigmoid(_cols(gates, 1, size)), sigmoid(_cols(gates, 3, size))
    dcn, _ = _dc_new(g, ans, o, size)
    return mul(dcn, f)


def _out_tangent(dc_new: Tensor, dh_direct: Tensor, ans: Tensor, o: Tensor, size: int):
    """[dh', dc'] from the tangent of c' and the part of dh' not through c'."""
    tc = tanh(_cols(ans, 1, size))
    dh = add(dh_direct, mul(mul(o, rsub(square(tc), 1.0)), dc_new))
    return concatenate([dh, dc_new], -1)


def _jvp_gates(t, ans, gates, c):
    size = c.shape[-1]
    i, f, gg, o = _acts(gates, size)
    dcn = add(
        add(mul(mul(_cols(t, 0, size), _dsig(i)), gg), mul(mul(_cols(t, 1, size), _dsig(f)), c)),
        mul(mul(_cols(t, 2, size), rsub(square(gg), 1.0)), i),
    )
    dh_direct = mul(mul(_cols(t, 3, size), _dsig(o)), tanh(_cols(ans, 1, size)))
    return _out_tangent(dcn, dh_direct, ans, o, size)


def _jvp_c(t, ans, gates, c):
    size = c.shape[-1]
    f, o = sigmoid(_cols(gates, 1, size)), sigmoid(_cols(gates, 3, size))
    dcn = mul(t, f)
    return _out_tangent(dcn, mul(dcn, 0.0), ans, o, size)


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


@primitive(
    "lstm_pointwise",
    vjp=[_vjp_gates, _vjp_c],
    jvp=[_jvp_gates, _jvp_c],
    domain=Domain(
        [Case(((2, 8), (2, 2))), Case(((1, 4), (1, 1))), Case(((3, 12), (3, 3)))],
        fn=lambda gates, c: concatenate(list(lstm_pointwise(gates, c)), -1),
        errors=[
            ErrorCase(
                lambda: lstm_pointwise(Tensor(np.ones((2, 6))), Tensor(np.ones((2, 2)))),
                ValueError,
                r"lstm_pointwise: gates \(2, 6\) must be \(N, 4 H\) for c \(2, 2\)",
            )
        ],
    ),
)
def lstm_pointwise_p(gates, c):
    """$c' = \\sigma(f) c + \\sigma(i) \\tanh(g)$, $h' = \\sigma(o) \\tanh(c')$ from the gate
    pre-activations [i, f, g, o]; output [h', c'] (N, 2H).  Derivatives in the module
    docstring (dc = dc' sigma(f), with dc' = g_c + g_h sigma(o) (1 - tanh^2 c'))."""
    size = c.shape[-1]
    i, f = _sig(gates[..., :size]), _sig(gates[..., size : 2 * size])
    g, o = np.tanh(gates[..., 2 * size : 3 * size]), _sig(gates[..., 3 * size :])
    c_new = f * c + i * g
    return np.concatenate([o * np.tanh(c_new), c_new], -1)


def lstm_pointwise(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """The LSTM cell update from gate pre-activations (N, 4H) and the cell state (N, H):
    returns $(h', c')$ with $c' = \\sigma(f) c + \\sigma(i) \\tanh(g)$ and
    $h' = \\sigma(o) \\tanh(c')$, gates in PyTorch's order (i, f, g, o).  One graph node."""
    if (
        gates.ndim != c.ndim
        or gates.shape[:-1] != c.shape[:-1]
        or gates.shape[-1] != 4 * c.shape[-1]
    ):
        raise ValueError(
            f"lstm_pointwise: gates {gates.shape} must be (N, 4 H) for c {c.shape} (N, H)"
        )
    if gates.dtype != c.dtype:
        c = c.to(gates.dtype)
    out = apply(lstm_pointwise_p, gates, c)
    size = c.shape[-1]
    return _cols(out, 0, size), _cols(out, 1, size)
