"""Whole-sequence recurrent primitives: one graph node per layer and direction.

    lstm_sequence(x, h0, c0, W_ih, W_hh, b_ih, b_hh) -> [y_0 .. y_{T-1}, h_n, c_n]  (T + 2, N, H)
    lstm_proj_sequence(..., W_hr)                    -> the same, y and h_n in P < H columns
    gru_sequence(x, h0, W_ih, W_hh, b_ih, b_hh)      -> [y_0 .. y_{T-1}, h_n]       (T + 1, N, H)
    rnn_sequence(x, h0, W_ih, W_hh, b_ih, b_hh)      -> [y_0 .. y_{T-1}, h_n]       (T + 1, N, H)

x is time-major (T, N, in); `reverse=True` runs the steps from T - 1 down to 0 (the
backward direction of a bidirectional layer), outputs still indexed by time.  The math
of each step is that of `nn.LSTMCell`, `nn.GRUCell`, `nn.RNNCell` (PyTorch's gate order);
y_t = h_t, except that with a (T, N) boolean `mask` a False step keeps the sequence's
state and outputs y_t = 0 (`nn.RNN`/`LSTM`/`GRU`'s `mask=` and PackedSequence input).

Backward through time (the kernels in `_rnn_kernels.py`), with gate gradients
$\\delta_t = \\partial L / \\partial z_t$ (z the gate pre-activations) stacked into one (T N, G H)
buffer $\\Delta$: $dh_{t-1} = \\delta_t W_{hh}$ (+ the direct paths of the gates) inside the loop,
then $dx = \\Delta W_{ih}$, $dW_{ih} = \\Delta^T X$, $dW_{hh} = \\Delta^T H_{prev}$, $db = \\sum \\Delta$
as single large products after it.

Higher order: the fast VJP is written in NumPy, so it is not itself differentiable.  When
the backward is recorded (`create_graph=True`), when forward-mode tangents are active,
or inside `vmap`, the rules instead differentiate the
composed per-step path (`linear`, `lstm_pointwise`, elementwise ops), whose gradients
of gradients work as for any composite; the JVP rules always use that path (forward mode
on a whole recurrent layer is rare; correctness over speed there).  vmap folds its axis
into the batch axis N when the weights are shared (one call), and loops over per-sample
weights.
"""

from __future__ import annotations

import numpy as np

from ..core import autodiff
from ..core.state import STATE
from . import _rnn_kernels as K
from ._base import REGISTRY, Case, Domain, ErrorCase, Tensor, _wrap, apply, primitive
from .elementwise import add, mul, relu, sigmoid, sub, tanh, where
from .index import getitem
from .nnops import linear
from .rnn import lstm_pointwise
from .shape import broadcast_to, pad, permute, reshape, stack

__all__ = ["gru_sequence", "lstm_sequence", "rnn_sequence"]


# --- the composed per-step path: reference and differentiable fallback ------------------


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _keep(mask, t: int, new, prev):
    """The state after step t: the new one where the step is on, the previous elsewhere."""
    return new if mask is None else where(mask[t][:, None], new, prev)


def _out(mask, t: int, new):
    return new if mask is None else where(mask[t][:, None], new, 0.0)


def _with_final(ys: list, *finals) -> Tensor:
    """[y_0 .. y_{T-1}, *finals] stacked on a new first axis: the primitives' output rows."""
    return stack(list(ys) + list(finals), 0)


def _lstm_composed(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr=None, reverse=False, mask=None):
    xp = linear(x, w_ih, b_ih)
    h, c, ys = h0, c0, [None] * x.shape[0]
    for t in _order(x.shape[0], reverse):
        hn, cn = lstm_pointwise(add(getitem(xp, t), linear(h, w_hh, b_hh)), c)
        hn = hn if w_hr is None else linear(hn, w_hr)
        h, c, ys[t] = _keep(mask, t, hn, h), _keep(mask, t, cn, c), _out(mask, t, hn)
    if w_hr is not None:  # the y and h_n rows hold P < H columns: zeros after them
        width = ((0, 0), (0, c0.shape[-1] - h0.shape[-1]))
        ys, h = [pad(y, width) for y in ys], pad(h, width)
    return _with_final(ys, h, c)


def _gru_composed(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False, mask=None):
    xp = linear(x, w_ih, b_ih)
    size = h0.shape[-1]
    h, ys = h0, [None] * x.shape[0]
    cols = [(Ellipsis, slice(k * size, (k + 1) * size)) for k in range(3)]
    for t in _order(x.shape[0], reverse):
        xt, hp = getitem(xp, t), linear(h, w_hh, b_hh)
        r = sigmoid(add(getitem(xt, cols[0]), getitem(hp, cols[0])))
        z = sigmoid(add(getitem(xt, cols[1]), getitem(hp, cols[1])))
        n = tanh(add(getitem(xt, cols[2]), mul(r, getitem(hp, cols[2]))))
        hn = add(n, mul(z, sub(h, n)))
        h, ys[t] = _keep(mask, t, hn, h), _out(mask, t, hn)
    return _with_final(ys, h)


def _rnn_composed(x, h0, w_ih, w_hh, b_ih, b_hh, relu_=False, reverse=False, mask=None):
    xp = linear(x, w_ih, b_ih)
    h, ys = h0, [None] * x.shape[0]
    for t in _order(x.shape[0], reverse):
        pre = add(getitem(xp, t), linear(h, w_hh, b_hh))
        hn = relu(pre) if relu_ else tanh(pre)
        h, ys[t] = _keep(mask, t, hn, h), _out(mask, t, hn)
    return _with_final(ys, h)


# --- rules ----------------------------------------------------------------------------------


def _composed_grads(composed, g, xs, static) -> list:
    """The gradients by differentiating the composed path (recorded when create_graph)."""
    live = [k for k, x in enumerate(xs) if x.requires_grad]
    create, old = STATE.grad, STATE.grad
    STATE.grad = True
    try:
        out = composed(*xs, **static)
        res = autodiff.grad(
            [out], [xs[k] for k in live], [g], retain_graph=create, create_graph=create
        )
    finally:
        STATE.grad = old
    grads: list = [None] * len(xs)
    for k, r in zip(live, res):
        grads[k] = r
    return grads


def _vjp_rules(n: int, composed, fast) -> list:
    """Rule k returns entry k of all gradients, computed once per cotangent and cached on
    the node's saved state until the last input that needs one has taken it."""

    def make(k: int):
        def rule(g, ans, *xs, saved, **static):
            cache = None if saved is None else saved.get("grads")
            if (
                cache is None or cache[0] is not g._data
            ):  # the array: dg.compile wraps it anew per rule
                if saved is None or STATE.grad or STATE.levels or STATE.batch:
                    grads = _composed_grads(composed, g, xs, static)
                else:
                    need_x = xs[0].requires_grad
                    arrays = fast(g._data, ans._data, [x._data for x in xs], saved, need_x, static)
                    grads = [None if a is None else _wrap(a) for a in arrays]
                cache = (g._data, grads)
                if saved is not None:
                    saved["grads"] = cache
            if saved is not None and k == max(i for i, x in enumerate(xs) if x.requires_grad):
                saved["grads"] = None  # the last taker: free the cached gradients
            return cache[1][k]

        return rule

    return [make(k) for k in range(n)]


def _jvp_rules(n: int, composed) -> list:
    """Rule k: the tangent of the composed path for tangent t of input k, at a fresh inner
    forward level; the levels at and above the one being computed are hidden meanwhile,
    the outer ones stay live (so forward over forward works)."""

    def make(k: int):
        def rule(t, ans, *xs, saved, **static):
            level, cutoff = STATE.cutoff, STATE.cutoff
            hidden = {lv for lv in STATE.levels if lv >= level}
            inner = STATE.next_level
            STATE.next_level += 1
            STATE.levels.difference_update(hidden)
            STATE.levels.add(inner)
            STATE.fwd += 1
            STATE.cutoff = 1 << 62
            try:
                alias = apply(REGISTRY["identity"], xs[k])
                alias._tangents = dict(alias._tangents or {})
                alias._tangents[inner] = t
                out = composed(*xs[:k], alias, *xs[k + 1 :], **static)
                tangent = out._tangents.pop(inner, None) if out._tangents else None
            finally:
                STATE.levels.discard(inner)
                STATE.levels.update(hidden)
                STATE.fwd -= 1
                STATE.cutoff = cutoff
            return _wrap(np.zeros_like(ans._data)) if tangent is None else tangent

        return rule

    return [make(k) for k in range(n)]


def _lstm_fast(g, ans, xs, saved, need_x, static):
    x, h0, c0, w_ih, w_hh = xs[:5]
    w_hr = xs[7] if len(xs) == 8 else None
    rev, mask = static.get("reverse", False), static.get("mask")
    dx, dh0, dc0, dw_ih, dw_hh, db, dw_hr = K.lstm_backward(
        g, x, h0, c0, w_ih, w_hh, saved["arrays"], rev, need_x, mask, w_hr
    )
    grads = (dx, dh0, dc0, dw_ih, dw_hh, db, db.copy())
    return grads if w_hr is None else grads + (dw_hr,)


def _gru_fast(g, ans, xs, saved, need_x, static):
    x, h0, w_ih, w_hh = xs[:4]
    rev, mask = static.get("reverse", False), static.get("mask")
    return K.gru_backward(g, x, h0, w_ih, w_hh, saved["arrays"], rev, need_x, mask)


def _rnn_fast(g, ans, xs, saved, need_x, static):
    x, h0, w_ih, w_hh = xs[:4]
    relu_, rev, mask = static.get("relu_", False), static.get("reverse", False), static.get("mask")
    dx, dh0, dw_ih, dw_hh, db = K.rnn_backward(
        g, x, h0, w_ih, w_hh, saved["arrays"], relu_, rev, need_x, mask
    )
    return dx, dh0, dw_ih, dw_hh, db, db.copy()


# --- vmap -----------------------------------------------------------------------------------


def _shared(t: Tensor, batched: bool, size: int) -> Tensor:
    return t if batched else broadcast_to(reshape(t, (1,) + t.shape), (size,) + t.shape)


def _fold_rule(name: str, n_states: int):
    """vmap's rule: with the weights shared, the vmap axis B folds into the batch axis N, so
    one call runs on (T, B N, ...); batched weights ask for the loop (None)."""

    def rule(xs, batched, size, **params):
        if any(batched[1 + n_states :]):
            return None
        x = _shared(xs[0], batched[0], size)
        steps, n = x.shape[1], x.shape[2]
        x = reshape(permute(x, 1, 0, 2, 3), (steps, size * n, x.shape[3]))
        states = [
            reshape(_shared(s, b, size), (size * n, s.shape[-1]))
            for s, b in zip(xs[1 : 1 + n_states], batched[1 : 1 + n_states])
        ]
        if params.get("mask") is not None:
            params = {**params, "mask": np.tile(params["mask"], (1, size))}
        out = apply(REGISTRY[name], x, *states, *xs[1 + n_states :], **params)
        return permute(reshape(out, (out.shape[0], size, n, out.shape[-1])), 1, 0, 2, 3)

    return rule


# --- the primitives -------------------------------------------------------------------------


def _shapes(steps, n, inp, size, gates, cell=False, proj=0):
    out = proj or size
    state = ((n, out), (n, size)) if cell else ((n, size),)
    g = gates * size
    shapes = ((steps, n, inp),) + state + ((g, inp), (g, out), (g,), (g,))
    return shapes + (((proj, size),) if proj else ())


_ON = np.array([[True], [False]])  # the second step masked off, for a (T = 2, N = 1) case


_FWD = [{"reverse": False}, {"reverse": True}, {"reverse": True, "mask": _ON}]


def _sequence_primitive(name: str, n: int, composed, fast, cases, error, states: int, **kw):
    """The decorator every whole-sequence primitive shares: n inputs, the fast NumPy VJP
    with the composed path's rules where it cannot serve, the composed JVP, the forward's
    saved arrays, and the vmap rule folding the batch into N (`states` state inputs)."""
    return primitive(
        name,
        vjp=_vjp_rules(n, composed, fast),
        jvp=_jvp_rules(n, composed),
        domain=Domain(cases, low=-1.0, high=1.0, errors=[error], **kw),
        saves=True,
        batch=_fold_rule(name, states),
    )


# second order: checked once per primitive in tests/ops/test_rnn_sequence.py (time budget)
_ONCE = {"second_order": False}


@_sequence_primitive(
    "lstm_sequence", 7, _lstm_composed, _lstm_fast,
    [Case(_shapes(2, 1, 1, 1, 4, cell=True), p) for p in _FWD],
    ErrorCase(
        lambda: lstm_sequence(*[Tensor(np.ones(s)) for s in _shapes(3, 2, 2, 2, 3, True)]),
        ValueError,
        r"lstm_sequence: w_ih \(6, 2\) must be \(8, 2\)",
    ),
    2, **_ONCE,
)  # fmt: skip
def lstm_sequence_p(x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False, mask=None, save=False):
    """LSTM over T steps (Hochreiter & Schmidhuber 1997): $z_t = W_{ih} x_t + b_{ih} +
    W_{hh} h_{t-1} + b_{hh}$ = [i, f, g, o], $c_t = \\sigma(f) c_{t-1} + \\sigma(i) \\tanh(g)$,
    $h_t = \\sigma(o) \\tanh(c_t)$; output rows [y_0 .. y_{T-1}, h_n, c_n] (y_t = h_t; with a
    (T, N) `mask`, a False step keeps (h, c) and outputs y_t = 0).  Backward:
    $dc_{t-1} = dc_t \\sigma(f)$, $dh_{t-1} = \\delta_t W_{hh}$, $\\delta_t$ as in `lstm_pointwise`."""
    out, arrays = K.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih + b_hh, reverse, mask)
    return out, ({"arrays": arrays, "grads": None} if save else None)


def lstm_sequence(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
    mask=None,
    w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer and direction over a time-major sequence x (T, N, in), in one node:
    returns (output (T, N, H), h_n (N, H), c_n (N, H)); gates (i, f, g, o) as `nn.LSTM`,
    $c_t = \\sigma(f) c_{t-1} + \\sigma(i) \\tanh(g)$, $h_t = \\sigma(o) \\tanh(c_t)$.  With
    a (T, N) boolean `mask`, a False step keeps that sequence's (h, c) and outputs zeros.
    With `w_hr` (P, H), $h_t = W_{hr} (\\sigma(o) \\tanh(c_t))$ (Sak et al. 2014): h0, the
    output and h_n have P features."""
    args = _prepare("lstm_sequence", 4, x, [h0, c0], [w_ih, w_hh, b_ih, b_hh], w_hr)
    static = {"reverse": bool(reverse), "mask": _check_mask("lstm_sequence", mask, x)}
    prim = lstm_sequence_p if w_hr is None else lstm_proj_sequence_p
    out = _run(prim, args, static)
    steps, cols = x.shape[0], (Ellipsis, slice(0, h0.shape[-1]))
    y, h_n = getitem(out, slice(0, steps)), getitem(out, steps)
    if w_hr is not None:
        y, h_n = getitem(y, cols), getitem(h_n, cols)
    return y, h_n, getitem(out, steps + 1)


@_sequence_primitive(
    "lstm_proj_sequence", 8, _lstm_composed, _lstm_fast,
    [Case(_shapes(2, 1, 1, 2, 4, cell=True, proj=1), p) for p in _FWD],
    ErrorCase(
        lambda: lstm_sequence(
            *[Tensor(np.ones(s)) for s in _shapes(3, 2, 2, 3, 4, True, proj=2)][:7],
            w_hr=Tensor(np.ones((2, 2))),
        ),
        ValueError,
        r"lstm_sequence: w_hr \(2, 2\) must be \(2, 3\)",
    ),
    2, **_ONCE,
)  # fmt: skip
def lstm_proj_sequence_p(
    x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse=False, mask=None, save=False
):
    """LSTM with a projection (Sak et al. 2014) over T steps: as `lstm_sequence` but
    $h_t = W_{hr} (\\sigma(o) \\tanh(c_t))$ (P < H features), rows [y, h_n] in their first P
    columns.  Backward: $du_t = dh_t W_{hr}$ takes dh's place in the cell's rules, and
    $dW_{hr} = \\sum_t dh_t^T u_t$ is one product after the loop."""
    out, arrays = K.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih + b_hh, reverse, mask, w_hr)
    return out, ({"arrays": arrays, "grads": None} if save else None)


@_sequence_primitive(
    "gru_sequence", 6, _gru_composed, _gru_fast,
    [Case(_shapes(2, 1, 1, 1, 3), p) for p in _FWD],
    ErrorCase(
        lambda: gru_sequence(*[Tensor(np.ones(s)) for s in _shapes(3, 2, 2, 2, 4)]),
        ValueError,
        r"gru_sequence: w_ih \(8, 2\) must be \(6, 2\)",
    ),
    1, **_ONCE,
)  # fmt: skip
def gru_sequence_p(x, h0, w_ih, w_hh, b_ih, b_hh, reverse=False, mask=None, save=False):
    """GRU over T steps (Cho et al. 2014): $r, z = \\sigma(W_{i\\cdot} x_t + b_{i\\cdot} +
    W_{h\\cdot} h + b_{h\\cdot})$, $n = \\tanh(W_{in} x_t + b_{in} + r (W_{hn} h + b_{hn}))$,
    $h_t = n + z (h_{t-1} - n)$; rows [y_0 .. y_{T-1}, h_n], `mask` as `lstm_sequence`.
    Backward: $dn = dh (1 - z)$, $dz = dh (h_{t-1} - n)$,
    $dr = dn' (W_{hn} h + b_{hn})$, $dh_{t-1} = dh z + [\\delta_r, \\delta_z, dn' r] W_{hh}$."""
    out, arrays = K.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse, mask)
    return out, ({"arrays": arrays, "grads": None} if save else None)


def gru_sequence(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
    mask=None,
) -> tuple[Tensor, Tensor]:
    """One GRU layer and direction over x (T, N, in), in one node: (output (T, N, H),
    h_n (N, H)); gates (r, z, n) as `nn.GRU`, $h_t = n + z (h_{t-1} - n)$; `mask` as
    `lstm_sequence`."""
    args = _prepare("gru_sequence", 3, x, [h0], [w_ih, w_hh, b_ih, b_hh])
    static = {"reverse": bool(reverse), "mask": _check_mask("gru_sequence", mask, x)}
    out = _run(gru_sequence_p, args, static)
    return getitem(out, slice(0, x.shape[0])), getitem(out, x.shape[0])


@_sequence_primitive(
    "rnn_sequence", 6, _rnn_composed, _rnn_fast,
    [Case(_shapes(3, 1, 1, 1, 1), p) for p in _FWD[:2]]
    + [Case(_shapes(2, 2, 1, 2, 1), {"relu_": True, "reverse": True})]
    + [Case(_shapes(2, 1, 1, 1, 1), _FWD[2])],
    ErrorCase(
        lambda: rnn_sequence(*[Tensor(np.ones(s)) for s in _shapes(3, 2, 2, 2, 1)][1:]),
        ValueError,
        r"rnn_sequence: x must be a tensor \(T, N, input_size\) with T >= 1, got \(2, 2\)",
    ),
    1,
)  # fmt: skip
def rnn_sequence_p(
    x, h0, w_ih, w_hh, b_ih, b_hh, relu_=False, reverse=False, mask=None, save=False
):
    """Elman RNN over T steps (Elman 1990): $h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1}
    + b_{hh})$, $\\phi$ = tanh or relu; rows [y_0 .. y_{T-1}, h_n], `mask` as `lstm_sequence`.
    Backward: $\\delta_t = (dh_t + \\delta_{t+1} W_{hh})
    \\phi'$, with $\\tanh' = 1 - h_t^2$ and $\\mathrm{relu}' = [h_t > 0]$."""
    out, hs = K.rnn_forward(x, h0, w_ih, w_hh, b_ih + b_hh, relu_, reverse, mask)
    return out, ({"arrays": hs, "grads": None} if save else None)


def rnn_sequence(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    relu_: bool = False,
    reverse: bool = False,
    mask=None,
) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer and direction over x (T, N, in), in one node: (output (T, N, H),
    h_n (N, H)), $h_t = \\phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$, $\\phi$ tanh
    or (with `relu_`) relu; `mask` as `lstm_sequence`."""
    args = _prepare("rnn_sequence", 1, x, [h0], [w_ih, w_hh, b_ih, b_hh])
    static = {
        "relu_": bool(relu_),
        "reverse": bool(reverse),
        "mask": _check_mask("rnn_sequence", mask, x),
    }
    out = _run(rnn_sequence_p, args, static)
    return getitem(out, slice(0, x.shape[0])), getitem(out, x.shape[0])


# --- public functions -------------------------------------------------------------------------


def _prepare(name: str, gates: int, x: Tensor, states: list, weights: list, w_hr=None) -> list:
    """Validate shapes (naming the function and the argument), cast to x's dtype, and give
    missing biases as zero constants (no gradient flows to them).  H is read from the last
    state (c0 for the LSTM), P (the projection's width, else H) from w_hr."""
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[0] < 1:
        raise ValueError(
            f"{name}: x must be a tensor (T, N, input_size) with T >= 1, got "
            f"{getattr(x, 'shape', type(x).__name__)}"
        )
    n, inp = x.shape[1:]
    last = states[-1]
    size = last.shape[-1] if isinstance(last, Tensor) and last.ndim == 2 else None
    proj = isinstance(w_hr, Tensor) and w_hr.ndim == 2 and size is not None
    out_size = w_hr.shape[0] if proj and 0 < w_hr.shape[0] < size else size
    widths = [(out_size, "P" if proj else "H"), (size, "H")][: len(states)]
    for label, s, (width, sym) in zip(("h0", "c0"), states, widths):
        if not isinstance(s, Tensor) or size is None or s.shape != (n, width):
            raise ValueError(
                f"{name}: {label} must be (N, {sym}) = ({n}, {sym}) for x {x.shape}, got "
                f"{getattr(s, 'shape', type(s).__name__)}"
            )
    want = [(gates * size, inp), (gates * size, out_size), (gates * size,), (gates * size,)]
    labels, weights = ["w_ih", "w_hh", "b_ih", "b_hh"], list(weights)
    if w_hr is not None:
        want, labels, weights = want + [(out_size, size)], labels + ["w_hr"], weights + [w_hr]
    out = [x] + list(states)
    for label, w, shape in zip(labels, weights, want):
        if w is None and label.startswith("b"):
            w = Tensor(np.zeros(shape, x.dtype))
        if not isinstance(w, Tensor) or w.shape != shape:
            got = getattr(w, "shape", type(w).__name__)
            raise ValueError(
                f"{name}: {label} {got} must be {shape} for x {x.shape} and the states "
                f"{[getattr(t, 'shape', None) for t in states]}"
                + (" (P < H)" if label == "w_hr" else "")
            )
        out.append(w)
    return [t if t.dtype == x.dtype else t.to(x.dtype) for t in out]


def _check_mask(name: str, mask, x: Tensor):
    """The (T, N) boolean step mask as a NumPy array (None stays None)."""
    if mask is None:
        return None
    m = np.asarray(mask._data if isinstance(mask, Tensor) else mask)
    if m.shape != x.shape[:2] or m.dtype != bool:
        raise ValueError(
            f"{name}: mask must be booleans of shape (T, N) = {x.shape[:2]}, got "
            f"{m.dtype} {m.shape}"
        )
    return m


def _run(prim, args: list, static: dict) -> Tensor:
    """The fused primitive, with only the static arguments that are set.  Tracers see it as
    one op: `dg.compile` replays it (and its fast VJP) as eager runs it, bitwise; ONNX
    export lowers whole recurrent modules instead (onnx/recurrent.py)."""
    static = {k: v for k, v in static.items() if v is not None and v is not False}
    return prim(*args, **static)
