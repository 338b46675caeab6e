"""Recurrent cells as functions of tensors: Elman (tanh / relu), LSTM and GRU steps.

Each `*_cell` takes one time step's input and the previous state; the `*_step`
forms take the input projection $W_{ih} x_t + b_{ih}$ already computed, so a
sequence layer projects all time steps with one matmul and runs only the
recurrent half per step.  Gate orders and layouts are PyTorch's: LSTM
(i, f, g, o), GRU (r, z, n), weights (gates * hidden, in).
"""

from __future__ import annotations

from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.nnops import linear
from ..ops.rnn import lstm_pointwise

__all__ = [
    "gru_cell", "gru_step", "lstm_cell", "lstm_step", "rnn_relu_cell", "rnn_step",
    "rnn_tanh_cell",
]  # fmt: skip


def _gate(x: Tensor, k: int, size: int) -> Tensor:
    """Columns [k size, (k + 1) size) of the last axis: one gate of a fused projection."""
    return getitem(x, (Ellipsis, slice(k * size, (k + 1) * size)))


def rnn_step(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None, relu: bool) -> Tensor:
    """$h' = \\phi(x_p + W_{hh} h + b_{hh})$ with $x_p = W_{ih} x + b_{ih}$ given (Elman 1990)."""
    pre = E.add(xp, linear(h, w_hh, b_hh))
    return E.relu(pre) if relu else E.tanh(pre)


def rnn_tanh_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """Elman cell $h' = \\tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$."""
    return rnn_step(linear(x, w_ih, b_ih), h, w_hh, b_hh, relu=False)


def rnn_relu_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """Elman cell $h' = \\max(0, W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$."""
    return rnn_step(linear(x, w_ih, b_ih), h, w_hh, b_hh, relu=True)


def lstm_step(
    xp: Tensor,
    h: Tensor,
    c: Tensor,
    w_hh: Tensor,
    b_hh: Tensor | None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One LSTM step from $x_p = W_{ih} x + b_{ih}$ (Hochreiter & Schmidhuber 1997):
    $[i, f, g, o] = x_p + W_{hh} h + b_{hh}$, $c' = \\sigma(f) c + \\sigma(i) \\tanh(g)$,
    $h' = W_{hr}(\\sigma(o) \\tanh(c'))$ ($W_{hr}$ only with a projection)."""
    gates = E.add(xp, linear(h, w_hh, b_hh))
    h_new, c_new = lstm_pointwise(gates, c)  # one fused node for the gates and the update
    if w_hr is not None:
        h_new = linear(h_new, w_hr)
    return h_new, c_new


def lstm_cell(
    x: Tensor,
    hx: tuple[Tensor, Tensor],
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """LSTM cell: $(h', c')$ from $x$ and $(h, c)$; gates (i, f, g, o) as `lstm_step`."""
    return lstm_step(linear(x, w_ih, b_ih), hx[0], hx[1], w_hh, b_hh)


def gru_step(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step from $x_p = W_{ih} x + b_{ih}$ (Cho et al. 2014):
    $r = \\sigma(x_r + W_{hr} h + b_{hr})$, $z = \\sigma(x_z + W_{hz} h + b_{hz})$,
    $n = \\tanh(x_n + r (W_{hn} h + b_{hn}))$, $h' = (1 - z) n + z h = n + z (h - n)$."""
    size = h.shape[-1]
    hp = linear(h, w_hh, b_hh)
    r = E.sigmoid(E.add(_gate(xp, 0, size), _gate(hp, 0, size)))
    z = E.sigmoid(E.add(_gate(xp, 1, size), _gate(hp, 1, size)))
    n = E.tanh(E.add(_gate(xp, 2, size), E.mul(r, _gate(hp, 2, size))))
    return E.add(n, E.mul(z, E.sub(h, n)))


def gru_cell(
    x: Tensor,
    h: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
) -> Tensor:
    """GRU cell: $h'$ from $x$ and $h$; gates (r, z, n) as `gru_step`."""
    return gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh)
