"""Recurrent cells and layers: naive loops over cells, direction and layer ordering, packed
sequences and masks, initialisation options, and parity with PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence


def _t(a, grad=False):
    return dg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _cell_weights(layer: nn.Module, sfx: str) -> dict:
    return {
        k: getattr(layer, k + sfx).numpy().copy()
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }


def _cell_like(kind: str, layer: nn.Module, sfx: str) -> nn.Module:
    cls = {"LSTM": nn.LSTMCell, "GRU": nn.GRUCell, "RNN": nn.RNNCell}[kind]
    cell = cls(layer.weight_ih_l0.shape[1], layer.hidden_size).double()
    if kind == "RNN":
        cell.nonlinearity = layer.nonlinearity
    cell.load_state_dict(_cell_weights(layer, sfx))
    return cell


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_layer_equals_a_loop_over_its_cell_both_directions(kind):
    rng = np.random.default_rng(0)
    layer = getattr(nn, kind)(3, 4, bidirectional=True, generator=rng).double()
    x = rng.standard_normal((5, 2, 3))
    out, hn = layer(_t(x))
    hn = hn[0] if kind == "LSTM" else hn
    for d, sfx, steps in [(0, "_l0", range(5)), (1, "_l0_reverse", range(4, -1, -1))]:
        cell = _cell_like(kind, layer, sfx)
        state = None
        for t in steps:
            state = cell(_t(x[t]), state)
            h = state[0] if kind == "LSTM" else state
            np.testing.assert_allclose(out.data[t, :, 4 * d : 4 * d + 4], h.data, atol=1e-12)
        np.testing.assert_allclose(hn.data[d], h.data, atol=1e-12)


def test_stacked_layers_feed_outputs_and_order_states_layer_major():
    rng = np.random.default_rng(1)
    two = nn.GRU(3, 4, num_layers=2, bidirectional=True, generator=rng).double()
    first = nn.GRU(3, 4, bidirectional=True).double()
    second = nn.GRU(8, 4, bidirectional=True).double()
    sd = two.state_dict()
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in sd.items() if "_l0" in k})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if "_l1" in k})
    x = _t(rng.standard_normal((4, 2, 3)))
    out, hn = two(x)
    mid, h1 = first(x)
    out2, h2 = second(mid)
    np.testing.assert_allclose(out.data, out2.data, atol=1e-12)
    # h_n is (layer, direction)-major: l0 forward, l0 backward, l1 forward, l1 backward
    np.testing.assert_allclose(hn.data, np.concatenate([h1.data, h2.data]), atol=1e-12)
    np.testing.assert_allclose(hn.data[2], out.data[-1, :, :4], atol=1e-12)
    np.testing.assert_allclose(hn.data[3], out.data[0, :, 4:], atol=1e-12)


def test_batch_first_and_unbatched_inputs_agree_with_time_major():
    rng = np.random.default_rng(2)
    tm = nn.LSTM(3, 4, num_layers=2, generator=rng).double()
    bf = nn.LSTM(3, 4, num_layers=2, batch_first=True).double()
    bf.load_state_dict(tm.state_dict())
    x = rng.standard_normal((5, 2, 3))
    out, (h, c) = tm(_t(x))
    out_bf, (h_bf, _) = bf(_t(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(out_bf.data, out.numpy().transpose(1, 0, 2), atol=1e-12)
    np.testing.assert_allclose(h_bf.data, h.data, atol=1e-12)
    out_u, (h_u, c_u) = tm(_t(x[:, 1]))
    assert out_u.shape == (5, 4) and h_u.shape == (2, 4) and c_u.shape == (2, 4)
    np.testing.assert_allclose(out_u.data, out.data[:, 1], atol=1e-12)
    np.testing.assert_allclose(c_u.data, c.data[:, 1], atol=1e-12)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_packed_batch_equals_per_sequence_runs(kind):
    rng = np.random.default_rng(3)
    layer = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, generator=rng).double()
    lengths = [2, 5, 3]
    seqs = [_t(rng.standard_normal((n, 2))) for n in lengths]
    padded = pad_sequence(seqs)
    packed = pack_padded_sequence(padded, lengths, enforce_sorted=False)
    out_p, state = layer(packed)
    out, out_lengths = pad_packed_sequence(out_p)
    assert out_lengths.data.tolist() == lengths
    hn = state[0] if kind == "LSTM" else state
    for b, seq in enumerate(seqs):
        own, own_state = layer(seq.reshape(seq.shape[0], 1, 2))
        own_h = own_state[0] if kind == "LSTM" else own_state
        np.testing.assert_allclose(out.data[: lengths[b], b], own.data[:, 0], atol=1e-12)
        np.testing.assert_allclose(out.data[lengths[b] :, b], 0.0)
        np.testing.assert_allclose(hn.data[:, b], own_h.data[:, 0], atol=1e-12)
    # the mask argument is the same computation on the padded batch
    mask = np.arange(5)[:, None] < np.array(lengths)[None, :]
    out_m, state_m = layer(padded, mask=mask)
    np.testing.assert_allclose(out_m.data, out.data, atol=1e-12)
    np.testing.assert_allclose((state_m[0] if kind == "LSTM" else state_m).data, hn.data)


def test_packed_steps_leave_finished_states_untouched_in_the_gradient():
    rng = np.random.default_rng(4)
    layer = nn.RNN(2, 3, generator=rng).double()
    x = _t(rng.standard_normal((4, 2, 2)), grad=True)
    _, hn = layer(pack_padded_sequence(x, [4, 2]))
    hn[0, 1].sum().backward()  # the short sequence's final state
    assert np.all(x.grad.numpy()[2:, 1] == 0) and np.any(x.grad.numpy()[:2, 1] != 0)
    assert np.all(x.grad.numpy()[:, 0] == 0)


def test_pack_pad_round_trip_and_errors():
    rng = np.random.default_rng(5)
    x = _t(rng.standard_normal((2, 4, 3)))
    packed = pack_padded_sequence(x, [3, 4], batch_first=True, enforce_sorted=False)
    assert packed.batch_sizes.data.tolist() == [2, 2, 2, 1]
    back, lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.0)
    np.testing.assert_array_equal(back.data[1], x.data[1])
    np.testing.assert_array_equal(back.data[0, :3], x.data[0, :3])
    assert np.all(back.numpy()[0, 3] == -1.0) and lengths.data.tolist() == [3, 4]
    with pytest.raises(ValueError, match=r"pack_padded_sequence: lengths \[3, 4\] must be sorted"):
        pack_padded_sequence(x, [3, 4], batch_first=True)
    with pytest.raises(ValueError, match=r"pack_padded_sequence: a length 5 exceeds the 4"):
        pack_padded_sequence(x, [5, 4], batch_first=True)
    with pytest.raises(ValueError, match=r"pad_sequence: sequences must share"):
        pad_sequence([_t(np.ones((2, 3))), _t(np.ones((2, 4)))])
    left = pad_sequence([_t([1.0]), _t([2.0, 3.0])], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(left.data, [[0.0, 1.0], [2.0, 3.0]])


def test_dropout_between_layers_only_in_training_and_seeded():
    x = _t(np.random.default_rng(6).standard_normal((3, 2, 2)))

    def make(p: float) -> nn.GRU:
        return nn.GRU(2, 8, num_layers=2, dropout=p, generator=np.random.default_rng(0)).double()

    a, b, plain = make(0.5), make(0.5), make(0.0)
    out_a, out_b, out_plain = a(x)[0].data, b(x)[0].data, plain(x)[0].data
    np.testing.assert_array_equal(out_a, out_b)  # one generator: same masks
    assert not np.allclose(out_a, out_plain)
    a.eval()
    np.testing.assert_array_equal(a(x)[0].data, out_plain)


def test_init_recurrent_orthogonal_blocks_and_forget_bias():
    lstm = nn.init_recurrent_(nn.LSTM(3, 4, num_layers=2), generator=np.random.default_rng(7))
    w = lstm.weight_hh_l1.data
    for k in range(4):
        block = w[4 * k : 4 * k + 4]
        np.testing.assert_allclose(block @ block.T, np.eye(4), atol=1e-5)
    total = lstm.bias_ih_l0.data + lstm.bias_hh_l0.data
    np.testing.assert_allclose(total[4:8], 1.0)
    assert not np.allclose(total[:4], 1.0)


# --- parity with PyTorch -----------------------------------------------------------------

CONFIGS = [
    ("RNN", {}),
    ("RNN", {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 2, "num_layers": 2, "batch_first": True, "bias": False}),
    ("LSTM", {"bias": False, "bidirectional": True, "batch_first": True, "dropout": 0.0}),
    ("LSTM", {"proj_size": 3, "bidirectional": True}),
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("GRU", {"bias": False}),
]


@pytest.mark.parametrize("kind,kw", CONFIGS, ids=lambda c: str(c))
def test_parity_with_torch_outputs_states_and_all_gradients(kind, kw):
    torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch")
    rng = np.random.default_rng(8)
    ours = getattr(nn, kind)(3, 4, generator=rng, **kw).double()
    theirs = getattr(torch.nn, kind)(3, 4, **kw).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    x = rng.standard_normal((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    h0 = rng.standard_normal((d * layers, 2, kw.get("proj_size") or 4))
    c0 = rng.standard_normal((d * layers, 2, 4))
    xs = [_t(x, True), _t(h0, True)] + ([_t(c0, True)] if kind == "LSTM" else [])
    ts = [torch.tensor(a, requires_grad=True) for a in [x, h0] + ([c0] if kind == "LSTM" else [])]
    if kind == "LSTM":
        out, (hn, cn) = ours(xs[0], (xs[1], xs[2]))
        out_t, (hn_t, cn_t) = theirs(ts[0], (ts[1], ts[2]))
        np.testing.assert_allclose(cn.data, cn_t.detach().numpy(), atol=1e-12)
    else:
        out, hn = ours(xs[0], xs[1])
        out_t, hn_t = theirs(ts[0], ts[1])
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(hn.data, hn_t.detach().numpy(), atol=1e-12)
    u, v = rng.standard_normal(out.shape), rng.standard_normal(hn.shape)
    loss = (out * _t(u)).sum() + (hn * _t(v)).sum()
    loss_t = (out_t * torch.tensor(u)).sum() + (hn_t * torch.tensor(v)).sum()
    if kind == "LSTM":
        loss = loss + cn.sum()
        loss_t = loss_t + cn_t.sum()
    loss.backward()
    loss_t.backward()
    for a, b in zip(xs, ts):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-10)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cell_parity_with_torch(kind):
    torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch")
    rng = np.random.default_rng(9)
    ours = getattr(nn, kind)(3, 4, generator=rng).double()
    theirs = getattr(torch.nn, kind)(3, 4).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    xa, ha, ca = _t(x, True), _t(h, True), _t(c, True)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "LSTMCell":
        h1, c1 = ours(xa, (ha, ca))
        h1t, c1t = theirs(xt, (ht, ct))
        (h1.sum() + (c1 * c1).sum()).backward()
        (h1t.sum() + (c1t * c1t).sum()).backward()
        np.testing.assert_allclose(ca.grad.data, ct.grad.numpy(), atol=1e-12)
    else:
        h1, h1t = ours(xa, ha), theirs(xt, ht)
        (h1 * h1).sum().backward()
        (h1t * h1t).sum().backward()
    np.testing.assert_allclose(h1.data, h1t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(xa.grad.data, xt.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ha.grad.data, ht.grad.numpy(), atol=1e-12)
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs.get_parameter(name).grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("kind,proj", [("LSTM", 0), ("LSTM", 2), ("GRU", 0), ("RNN", 0)])
def test_packed_sequence_parity_with_torch_outputs_states_and_all_gradients(kind, proj):
    torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch")
    from torch.nn.utils import rnn as trnn

    rng = np.random.default_rng(10)
    kw = {"num_layers": 2, "bidirectional": True} | ({"proj_size": proj} if proj else {})
    ours = getattr(nn, kind)(3, 4, generator=rng, **kw).double()
    theirs = getattr(torch.nn, kind)(3, 4, **kw).double()
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    lengths = [5, 2, 4]
    x = rng.standard_normal((5, 3, 3))
    xa, xt = _t(x, True), torch.tensor(x, requires_grad=True)
    out_p, state = ours(pack_padded_sequence(xa, lengths, enforce_sorted=False))
    out_tp, state_t = theirs(trnn.pack_padded_sequence(xt, lengths, enforce_sorted=False))
    out, _ = pad_packed_sequence(out_p)
    out_t, _ = trnn.pad_packed_sequence(out_tp)
    hn, hn_t = (state[0], state_t[0]) if kind == "LSTM" else (state, state_t)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(hn.data, hn_t.detach().numpy(), atol=1e-12)
    u, v = rng.standard_normal(out.shape), rng.standard_normal(hn.shape)
    loss = (out * _t(u)).sum() + (hn * _t(v)).sum()
    loss_t = (out_t * torch.tensor(u)).sum() + (hn_t * torch.tensor(v)).sum()
    if kind == "LSTM":
        np.testing.assert_allclose(state[1].data, state_t[1].detach().numpy(), atol=1e-12)
        loss, loss_t = loss + (state[1] * state[1]).sum(), loss_t + (state_t[1] ** 2).sum()
    loss.backward()
    loss_t.backward()
    np.testing.assert_allclose(xa.grad.data, xt.grad.numpy(), atol=1e-10)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, theirs_params[name].grad.numpy(), atol=1e-10)
