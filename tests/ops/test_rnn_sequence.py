"""Whole-sequence recurrent primitives (ops/rnn_sequence.py): the fused NumPy forward and
backward against the composed per-step path, second order through the fallback, the
layers' create_graph path, repeated backward, and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.core.state import trace_ops
from deepgrad.ops import rnn_sequence as S
from deepgrad.testing import gradgradcheck

T, N, IN, H = 4, 3, 2, 5
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "rnn_relu": 1}


def _inputs(kind: str, rng, bias: bool = True, dtype=np.float64) -> list[np.ndarray]:
    g = GATES[kind] * H
    shapes = [(T, N, IN), (N, H)] + ([(N, H)] if kind == "lstm" else [])
    shapes += [(g, IN), (g, H)] + ([(g,), (g,)] if bias else [])
    return [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]


def _fused(kind: str, xs: list, reverse: bool, mask=None):
    """Every output of the public function, as one list."""
    if kind == "lstm":
        return list(S.lstm_sequence(*xs, reverse=reverse, mask=mask))
    if kind == "gru":
        return list(S.gru_sequence(*xs, reverse=reverse, mask=mask))
    return list(S.rnn_sequence(*xs, relu_=kind == "rnn_relu", reverse=reverse, mask=mask))


def _composed(kind: str, xs: list, reverse: bool, mask=None):
    """The same outputs from the per-step composition (an independent implementation)."""
    xs = list(xs) + [dg.Tensor(np.zeros(xs[-1].shape[0]))] * (7 - len(xs) - (kind != "lstm"))
    if kind == "lstm":
        out = S._lstm_composed(*xs, reverse=reverse, mask=mask)
        return [out[:T], out[T], out[T + 1]]
    if kind == "gru":
        out = S._gru_composed(*xs, reverse=reverse, mask=mask)
    else:
        out = S._rnn_composed(*xs, relu_=kind == "rnn_relu", reverse=reverse, mask=mask)
    return [out[:T], out[T]]


def _value_and_grads(fn, kind, arrays, reverse, cotangents, x_grad=True, mask=None):
    xs = [dg.Tensor(a, requires_grad=x_grad or k > 0) for k, a in enumerate(arrays)]
    outs = fn(kind, xs, reverse, mask)
    loss = sum((o * dg.Tensor(u)).sum() for o, u in zip(outs, cotangents))
    loss.backward()
    return [o.numpy() for o in outs], [None if x.grad is None else x.grad.numpy() for x in xs]


# a prefix mask (right padding, lengths 4, 1, 3) and an irregular one
MASKS = {
    "none": None,
    "prefix": np.arange(T)[:, None] < np.array([4, 1, 3])[None, :],
    "holes": np.array([[1, 0, 1], [0, 0, 1], [1, 1, 0], [1, 0, 0]], bool),
}


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "bias,mask", [(True, "none"), (False, "none"), (True, "prefix"), (False, "holes")]
)
def test_fused_equals_the_composed_path_outputs_and_all_gradients(kind, reverse, bias, mask):
    rng = np.random.default_rng(0)
    arrays = _inputs(kind, rng, bias)
    m = MASKS[mask]
    with dg.no_grad():
        shapes = [o.shape for o in _fused(kind, [dg.Tensor(a) for a in arrays], reverse, m)]
    cts = [rng.standard_normal(s) for s in shapes]
    out_f, grads_f = _value_and_grads(_fused, kind, arrays, reverse, cts, mask=m)
    out_c, grads_c = _value_and_grads(_composed, kind, arrays, reverse, cts, mask=m)
    for a, b in zip(out_f, out_c):
        np.testing.assert_allclose(a, b, atol=1e-13)
    for a, b in zip(grads_f, grads_c):
        np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("kind", list(GATES))
def test_float32_zero_state_fused_path_agrees_with_float64_and_skips_an_unneeded_gradient(kind):
    rng = np.random.default_rng(1)
    arrays = _inputs(kind, rng)
    arrays[1][:] = 0.0  # the default zero initial state skips its product
    with dg.no_grad():
        shapes = [o.shape for o in _fused(kind, [dg.Tensor(a) for a in arrays], False)]
    cts = [rng.standard_normal(s) for s in shapes]
    single = [a.astype(np.float32) for a in arrays]
    out32, grads32 = _value_and_grads(_fused, kind, single, False, cts, x_grad=False)
    out64, grads64 = _value_and_grads(_composed, kind, arrays, False, cts)
    assert grads32[0] is None and out32[0].dtype == np.float32
    for a, b in zip(out32, out64):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for a, b in zip(grads32[1:], grads64[1:]):
        np.testing.assert_allclose(a, b, atol=1e-4)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_second_order_through_the_composed_fallback(kind):
    rng = np.random.default_rng(2)
    g = GATES[kind]
    shapes = [(2, 1, 1), (1, 1)] + ([(1, 1)] if kind == "lstm" else []) + [(g, 1), (g, 1)]
    xs = [dg.Tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in shapes]
    fn = S.lstm_sequence if kind == "lstm" else S.gru_sequence
    assert gradgradcheck(lambda *a: fn(*a, reverse=True)[0], xs, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_layer_create_graph_matches_a_loop_over_its_cell(kind):
    """A gradient penalty (grad of grad) through the fused layer equals the same penalty
    through a Python loop over the matching cell (an independent, composed path)."""
    rng = np.random.default_rng(3)
    layer = getattr(nn, kind)(2, 3, generator=rng).double()
    cell = getattr(nn, kind + "Cell")(2, 3).double()
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x0 = rng.standard_normal((4, 2, 2))

    def cell_loop(x):
        state, outs = None, []
        for t in range(4):
            state = cell(x[t], state)
            outs.append(state[0] if kind == "LSTM" else state)
        return dg.stack(outs)

    grads = []
    for run, module in [(lambda x: layer(x)[0], layer), (cell_loop, cell)]:
        x = dg.Tensor(x0, requires_grad=True)
        out = run(x)
        (gx,) = dg.autograd.grad((out * out).sum(), x, create_graph=True)
        (gx * gx).sum().backward()
        grads.append({k.replace("_l0", ""): p.grad.numpy() for k, p in module.named_parameters()})
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        np.testing.assert_allclose(grads[0][k], grads[1][k], atol=1e-12)


def test_layer_builds_one_fused_node_per_layer_and_direction():
    layer = nn.LSTM(2, 3, num_layers=2, bidirectional=True).double()
    x = dg.Tensor(np.ones((4, 1, 2)), requires_grad=True)
    seen = []
    with trace_ops(lambda res, prim, inputs, params: seen.append(prim.name)):
        layer(x)
    # tracers (dg.compile) see the fused op, two layers x two directions
    assert seen.count("lstm_sequence") == 4 and "lstm_pointwise" not in seen
    out = layer(x)[0]
    names, stack = set(), [out]
    while stack:
        t = stack.pop()
        if t._prim is not None and t._prim.name not in names | {"lstm_sequence"}:
            stack.extend(t._inputs)
        if t._prim is not None:
            names.add(t._prim.name)
    assert "lstm_sequence" in names and "lstm_pointwise" not in names


def test_backward_twice_with_retain_graph_gives_the_same_gradients():
    rng = np.random.default_rng(4)
    xs = [dg.Tensor(a, requires_grad=True) for a in _inputs("lstm", rng)]
    out, h, c = S.lstm_sequence(*xs)
    loss = out.sum() + (h * c).sum()
    loss.backward(retain_graph=True)
    first = [x.grad.numpy().copy() for x in xs]
    for x in xs:
        x.grad = None
    loss.backward()
    for x, g in zip(xs, first):
        np.testing.assert_array_equal(x.grad.numpy(), g)


def test_errors_name_the_function_and_the_argument():
    t = lambda *s: dg.Tensor(np.ones(s))
    with pytest.raises(ValueError, match=r"lstm_sequence: c0 must be \(N, H\) = \(3, H\)"):
        S.lstm_sequence(t(4, 3, 2), t(3, 5), t(2, 5), t(20, 2), t(20, 5))
    with pytest.raises(ValueError, match=r"gru_sequence: w_hh \(15, 4\) must be \(15, 5\)"):
        S.gru_sequence(t(4, 3, 2), t(3, 5), t(15, 2), t(15, 4))
    with pytest.raises(ValueError, match=r"rnn_sequence: b_hh \(4,\) must be \(5,\)"):
        S.rnn_sequence(t(4, 3, 2), t(3, 5), t(5, 2), t(5, 5), t(5), t(4))
    with pytest.raises(ValueError, match=r"gru_sequence: x must be a tensor \(T, N, input_size\)"):
        S.gru_sequence(t(0, 3, 2), t(3, 5), t(15, 2), t(15, 5))


@pytest.mark.parametrize("kind,mask", [("lstm", "none"), ("gru", "holes"), ("rnn", "prefix")])
def test_vmap_with_shared_weights_folds_into_the_batch_and_matches_a_loop(kind, mask):
    rng = np.random.default_rng(5)
    arrays = _inputs(kind, rng)
    n_states = 2 if kind == "lstm" else 1
    xs = rng.uniform(-1, 1, (2,) + arrays[0].shape)  # a vmap axis of 2 over x only
    weights = [dg.Tensor(a, requires_grad=True) for a in arrays[1:]]
    m = MASKS[mask]

    def f(x):
        return _fused(kind, [x] + weights, True, m)[0]

    got = dg.vmap(f)(dg.Tensor(xs))
    for b in range(2):
        np.testing.assert_allclose(got.numpy()[b], f(dg.Tensor(xs[b])).numpy(), atol=1e-13)
    assert got.numpy().shape == (2, T, N, H)
    got.sum().backward()  # the fold is made of differentiable ops
    w_grad = weights[n_states].grad.numpy().copy()
    for w in weights:
        w.grad = None
    sum(f(dg.Tensor(xs[b])).sum() for b in range(2)).backward()
    np.testing.assert_allclose(w_grad, weights[n_states].grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("reverse,mask", [(False, "none"), (True, "prefix"), (False, "holes")])
def test_projected_lstm_fused_equals_the_composed_path(reverse, mask):
    rng = np.random.default_rng(6)
    p = 2
    shapes = [(T, N, IN), (N, p), (N, H), (4 * H, IN), (4 * H, p), (4 * H,), (4 * H,), (p, H)]
    arrays = [rng.uniform(-1, 1, s) for s in shapes]
    m = MASKS[mask]
    runs = []
    for fused in (True, False):
        xs = [dg.Tensor(a, requires_grad=True) for a in arrays]
        if fused:
            outs = S.lstm_sequence(*xs[:7], reverse=reverse, mask=m, w_hr=xs[7])
        else:
            out = S._lstm_composed(*xs, reverse=reverse, mask=m)
            outs = (out[:T, :, :p], out[T, :, :p], out[T + 1])
        assert [o.shape for o in outs] == [(T, N, p), (N, p), (N, H)]
        cts = np.random.default_rng(7)
        sum((o * dg.Tensor(cts.standard_normal(o.shape))).sum() for o in outs).backward()
        runs.append(([o.numpy() for o in outs], [x.grad.numpy() for x in xs]))
    for a, b in zip(runs[0][0] + runs[0][1], runs[1][0] + runs[1][1]):
        np.testing.assert_allclose(a, b, atol=1e-12)
