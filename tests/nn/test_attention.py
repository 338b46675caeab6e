"""Attention and transformers: causal masks never look ahead, masks, additive attention,
positional encodings, and float64 parity with PyTorch (outputs and all gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F


def _t(a, grad=False):
    return dg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _jacobian_blocks(f, x: dg.Tensor, length: int) -> np.ndarray:
    """|d out[:, i] / d x[:, j]| summed over the rest: (length, length), i = output position."""
    out = np.zeros((length, length))
    u = np.random.default_rng(99).standard_normal(f(x)[:, 0].shape)  # a sum would cancel
    for i in range(length):
        x.grad = None
        y = f(x)
        (y[:, i] * _t(u)).sum().backward()
        out[i] = np.abs(x.grad.numpy()).sum(axis=(0, 2))
    return out


def test_sdpa_causal_never_looks_ahead():
    rng = np.random.default_rng(0)
    q, k = _t(rng.standard_normal((2, 5, 3))), _t(rng.standard_normal((2, 5, 3)))
    v = _t(rng.standard_normal((2, 5, 3)), True)
    jac = _jacobian_blocks(lambda v: F.scaled_dot_product_attention(q, k, v, is_causal=True), v, 5)
    assert np.all(np.triu(jac, 1) == 0) and np.all(np.diag(jac) > 0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_causal_encoder_layer_never_looks_ahead(norm_first):
    layer = nn.TransformerEncoderLayer(
        4, 2, 8, dropout=0.0, batch_first=True, norm_first=norm_first,
        generator=np.random.default_rng(1),
    ).double()  # fmt: skip
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    x = _t(np.random.default_rng(2).standard_normal((2, 5, 4)), True)
    jac = _jacobian_blocks(lambda x: layer(x, src_mask=mask), x, 5)
    assert np.all(np.triu(jac, 1) == 0) and np.all(jac[np.tril_indices(5)] > 0)
    jac_flag = _jacobian_blocks(lambda x: layer(x, is_causal=True), x, 5)
    np.testing.assert_allclose(jac_flag, jac, atol=1e-12)


def test_square_subsequent_mask_values():
    m = nn.Transformer.generate_square_subsequent_mask(3).numpy()
    assert np.all(m[np.triu_indices(3, 1)] == -np.inf) and np.all(m[np.tril_indices(3)] == 0)


def test_mha_key_padding_mask_hides_padded_keys():
    rng = np.random.default_rng(3)
    mha = nn.MultiheadAttention(4, 2, batch_first=True, generator=rng).double()
    q = _t(rng.standard_normal((2, 3, 4)))
    kv = _t(rng.standard_normal((2, 5, 4)), True)
    pad = np.array([[False] * 5, [False, False, False, True, True]])
    out, w = mha(q, kv, kv, key_padding_mask=pad, average_attn_weights=False)
    assert w.shape == (2, 2, 3, 5)
    assert np.all(w.numpy()[1, :, :, 3:] == 0) and np.allclose(w.numpy().sum(-1), 1.0)
    out.sum().backward()
    assert np.all(kv.grad.numpy()[1, 3:] == 0) and np.any(kv.grad.numpy()[0, 3:] != 0)
    short, _ = mha(q[1:2], kv[1:2, :3], kv[1:2, :3])
    np.testing.assert_allclose(out.data[1:2], short.data, atol=1e-12)


def test_additive_attention_weights_and_mask():
    rng = np.random.default_rng(4)
    att = nn.AdditiveAttention(3, 2, 5, generator=rng).double()
    q, keys = rng.standard_normal((2, 3)), rng.standard_normal((2, 4, 2))
    mask = np.array([[True] * 4, [True, True, False, False]])
    ctx, w = att(_t(q), _t(keys), mask=mask)
    wq, wk, v = att.w_query.data, att.w_key.data, att.v.data
    e = np.tanh((q @ wq.T)[:, None] + keys @ wk.T) @ v
    e = np.where(mask, e, -np.inf)
    expect = np.exp(e - e.max(1, keepdims=True))
    expect /= expect.sum(1, keepdims=True)
    np.testing.assert_allclose(w.data, expect, atol=1e-12)
    np.testing.assert_allclose(ctx.data, np.einsum("ns,nsd->nd", expect, keys), atol=1e-12)


def test_positional_encodings():
    pe = nn.SinusoidalPositionalEncoding(4, max_len=10).double()
    y = pe(_t(np.zeros((6, 1, 4)))).data[:, 0]
    t = np.arange(6)
    np.testing.assert_allclose(y[:, 0], np.sin(t), atol=1e-12)
    np.testing.assert_allclose(y[:, 1], np.cos(t), atol=1e-12)
    np.testing.assert_allclose(y[:, 3], np.cos(t / 100.0), atol=1e-12)
    learned = nn.LearnedPositionalEncoding(8, 4, batch_first=True).double()
    y = learned(_t(np.zeros((2, 5, 4))))
    np.testing.assert_array_equal(y.data[1], learned.weight.data[:5])


# --- parity with PyTorch -----------------------------------------------------------------


def _torch():
    return pytest.importorskip("torch", reason="PyTorch parity tests need torch")


def _load(ours, theirs, torch):
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})


def _grads_match(ours, theirs, pairs, atol=1e-10):
    for a, b in pairs:
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=atol)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, named[name].grad.numpy(), atol=atol, err_msg=name)


@pytest.mark.parametrize(
    "mask_kind,is_causal,scale",
    [(None, False, None), ("bool", False, 0.3), ("float", False, None), (None, True, None)],
)
def test_sdpa_parity(mask_kind, is_causal, scale):
    torch = _torch()
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 3, 6, 5))]
    arrays.append(rng.standard_normal((2, 3, 6, 2)))
    mask = None
    if mask_kind == "bool":
        mask = rng.random((4, 6)) > 0.3
        mask[:, 0] = True
    elif mask_kind == "float":
        mask = rng.standard_normal((2, 1, 4, 6))
    ours = [_t(a, True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, mask, is_causal=is_causal, scale=scale)
    mask_t = None if mask is None else torch.tensor(mask)
    out_t = torch.nn.functional.scaled_dot_product_attention(
        *theirs, mask_t, is_causal=is_causal, scale=scale
    )
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    u = rng.standard_normal(out.shape)
    (out * _t(u)).sum().backward()
    (out_t * torch.tensor(u)).sum().backward()
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize(
    "kw,masks",
    [
        ({}, {}),
        ({"batch_first": True}, {"pad": True, "attn": "bool", "average_attn_weights": False}),
        ({"kdim": 3, "vdim": 2, "bias": False}, {"attn": "float"}),
    ],
    ids=["plain", "batch_first-masks", "kdim-vdim"],
)
def test_multihead_attention_parity(kw, masks):
    torch = _torch()
    rng = np.random.default_rng(6)
    ours = nn.MultiheadAttention(4, 2, generator=rng, **kw).double()
    theirs = torch.nn.MultiheadAttention(4, 2, **kw).double()
    _load(ours, theirs, torch)
    bf = kw.get("batch_first", False)
    shape = lambda n, length, d: (n, length, d) if bf else (length, n, d)
    arrays = [
        rng.standard_normal(shape(2, 3, 4)),
        rng.standard_normal(shape(2, 5, kw.get("kdim", 4))),
        rng.standard_normal(shape(2, 5, kw.get("vdim", 4))),
    ]
    call = {"average_attn_weights": masks.get("average_attn_weights", True)}
    call_t = dict(call)
    if masks.get("pad"):
        pad = np.array([[False] * 5, [False] * 3 + [True] * 2])
        call["key_padding_mask"], call_t["key_padding_mask"] = pad, torch.tensor(pad)
    if masks.get("attn") == "bool":
        m = rng.random((3, 5)) > 0.6
        m[:, 0] = False
        call["attn_mask"], call_t["attn_mask"] = m, torch.tensor(m)
    elif masks.get("attn") == "float":
        m = rng.standard_normal((4, 3, 5))
        call["attn_mask"], call_t["attn_mask"] = m, torch.tensor(m)
    xs = [_t(a, True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, w = ours(*xs, **call)
    out_t, w_t = theirs(*ts, **call_t)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.data, w_t.detach().numpy(), atol=1e-12)
    u, v = rng.standard_normal(out.shape), rng.standard_normal(w.shape)
    ((out * _t(u)).sum() + (w * _t(v)).sum()).backward()
    ((out_t * torch.tensor(u)).sum() + (w_t * torch.tensor(v)).sum()).backward()
    _grads_match(ours, theirs, zip(xs, ts))


@pytest.mark.parametrize(
    "kw",
    [{}, {"norm_first": True, "activation": "gelu", "batch_first": True}],
    ids=["post-norm", "pre-norm-gelu"],
)
def test_encoder_and_decoder_layer_parity(kw):
    torch = _torch()
    rng = np.random.default_rng(7)
    for kind in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        ours = getattr(nn, kind)(4, 2, 6, dropout=0.0, generator=rng, **kw).double()
        theirs = getattr(torch.nn, kind)(4, 2, 6, dropout=0.0, **kw).double()
        _load(ours, theirs, torch)
        arrays = [rng.standard_normal((3, 3, 4))]
        if kind == "TransformerDecoderLayer":
            arrays.append(rng.standard_normal((3, 3, 4)))
        xs = [_t(a, True) for a in arrays]
        ts = [torch.tensor(a, requires_grad=True) for a in arrays]
        mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64)
        mask_t = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
        out, out_t = ours(*xs, mask), theirs(*ts, mask_t)
        np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
        u = rng.standard_normal(out.shape)
        (out * _t(u)).sum().backward()
        (out_t * torch.tensor(u)).sum().backward()
        _grads_match(ours, theirs, zip(xs, ts))


@pytest.mark.filterwarnings("ignore:enable_nested_tensor:UserWarning")
def test_transformer_parity():
    torch = _torch()
    rng = np.random.default_rng(8)
    ours = nn.Transformer(4, 2, 2, 1, 6, 0.0, generator=rng).double()
    theirs = torch.nn.Transformer(4, 2, 2, 1, 6, 0.0).double()
    _load(ours, theirs, torch)
    src, tgt = rng.standard_normal((5, 2, 4)), rng.standard_normal((3, 2, 4))
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=np.float64)
    pad = np.array([[False] * 5, [False] * 4 + [True]])
    out = ours(_t(src), _t(tgt), tgt_mask=mask, src_key_padding_mask=pad)
    out_t = theirs(
        torch.tensor(src), torch.tensor(tgt), tgt_mask=torch.tensor(mask.numpy()),
        src_key_padding_mask=torch.tensor(pad),
    )  # fmt: skip
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), atol=1e-12)
    out.sum().backward()
    out_t.sum().backward()
    _grads_match(ours, theirs, [])
