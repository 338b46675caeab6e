"""NumPy kernels of the whole-sequence recurrent primitives (`ops/rnn_sequence.py`).

One layer and one direction of an Elman RNN, an LSTM or a GRU over T steps, forward
and backward through time, on arrays only (the primitives wrap them).  The layout is
the one that makes the work a few large matrix products:

* forward: the input projection of all T steps is ONE (T N x in) @ (in x G H) product
  written into the gate buffer; per step one (N x H) @ (H x G H) product, then the gate
  math in place in preallocated buffers;
* backward: the gate gradients of all steps go into one (T N x G H) buffer; per step only
  dh @ W_hh runs inside the loop; after it, the input gradient, the input-weight gradient
  and the recurrent-weight gradient are each ONE large product, the bias gradients one sum.

The logistic is $\\sigma(z) = (1 + \\tanh(z / 2)) / 2$ (no overflow, as `sigmoid`); the 1/2
is folded into the weight rows of the sigmoid gates (scaling by 1/2 is exact in binary
floating point), so one `tanh` call covers all gates of a step.  `reverse` runs the steps
from T - 1 down to 0; outputs stay indexed by time (PyTorch's bidirectional layout).

A (T, N) boolean `mask` (a `_Mask`) makes a False step keep the previous state and output
zeros (what `nn.RNN`/`LSTM`/`GRU` do with `mask=` or a PackedSequence): the state history
then differs from the outputs and is kept apart; backward, the cotangent of a kept state
passes straight to the previous one.  Outputs end with the final states: [y_0 .. y_{T-1},
h_n] (and c_n for the LSTM).
"""

from __future__ import annotations

import numpy as np

# _RECURRENT_PRODUCT: the per-step product is computed transposed, W (G H, H) @ h^T -> (G H, N),
# and added back through a transposed view: OpenBLAS runs that shape 20-30% faster than
# h (N, H) @ W^T for N = 32, H = 256 (measured, CPU time), and h @ W.T through a transposed
# view of W is 1.8x slower still.


class _Mask:
    """A (T, N) step mask as the kernels use it: `on` (T, N, 1) booleans ((T, 1, N) for the
    feature-major LSTM kernels), `m` and `keep` = 1 - m of that shape in the data's dtype."""

    def __init__(self, mask: np.ndarray, dtype, feature_major: bool = False) -> None:
        on = np.asarray(mask, dtype=bool)
        self.on = on[:, None, :] if feature_major else on[..., None]
        self.m = self.on.astype(dtype)
        self.keep = 1.0 - self.m


def _select(on: np.ndarray, new: np.ndarray, prev: np.ndarray, out: np.ndarray) -> None:
    """out = new where `on`, prev elsewhere (np.where has no `out=`)."""
    np.copyto(out, prev)
    np.copyto(out, new, where=on)


def _mask(mask, dtype) -> _Mask | None:
    return None if mask is None else _Mask(mask, dtype)


def _recurrent(w: np.ndarray, h: np.ndarray, out: np.ndarray, zero: bool) -> None:
    """out (G H, N) = W h^T (see _RECURRENT_PRODUCT); zeros without a product for the
    all-zero initial state (PyTorch's default h0), which saves one product per sequence."""
    if zero:
        out.fill(0.0)
    else:
        np.matmul(w, h.T, out=out)


def _order(steps: int, reverse: bool) -> range:
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _prev(t: int, steps: int, reverse: bool) -> int | None:
    """The time index of the state a step starts from (None: the initial state)."""
    p = t + 1 if reverse else t - 1
    return None if p < 0 or p >= steps else p


def _half_rows(gates: int, sig: tuple[int, ...], size: int, dtype) -> np.ndarray:
    """(gates * size,) factors: 1/2 on the rows of the sigmoid gates, 1 elsewhere."""
    scale = np.ones(gates * size, dtype)
    for k in sig:
        scale[k * size : (k + 1) * size] = 0.5
    return scale


def _project(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray) -> None:
    """out (T, N, G) = x (T, N, in) @ w^T + b: all time steps' projections in one product."""
    steps, n = x.shape[:2]
    flat = out.reshape(steps * n, out.shape[-1])
    np.matmul(x.reshape(steps * n, x.shape[-1]), w.T, out=flat)
    if b is not None:
        flat += b


def _hh_grad(dg: np.ndarray, hs: np.ndarray, h0: np.ndarray, reverse: bool) -> np.ndarray:
    """dW_hh = sum_t dg_t^T h_prev(t): one product over T - 1 steps plus the initial state's."""
    steps, width = dg.shape[0], dg.shape[-1]
    size = h0.shape[-1]
    first = steps - 1 if reverse else 0  # the step that starts from h0
    dw = dg[first].T @ h0 if h0.any() else np.zeros((width, size), dg.dtype)
    if steps > 1:
        rest = slice(0, steps - 1) if reverse else slice(1, steps)
        prev = slice(1, steps) if reverse else slice(0, steps - 1)
        dg2 = dg[rest].reshape(-1, width)
        dw += dg2.T @ hs[prev].reshape(-1, size)
    return dw


def _shifted(states: np.ndarray, s0: np.ndarray, reverse: bool) -> np.ndarray:
    """The state each step starts from, (T, N, H): `states` shifted one step, s0 first."""
    prev = np.empty_like(states)
    if reverse:
        prev[:-1], prev[-1] = states[1:], s0
    else:
        prev[1:], prev[0] = states[:-1], s0
    return prev


def _input_grads(dg: np.ndarray, x: np.ndarray, w_ih: np.ndarray, need_x: bool):
    """dx = dg @ W_ih (None unless needed), dW_ih = dg^T x, db = sum over steps and batch."""
    steps, n, width = dg.shape
    dg2 = dg.reshape(steps * n, width)
    dx = (dg2 @ w_ih).reshape(x.shape) if need_x else None
    dw = dg2.T @ x.reshape(steps * n, x.shape[-1])
    return dx, dw, np.add.reduce(dg2, axis=0)


# --- LSTM ---------------------------------------------------------------------------------
# The LSTM kernels run feature-major: a step's gates are a (4H, N) matrix (rows i, f, g, o
# blocks), states (H, N).  Then the per-step product W_hh h (4H, H) @ (H, N) lands in the
# gates' own layout (no transposed add), every gate block is a contiguous row range, and the
# backward's three dc-gated blocks are one broadcast product.  Measured against the
# batch-major layout (N = 32, H = 256, 2 threads): forward 20% and backward 10% faster.  The
# inputs, outputs and gradients keep the batch-major layout of the other kernels; the
# transposes at the ends are single copies.


def _augment(x: np.ndarray, w: np.ndarray, b: np.ndarray, half: np.ndarray):
    """x with a column of ones (T, N, in + 1) and [W | b] with the sigmoid rows halved:
    the bias rides in the input product forward and its gradient in dW_ih's backward."""
    xa = np.empty(x.shape[:2] + (x.shape[2] + 1,), x.dtype)
    xa[..., :-1], xa[..., -1] = x, 1.0
    return xa, np.concatenate([w, b[:, None]], axis=1) * half[:, None]


def lstm_forward(x, h0, c0, w_ih, w_hh, b, reverse: bool, mask=None, w_hr=None):
    """Rows [y_0 .. y_{T-1}, h_n, c_n] (T + 2, N, H) and what the backward needs (gate
    activations, state cells, tanh c, state history, with a projection u = o tanh c, and the
    augmented input), the per-step arrays feature-major (T, rows, N).

    b: the summed bias b_ih + b_hh (4H,); mask: (T, N) booleans or None; w_hr:
    the projection (P, H) or None (then h = u; with it h = W_hr u, and the y and h_n
    rows hold h in their first P columns, zeros after)."""
    steps, n = x.shape[:2]
    size, psize = c0.shape[-1], h0.shape[-1]
    dt = x.dtype
    half = _half_rows(4, (0, 1, 3), size, dt)
    xa, wa = _augment(x, w_ih, b, half)
    acts = np.matmul(wa, xa.transpose(0, 2, 1))  # (T, 4H, N): every step's input product
    whh = w_hh * half[:, None]
    proj = w_hr is not None
    cs, tcs = np.empty((steps, size, n), dt), np.empty((steps, size, n), dt)
    mk = None if mask is None else _Mask(mask, dt, feature_major=True)
    cst = cs if mk is None else np.empty_like(cs)
    hs = np.empty((steps, psize, n), dt)  # the state history
    ys = hs if mk is None else np.empty_like(hs)  # the outputs
    us = np.empty_like(cs) if proj else None
    rec, ig = np.empty((4 * size, n), dt), np.empty((size, n), dt)
    h, c, zero0 = np.ascontiguousarray(h0.T), np.ascontiguousarray(c0.T), not h0.any()
    first = True
    for t in _order(steps, reverse):
        a = acts[t]
        if not (first and zero0):  # the all-zero initial state adds nothing
            np.matmul(whh, h, out=rec)
            a += rec
        first = False
        np.tanh(a, out=a)
        for s in (a[: 2 * size], a[3 * size :]):  # sigma = (1 + tanh(z / 2)) / 2
            s *= 0.5
            s += 0.5
        np.multiply(a[size : 2 * size], c, out=cs[t])
        np.multiply(a[:size], a[2 * size : 3 * size], out=ig)
        cs[t] += ig
        np.tanh(cs[t], out=tcs[t])
        if proj:  # h = W_hr (o tanh c)
            np.multiply(a[3 * size :], tcs[t], out=us[t])
            new = np.matmul(w_hr, us[t], out=hs[t] if mk is None else ig[:psize])
        else:
            new = np.multiply(a[3 * size :], tcs[t], out=ys[t])
        if mk is not None:  # a False step keeps the state and outputs zeros
            _select(mk.on[t], new, h, hs[t])
            _select(mk.on[t], cs[t], c, cst[t])
            np.multiply(new, mk.m[t], out=ys[t])
        h, c = hs[t], cst[t]
    out = np.zeros((steps + 2, n, size), dt) if proj else np.empty((steps + 2, n, size), dt)
    out[:steps, :, :psize] = ys.transpose(0, 2, 1)
    out[steps, :, :psize], out[steps + 1] = h.T, c.T
    return out, (acts, cst, tcs, hs, us, xa)


def _lstm_factors(acts, cs, tcs, c0, reverse: bool):
    """The backward's per-step multipliers, for all steps at once (large vectorised ops):
    m = [g i(1-i), c_prev f(1-f), i (1-g^2), tanh(c) o(1-o)] (T, 4H, N), the gate gradients
    being [dc, dc, dc, dh] * m, and k = o (1 - tanh^2 c) (T, H, N), dc += dh k."""
    size = cs.shape[1]
    i, g, o = acts[:, :size], acts[:, 2 * size : 3 * size], acts[:, 3 * size :]
    m = np.subtract(1.0, acts)
    m *= acts  # s (1 - s) on every block; the g block is rewritten below
    m[:, :size] *= g
    mf = m[:, size : 2 * size]
    if reverse:
        mf[:-1] *= cs[1:]
        mf[-1] *= c0.T
    else:
        mf[1:] *= cs[:-1]
        mf[0] *= c0.T
    mg = m[:, 2 * size : 3 * size]
    np.multiply(g, g, out=mg)
    np.subtract(1.0, mg, out=mg)
    mg *= i
    m[:, 3 * size :] *= tcs
    k = np.multiply(tcs, tcs)
    np.subtract(1.0, k, out=k)
    k *= o
    return m, k


def lstm_backward(gout, x, h0, c0, w_ih, w_hh, saved, reverse, need_x, mask=None, w_hr=None):
    """Gradients (dx, dh0, dc0, dW_ih, dW_hh, db, dW_hr) of <gout, out> for `lstm_forward`
    (dW_hr None without a projection); per step only dc, the gate
    gradients of that step (two products), W_hh^T delta (and W_hr^T dh with a projection).
    After the loop the gate gradients go batch-major (T, N, 4H) -> (4H, T N) in one copy,
    and dx, [dW_ih | db] and dW_hh are each one product."""
    acts, cst, tcs, hs, us, xa = saved
    steps, n = x.shape[:2]
    size, psize = c0.shape[-1], h0.shape[-1]
    dt = x.dtype
    m, k = _lstm_factors(acts, cst, tcs, c0, reverse)
    gt = np.ascontiguousarray(gout[:steps, :, :psize].transpose(0, 2, 1), dtype=dt)
    dg = m  # step t's gate gradients overwrite its multipliers (one buffer less at the peak)
    dh = np.ascontiguousarray(gout[steps, :, :psize].T, dtype=dt)
    dc = np.ascontiguousarray(gout[steps + 1].T, dtype=dt)
    dht, tmp, dhb = np.empty((psize, n), dt), np.empty((size, n), dt), np.empty((psize, n), dt)
    whh_t = w_hh.T  # a transposed view: OpenBLAS reads it as fast as a copy (N = 32)
    dys = None if w_hr is None else np.empty((steps, psize, n), dt)  # dL/dh_t, for dW_hr
    du = dht if w_hr is None else np.empty((size, n), dt)
    mk = None if mask is None else _Mask(mask, dt, feature_major=True)
    dh_pass, dc_pass = (None, None) if mk is None else (np.empty_like(dh), np.empty_like(dc))
    blocks = (3, size, n)
    for t in _order(steps, not reverse):
        if mk is not None:  # a kept state's cotangent goes straight to the previous state
            np.multiply(dh, mk.keep[t], out=dh_pass)
            np.multiply(dc, mk.keep[t], out=dc_pass)
        np.add(gt[t], dh, out=dht)
        if mk is not None:
            dht *= mk.m[t]
            dc *= mk.m[t]
        if w_hr is not None:
            dys[t] = dht
            np.matmul(w_hr.T, dht, out=du)
        np.multiply(du, k[t], out=tmp)
        dc += tmp
        d = dg[t]
        d3 = d[: 3 * size].reshape(blocks)
        d3 *= dc
        d[3 * size :] *= du
        dc *= acts[t, size : 2 * size]
        dh = np.matmul(whh_t, d, out=dhb)
        if mk is not None:
            dc += dc_pass
            dh += dh_pass
    dg2 = np.ascontiguousarray(dg.transpose(1, 0, 2)).reshape(4 * size, steps * n)
    del dg, m
    dx = (dg2.T @ w_ih).reshape(x.shape) if need_x else None
    dwa = dg2 @ xa.reshape(steps * n, -1)
    dw_ih, db = np.ascontiguousarray(dwa[:, :-1]), dwa[:, -1].copy()
    prev = np.empty((psize, steps, n), dt)  # the state each step starts from, (P, T, N)
    if reverse:
        prev[:, :-1], prev[:, -1] = hs[1:].transpose(1, 0, 2), h0.T
    else:
        prev[:, 1:], prev[:, 0] = hs[:-1].transpose(1, 0, 2), h0.T
    dw_hh = dg2 @ prev.reshape(psize, -1).T
    dw_hr = None if w_hr is None else np.tensordot(dys, us, axes=([0, 2], [0, 2]))
    return dx, dh.T.copy(), dc.T.copy(), dw_ih, dw_hh, db, dw_hr


# --- GRU ----------------------------------------------------------------------------------


def gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reverse: bool, mask=None):
    """Rows [y_0 .. y_{T-1}, h_n] (T + 1, N, H) and what the backward needs (r z, n,
    W_hn h + b_hn, state history)."""
    steps, n = x.shape[:2]
    size = h0.shape[-1]
    dt = x.dtype
    half = _half_rows(3, (0, 1), size, dt)
    xp = np.empty((steps, n, 3 * size), dt)
    bias = None
    if b_ih is not None:
        bias = b_ih * half
        bias[: 2 * size] += b_hh[: 2 * size] * 0.5  # b_hn stays inside r (W_hn h + b_hn)
    _project(x, w_ih * half[:, None], bias, xp)
    whh = w_hh * half[:, None]
    rz, nn, hpn = (np.empty((steps, n, k * size), dt) for k in (2, 1, 1))
    out = np.empty((steps + 1, n, size), dt)
    mk = _mask(mask, dt)
    hs = out[:steps] if mk is None else np.empty_like(nn)
    rec_t = np.empty((3 * size, n), dt)
    h, zero0 = h0, not h0.any()
    for t in _order(steps, reverse):
        _recurrent(whh, h, rec_t, h is h0 and zero0)
        rec = rec_t.T
        gates = rz[t]
        np.add(rec[:, : 2 * size], xp[t, :, : 2 * size], out=gates)
        np.tanh(gates, out=gates)
        gates *= 0.5
        gates += 0.5
        if b_hh is None:
            hpn[t] = rec[:, 2 * size :]
        else:
            np.add(rec[:, 2 * size :], b_hh[2 * size :], out=hpn[t])
        np.multiply(gates[:, :size], hpn[t], out=nn[t])
        nn[t] += xp[t, :, 2 * size :]
        np.tanh(nn[t], out=nn[t])
        np.subtract(h, nn[t], out=out[t])  # h' = n + z (h - n)
        out[t] *= gates[:, size:]
        out[t] += nn[t]
        if mk is not None:
            _select(mk.on[t], out[t], h, hs[t])
            out[t] *= mk.m[t]
        h = hs[t]
    out[steps] = h
    return out, (rz, nn, hpn, hs)


def gru_backward(gout, x, h0, w_ih, w_hh, saved, reverse: bool, need_x: bool, mask=None):
    """Gradients (dx, dh0, dW_ih, dW_hh, db_ih, db_hh) of <gout, out> for `gru_forward`.

    Multipliers for all steps at once: p_z = (h_prev - n) z (1 - z), p_n = (1 - z)(1 - n^2),
    p_r = (W_hn h + b_hn) r (1 - r); per step dz = dh p_z, dn' = dh p_n, dr = dn' p_r."""
    rz, nn, hpn, hs = saved
    steps, n = x.shape[:2]
    size = h0.shape[-1]
    dt = x.dtype
    r, z = rz[..., :size], rz[..., size:]
    pz = _shifted(hs, h0, reverse)
    pz -= nn
    pz *= z
    omz = 1.0 - z
    pz *= omz
    pn = np.multiply(nn, nn)
    np.subtract(1.0, pn, out=pn)
    pn *= omz
    pr = np.subtract(1.0, r)
    pr *= r
    pr *= hpn
    dxp, dhp = np.empty((steps, n, 3 * size), dt), np.empty((steps, n, 3 * size), dt)
    dh = gout[steps].astype(dt, copy=True)
    dht, tmp = np.empty((n, size), dt), np.empty((n, size), dt)
    mk = _mask(mask, dt)
    dh_pass = None if mk is None else np.empty_like(dh)
    for t in _order(steps, not reverse):
        if mk is not None:
            np.multiply(dh, mk.keep[t], out=dh_pass)
        np.add(gout[t], dh, out=dht)
        if mk is not None:
            dht *= mk.m[t]
        dn = dxp[t, :, 2 * size :]
        np.multiply(dht, pz[t], out=dhp[t, :, size : 2 * size])
        np.multiply(dht, pn[t], out=dn)
        np.multiply(dn, pr[t], out=dhp[t, :, :size])
        np.multiply(dn, r[t], out=dhp[t, :, 2 * size :])
        np.matmul(dhp[t], w_hh, out=dh)
        np.multiply(dht, z[t], out=tmp)
        dh += tmp
        if mk is not None:
            dh += dh_pass
    dxp[:, :, : 2 * size] = dhp[:, :, : 2 * size]
    dx, dw_ih, db_ih = _input_grads(dxp, x, w_ih, need_x)
    db_hh = np.add.reduce(dhp.reshape(-1, 3 * size), axis=0)
    return dx, dh, dw_ih, _hh_grad(dhp, hs, h0, reverse), db_ih, db_hh


# --- Elman RNN ----------------------------------------------------------------------------


def rnn_forward(x, h0, w_ih, w_hh, b, relu: bool, reverse: bool, mask=None):
    """Rows [y_0 .. y_{T-1}, h_n] (T + 1, N, H) of $h_t = \\phi(W_{ih} x_t + W_{hh} h_{t-1} + b)$
    (b summed) and the state history (the outputs' rows unless masked)."""
    steps, n = x.shape[:2]
    size = h0.shape[-1]
    out = np.empty((steps + 1, n, size), x.dtype)
    xp = np.empty((steps, n, size), x.dtype)
    _project(x, w_ih, b, xp)
    mk = _mask(mask, x.dtype)
    hs = out[:steps] if mk is None else np.empty_like(xp)
    rec, rec_t = np.empty_like(h0, dtype=x.dtype), np.empty(h0.shape[::-1], x.dtype)
    h, zero0 = h0, not h0.any()
    for t in _order(steps, reverse):
        _recurrent(w_hh, h, rec_t, h is h0 and zero0)
        np.add(xp[t], rec_t.T, out=rec)
        if relu:
            np.maximum(rec, 0.0, out=out[t])
        else:
            np.tanh(rec, out=out[t])
        if mk is not None:
            _select(mk.on[t], out[t], h, hs[t])
            out[t] *= mk.m[t]
        h = hs[t]
    out[steps] = h
    return out, hs


def rnn_backward(gout, out, x, h0, w_ih, w_hh, hs, relu, reverse, need_x, mask=None):
    """Gradients (dx, dh0, dW_ih, dW_hh, db) of <gout, out> for `rnn_forward`; phi' of all
    steps at once (1 - y^2 for tanh, [y > 0] for relu; zero on masked steps), per step one
    product and dh @ W_hh."""
    steps, n, size = hs.shape
    ys = out[:steps]
    if relu:
        dp = (ys > 0).astype(x.dtype)
    else:
        dp = np.multiply(ys, ys)
        np.subtract(1.0, dp, out=dp)
    mk = _mask(mask, x.dtype)
    if mk is not None:
        dp *= mk.m
    dh = gout[steps].astype(x.dtype, copy=True)
    tmp = np.empty((n, size), x.dtype)
    dh_pass = None if mk is None else np.empty_like(dh)
    for t in _order(steps, not reverse):
        if mk is not None:
            np.multiply(dh, mk.keep[t], out=dh_pass)
        np.add(gout[t], dh, out=tmp)
        dp[t] *= tmp
        np.matmul(dp[t], w_hh, out=dh)
        if mk is not None:
            dh += dh_pass
    dx, dw_ih, db = _input_grads(dp, x, w_ih, need_x)
    return dx, dh, dw_ih, _hh_grad(dp, hs, h0, reverse), db
