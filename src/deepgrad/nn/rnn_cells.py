"""Recurrent cells: `RNNCell` (Elman, tanh or relu), `LSTMCell`, `GRUCell`.

PyTorch's signatures, parameter names (`weight_ih`, `weight_hh`, `bias_ih`,
`bias_hh`), layouts ((gates * hidden, in)) and initialisation
(U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter), so a PyTorch state
dict loads as is.  A cell takes a batch (N, in) or one unbatched vector (in,).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from . import init
from . import rnn_functional as RF
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "init_recurrent_"]


def _float(dtype) -> np.dtype:
    return STATE.default_float if dtype is None else np.dtype(dtype)


def init_recurrent_(
    module: Module,
    orthogonal: bool = True,
    forget_bias: float | None = 1.0,
    generator: np.random.Generator | None = None,
) -> Module:
    """Re-initialise a recurrent cell or layer in place: every `weight_hh*` orthogonal
    per gate block (Saxe et al. 2014), and the LSTM forget-gate bias set so that
    $b_{ih,f} + b_{hh,f} = $ `forget_bias` (Gers et al. 2000; Jozefowicz et al. 2015),
    which keeps the cell's memory open early in training.  Returns `module`."""
    lstm = isinstance(module, LSTMCell) or type(module).__name__ == "LSTM"
    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if orthogonal and leaf.startswith("weight_hh"):
            rows = p.shape[1]
            for k in range(p.shape[0] // max(rows, 1) if rows else 0):
                block = Tensor(np.empty((rows, rows), p._data.dtype))
                init.orthogonal_(block, generator=generator)
                p._data[k * rows : (k + 1) * rows] = block._data
        if lstm and forget_bias is not None and leaf.startswith("bias_"):
            h = p.shape[0] // 4
            p._data[h : 2 * h] = forget_bias / 2.0
    return module


def _states(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """A random LSTM state (h, c) for the gradient-check cases (passed as a constant)."""
    return Tensor(rng.uniform(-1, 1, shape)), Tensor(rng.uniform(-1, 1, shape))


class _CellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, dtype, generator) -> None:
        super().__init__()
        name = type(self).__name__
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"{name}: input_size and hidden_size must be positive, "
                f"got {input_size} and {hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = _float(dtype)
        g = self._gates * hidden_size
        self.weight_ih = Parameter(np.empty((g, input_size), dt))
        self.weight_hh = Parameter(np.empty((g, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(g, dt))
            self.bias_hh = Parameter(np.empty(g, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def _check(self, x: Tensor, hx: Tensor | None) -> tuple[Tensor, bool]:
        """Validate `x` ((N, in) or (in,)); return it batched and whether it was 1-D."""
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise self.input_error(f"(N, {self.input_size}) or ({self.input_size},)", x.shape)
        if x.ndim == 1:
            return x.reshape(1, -1), True
        return x, False

    def _state(self, x: Tensor, h: Tensor | None, what: str) -> Tensor:
        want = (x.shape[0], self.hidden_size)
        if h is None:
            return Tensor(np.zeros(want, x.dtype))
        h = h.reshape(1, -1) if h.ndim == 1 else h
        if h.shape != want:
            raise ValueError(f"{self.describe()}: {what} must have shape {want}, got {h.shape}")
        return h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


_RNN_ERR = ErrorCase(
    lambda: RNNCell(3, 2)(Tensor(np.ones((4, 5)))),
    ValueError,
    r"RNNCell.*expects input \(N, 3\) or \(3,\), got \(4, 5\)",
)


@layer_cases(
    LayerCase(lambda: RNNCell(3, 2), [(4, 3), (4, 2)]),
    LayerCase(lambda: RNNCell(3, 2, nonlinearity="relu"), [(4, 3), (4, 2)], avoid=(0.0,)),
    LayerCase(lambda: RNNCell(2, 3, bias=False), [(2,), (3,)]),
)
@layer_errors(
    _RNN_ERR,
    ErrorCase(lambda: RNNCell(3, 2, nonlinearity="gelu"), ValueError, r"RNNCell: nonlinearity"),
)
class RNNCell(_CellBase):
    """Elman cell $h' = \\phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})$, $\\phi$ tanh or relu
    (Elman 1990); `hx` defaults to zeros."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, dtype, generator)
        self.nonlinearity = nonlinearity

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        xb, single = self._check(x, hx)
        h = self._state(xb, hx, "hx")
        cell = RF.rnn_relu_cell if self.nonlinearity == "relu" else RF.rnn_tanh_cell
        out = cell(xb, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.reshape(-1) if single else out

    def extra_repr(self) -> str:
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


@layer_cases(
    LayerCase(lambda: LSTMCell(3, 2), [(4, 3)], targets=lambda rng: [_states(rng, (4, 2))]),
    LayerCase(lambda: LSTMCell(2, 3, bias=False), [(2,)], targets=lambda rng: [_states(rng, (3,))]),
)
@layer_errors(
    ErrorCase(
        lambda: LSTMCell(3, 2)(Tensor(np.ones((4, 3))), (Tensor(np.ones((4, 3))),) * 2),
        ValueError,
        r"LSTMCell.*h_0 must have shape \(4, 2\), got \(4, 3\)",
    )
)
class LSTMCell(_CellBase):
    """LSTM cell (Hochreiter & Schmidhuber 1997; Gers et al. 2000), gates in PyTorch's order:
    $[i, f, g, o] = W_{ih} x + b_{ih} + W_{hh} h + b_{hh}$,
    $c' = \\sigma(f) \\odot c + \\sigma(i) \\odot \\tanh(g)$, $h' = \\sigma(o) \\odot \\tanh(c')$.
    Returns `(h', c')`; `hx = (h, c)` defaults to zeros."""

    _gates = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype, generator)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        xb, single = self._check(x, None)
        h = self._state(xb, None if hx is None else hx[0], "h_0")
        c = self._state(xb, None if hx is None else hx[1], "c_0")
        h1, c1 = RF.lstm_cell(
            xb, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        )
        return (h1.reshape(-1), c1.reshape(-1)) if single else (h1, c1)


@layer_cases(
    LayerCase(lambda: GRUCell(3, 2), [(4, 3), (4, 2)]),
    LayerCase(lambda: GRUCell(2, 3, bias=False), [(2,), (3,)]),
)
@layer_errors(
    ErrorCase(
        lambda: GRUCell(3, 2)(Tensor(np.ones((4, 3))), Tensor(np.ones((5, 2)))),
        ValueError,
        r"GRUCell.*hx must have shape \(4, 2\), got \(5, 2\)",
    )
)
class GRUCell(_CellBase):
    """GRU cell (Cho et al. 2014), gates in PyTorch's order (r, z, n):
    $r = \\sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr})$, $z$ likewise,
    $n = \\tanh(W_{in} x + b_{in} + r \\odot (W_{hn} h + b_{hn}))$, $h' = (1 - z) n + z h$."""

    _gates = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, dtype, generator)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> Tensor:
        xb, single = self._check(x, hx)
        h = self._state(xb, hx, "hx")
        out = RF.gru_cell(xb, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out.reshape(-1) if single else out
