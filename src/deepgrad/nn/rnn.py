"""Recurrent layers over whole sequences: `RNN` (Elman), `LSTM`, `GRU`.

PyTorch's signatures and semantics: `num_layers`, `bidirectional` (outputs of the
two directions concatenated on the feature axis, states ordered layer-major:
index `layer * 2 + direction`), `batch_first`, `dropout` on every layer's output
but the last (in training), `bias`, `proj_size` (LSTM), initial states, unbatched
input, `PackedSequence` input, and PyTorch's parameter names (`weight_ih_l0`,
`weight_hh_l1_reverse`, `weight_hr_l0`, ...) and order, so a PyTorch state dict
loads as is.

Each layer and direction projects the input of all time steps with one matmul
($W_{ih} x_t + b_{ih}$ for every t) and runs only the recurrent half per step.
deepgrad adds `mask=` ((N, T) booleans, or (T, N) when not `batch_first`): a step
whose mask is False leaves that sequence's state untouched and outputs zeros, so a
right-padded batch with a prefix mask gives each sequence's own run, in both
directions (what `PackedSequence` input does, too).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.nnops import linear
from ..ops.rnn_sequence import gru_sequence, lstm_sequence, rnn_sequence
from ..ops.shape import concatenate, stack, swapaxes
from . import functional as F
from . import init
from . import rnn_functional as RF
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["GRU", "LSTM", "RNN"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    """Shared machinery: parameters per layer and direction, the time loop, states."""

    mode = "RNN_TANH"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if min(input_size, hidden_size, num_layers) < 1:
            raise ValueError(
                f"{name}: input_size, hidden_size and num_layers must be positive, got "
                f"{input_size}, {hidden_size} and {num_layers}"
            )
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        if not 0 <= proj_size < hidden_size:
            raise ValueError(
                f"{name}: proj_size must be in [0, hidden_size = {hidden_size}), got {proj_size}"
            )
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        self.generator = generator
        dt = STATE.default_float if dtype is None else np.dtype(dtype)
        gates = _GATES[self.mode] * hidden_size
        out = proj_size or hidden_size
        dirs = 2 if bidirectional else 1
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else out * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((gates, in_size), dt)))
                setattr(self, "weight_hh" + sfx, Parameter(np.empty((gates, out), dt)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty(gates, dt)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty(gates, dt)))
                if proj_size:
                    setattr(
                        self, "weight_hr" + sfx, Parameter(np.empty((proj_size, hidden_size), dt))
                    )
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def flatten_parameters(self) -> None:
        """A no-op: PyTorch compacts cuDNN weights here; kept so PyTorch code runs as is."""

    @property
    def _dirs(self) -> int:
        return 2 if self.bidirectional else 1

    def _weights(self, layer: int, d: int) -> tuple:
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = lambda n: getattr(self, n + sfx, None)
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    # -- input handling --------------------------------------------------------------------
    def _state_shape(self, n: int, cell: bool) -> tuple[int, int, int]:
        size = self.hidden_size if cell or not self.proj_size else self.proj_size
        return (self.num_layers * self._dirs, n, size)

    def _check_state(self, h: Tensor | None, n: int, unbatched: bool, cell: bool, what: str):
        want = self._state_shape(n, cell)
        if h is None:
            return None
        shown = (want[0], want[2]) if unbatched else want
        if h.shape != shown:
            raise ValueError(f"{self.describe()}: {what} must have shape {shown}, got {h.shape}")
        return h.reshape(want) if unbatched else h

    def _prepare(self, x: Tensor, mask) -> tuple[Tensor, np.ndarray | None, bool]:
        """Input as (T, N, in), the mask as (T, N) booleans (or None), and `unbatched`."""
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            want = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise self.input_error(
                want.format(self.input_size) + f" or (T, {self.input_size})", x.shape
            )
        unbatched = x.ndim == 2
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = swapaxes(x, 0, 1)
        if mask is not None:
            m = np.asarray(mask._data if isinstance(mask, Tensor) else mask, dtype=bool)
            m = m.reshape(-1, 1) if unbatched else (m.T if self.batch_first else m)
            if m.shape != x.shape[:2]:
                raise ValueError(
                    f"{self.describe()}: mask must have shape {x.shape[:2]} (time, batch) or "
                    f"the same with batch_first, got {np.shape(mask)}"
                )
            mask = m
        return x, mask, unbatched

    # -- the time loop -------------------------------------------------------------------
    def _step(self, xp: Tensor, state: tuple, w: tuple) -> tuple:
        _, w_hh, _, b_hh, w_hr = w
        if self.mode == "LSTM":
            return RF.lstm_step(xp, state[0], state[1], w_hh, b_hh, w_hr)
        if self.mode == "GRU":
            return (RF.gru_step(xp, state[0], w_hh, b_hh),)
        return (RF.rnn_step(xp, state[0], w_hh, b_hh, relu=self.mode == "RNN_RELU"),)

    def _fused(self, x: Tensor, state: tuple, w: tuple, reverse: bool, mask) -> tuple:
        """One direction of one layer as one whole-sequence primitive (ops/rnn_sequence.py)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = w
        if self.mode == "LSTM":
            args = (x, state[0], state[1], w_ih, w_hh, b_ih, b_hh)
            out, h, c = lstm_sequence(*args, reverse, mask, w_hr)
            return out, (h, c)
        if self.mode == "GRU":
            out, h = gru_sequence(x, state[0], w_ih, w_hh, b_ih, b_hh, reverse, mask)
            return out, (h,)
        relu = self.mode == "RNN_RELU"
        out, h = rnn_sequence(x, state[0], w_ih, w_hh, b_ih, b_hh, relu, reverse, mask)
        return out, (h,)

    def _direction(self, x: Tensor, state: tuple, w: tuple, reverse: bool, mask) -> tuple:
        """Run one direction of one layer: outputs (T, N, H_out) and the final state.

        One fused primitive per layer and direction (masks and projections included); the
        per-step composition below for an empty sequence or a non-float input."""
        steps = x.shape[0]
        if steps and x.dtype.kind == "f":
            return self._fused(x, state, w, reverse, mask)
        xp = linear(x, w[0], w[2])  # all time steps' input projections: one matmul
        outs: list[Tensor | None] = [None] * steps
        for t in reversed(range(steps)) if reverse else range(steps):
            new = self._step(getitem(xp, t), state, w)
            if mask is None:
                state = new
                outs[t] = new[0]
            else:
                m = mask[t][:, None]
                state = tuple(E.where(m, a, b) for a, b in zip(new, state))
                outs[t] = E.where(m, new[0], 0.0)
        return stack(outs, 0), state

    def _zeros(self, n: int, cell: bool, dtype) -> Tensor:
        return Tensor(np.zeros(self._state_shape(n, cell), dtype))

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor | None, mask) -> tuple:
        """All layers and directions; returns output (T, N, D H_out), h_n and c_n."""
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(self._dirs):
                k = layer * self._dirs + d
                state = (h0[k],) if c0 is None else (h0[k], c0[k])
                out, state = self._direction(x, state, self._weights(layer, d), d == 1, mask)
                outs.append(out)
                h_n.append(state[0])
                if c0 is not None:
                    c_n.append(state[1])
            x = outs[0] if len(outs) == 1 else concatenate(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True, generator=self.generator)
        return x, stack(h_n, 0), (stack(c_n, 0) if c0 is not None else None)

    def _forward(self, x, hx, mask):
        from .utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

        packed = x if isinstance(x, PackedSequence) else None
        if packed is not None:  # unpack in the caller's order, run with a prefix mask
            if mask is not None:
                raise ValueError(f"{self.describe()}: pass either a PackedSequence or a mask")
            x, lengths = pad_packed_sequence(packed, batch_first=self.batch_first)
            mask = np.arange(x.shape[1 if self.batch_first else 0])[:, None] < lengths._data
            mask = mask.T if self.batch_first else mask
        x, mask, unbatched = self._prepare(x, mask)
        h0, c0 = (hx if hx is not None else (None, None)) if self.mode == "LSTM" else (hx, None)
        n = x.shape[1]
        h0 = self._check_state(h0, n, unbatched, False, "h_0")
        h0 = self._zeros(n, False, x.dtype) if h0 is None else h0
        if self.mode == "LSTM":
            c0 = self._check_state(c0, n, unbatched, True, "c_0")
            c0 = self._zeros(n, True, x.dtype) if c0 is None else c0
        out, h_n, c_n = self._run(x, h0, c0, mask)
        if packed is not None:
            out = pack_padded_sequence(out, lengths, enforce_sorted=packed.sorted_indices is None)
        elif unbatched:
            out = out.reshape(out.shape[0], out.shape[2])
            h_n = h_n.reshape(h_n.shape[0], h_n.shape[2])
            c_n = None if c_n is None else c_n.reshape(c_n.shape[0], c_n.shape[2])
        elif self.batch_first:
            out = swapaxes(out, 0, 1)
        return out, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for k, default in [
            ("num_layers", 1), ("bias", True), ("batch_first", False), ("dropout", 0.0),
            ("bidirectional", False), ("proj_size", 0),
        ]:  # fmt: skip
            if getattr(self, k) != default:
                s += f", {k}={getattr(self, k)}"
        return s


_X = [(4, 2, 3)]  # (T, N, in)


@layer_cases(
    LayerCase(lambda: RNN(3, 2), _X + [(1, 2, 2)]),
    LayerCase(lambda: RNN(3, 2, nonlinearity="relu", bias=False), _X, avoid=(0.0,), margin=0.1),
    LayerCase(lambda: RNN(3, 2, num_layers=2, bidirectional=True, batch_first=True), [(2, 3, 3)]),
)
@layer_errors(
    ErrorCase(
        lambda: RNN(3, 2)(Tensor(np.ones((4, 2, 5)))),
        ValueError,
        r"RNN.*expects input \(T, N, 3\) or \(T, 3\), got \(4, 2, 5\)",
    ),
    ErrorCase(lambda: RNN(3, 2, nonlinearity="sin"), ValueError, r"RNN: nonlinearity"),
    ErrorCase(
        lambda: RNN(3, 2)(Tensor(np.ones((4, 2, 3))), Tensor(np.ones((2, 2, 2)))),
        ValueError,
        r"RNN.*h_0 must have shape \(1, 2, 2\), got \(2, 2, 2\)",
    ),
)
class RNN(_RNNBase):
    """Elman network over a sequence: $h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$,
    $\\phi$ tanh or relu, stacked `num_layers` deep (Elman 1990).

    `forward(input, hx=None, mask=None)` returns `(output, h_n)`: output (T, N, D H)
    (batch first if `batch_first`), h_n (D num_layers, N, H), D = 2 if bidirectional.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            0, dtype, generator,
        )  # fmt: skip
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input, hx: Tensor | None = None, mask=None) -> tuple:
        out, h_n, _ = self._forward(input, hx, mask)
        return out, h_n


@layer_cases(
    LayerCase(lambda: LSTM(3, 2), _X),
    LayerCase(lambda: LSTM(2, 2, num_layers=2, bidirectional=True, proj_size=1), [(2, 1, 2)]),
)
@layer_errors(
    ErrorCase(lambda: LSTM(3, 2, proj_size=2), ValueError, r"LSTM: proj_size must be in \[0, "),
    ErrorCase(
        lambda: LSTM(3, 2)(
            Tensor(np.ones((4, 2, 3))), (Tensor(np.ones((1, 2, 2))), Tensor(np.ones((1, 2, 3))))
        ),
        ValueError,
        r"LSTM.*c_0 must have shape \(1, 2, 2\), got",
    ),
)
class LSTM(_RNNBase):
    """Long short-term memory over a sequence (Hochreiter & Schmidhuber 1997), per step
    $[i, f, g, o] = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$,
    $c_t = \\sigma(f) c_{t-1} + \\sigma(i) \\tanh(g)$, $h_t = W_{hr}(\\sigma(o) \\tanh(c_t))$
    ($W_{hr}$ only when `proj_size` > 0, Sak et al. 2014).

    `forward(input, hx=None, mask=None)` with `hx = (h_0, c_0)` returns
    `(output, (h_n, c_n))`: output (T, N, D H_out), h_n (D num_layers, N, H_out),
    c_n (D num_layers, N, H), H_out = proj_size or hidden_size.
    """

    mode = "LSTM"

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None, mask=None) -> tuple:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"{self.describe()}: hx must be a tuple (h_0, c_0)")
        if hx is not None and (hx[0] is None) != (hx[1] is None):
            raise ValueError(f"{self.describe()}: hx must be a tuple (h_0, c_0) of two tensors")
        out, h_n, c_n = self._forward(input, hx, mask)
        return out, (h_n, c_n)


@layer_cases(
    LayerCase(lambda: GRU(3, 2), _X + [(1, 2, 2)]),
    LayerCase(lambda: GRU(2, 2, num_layers=2, bias=False, bidirectional=True), [(3, 2)]),
)
@layer_errors(
    ErrorCase(
        lambda: GRU(3, 2, batch_first=True)(Tensor(np.ones((2, 4, 3))), mask=np.ones((4, 2))),
        ValueError,
        r"GRU.*mask must have shape \(4, 2\) \(time, batch\)",
    ),
    ErrorCase(lambda: GRU(3, 2, dropout=1.5), ValueError, r"GRU: dropout must be a probability"),
)
class GRU(_RNNBase):
    """Gated recurrent unit over a sequence (Cho et al. 2014), per step
    $r = \\sigma(W_{ir} x_t + b_{ir} + W_{hr} h + b_{hr})$, $z$ likewise,
    $n = \\tanh(W_{in} x_t + b_{in} + r (W_{hn} h + b_{hn}))$, $h_t = (1 - z) n + z h_{t-1}$.

    `forward(input, hx=None, mask=None)` returns `(output, h_n)` as `RNN`.
    """

    mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            0, dtype, generator,
        )  # fmt: skip

    def forward(self, input, hx: Tensor | None = None, mask=None) -> tuple:
        out, h_n, _ = self._forward(input, hx, mask)
        return out, h_n
