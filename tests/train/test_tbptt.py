"""Truncated BPTT: states carry across chunks, gradients stop at chunk boundaries."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import detach_state, tbptt_chunks, tbptt_epoch


class _Tagger(nn.Module):
    """An LSTM with a linear head on every step: (T, N, 2) -> (T, N, 1)."""

    def __init__(self, rng):
        super().__init__()
        self.rnn = nn.LSTM(2, 3, generator=rng)
        self.head = nn.Linear(3, 1, generator=rng)

    def forward(self, x, state=None):
        out, state = self.rnn(x, state)
        return self.head(out), state


def _data(rng):
    x = dg.Tensor(rng.standard_normal((7, 2, 2)))
    return x, dg.Tensor(rng.standard_normal((7, 2, 1)))


def test_state_carries_across_chunks_and_is_detached():
    rng = np.random.default_rng(0)
    model = _Tagger(rng).double()
    x, y = _data(rng)
    opt = optim.SGD(model.parameters(), lr=0.0)
    losses, state = tbptt_epoch(model, nn.MSELoss(), opt, x, y, k=3)
    assert len(losses) == 3  # chunks of 3, 3 and 1 steps
    _, (h, c) = model(x)
    np.testing.assert_allclose(state[0].data, h.data, atol=1e-12)
    np.testing.assert_allclose(state[1].data, c.data, atol=1e-12)
    assert not state[0].requires_grad and not state[1].requires_grad


def test_one_chunk_is_full_bptt_and_short_chunks_cut_the_gradient():
    rng = np.random.default_rng(1)
    x, y = _data(rng)
    full, cut = (
        _Tagger(np.random.default_rng(2)).double(),
        _Tagger(np.random.default_rng(2)).double(),
    )
    ref = _Tagger(np.random.default_rng(2)).double()
    tbptt_epoch(full, nn.MSELoss(), optim.SGD(full.parameters(), lr=0.1), x, y, k=7)
    loss = nn.MSELoss()(ref(x)[0], y)
    loss.backward()
    optim.SGD(ref.parameters(), lr=0.1).step()
    for a, b in zip(full.parameters(), ref.parameters()):
        np.testing.assert_allclose(a.data, b.data, atol=1e-12)
    # with k = 1 the recurrent weights get no gradient through time from the first chunk,
    # so the result differs from full BPTT
    tbptt_epoch(cut, nn.MSELoss(), optim.SGD(cut.parameters(), lr=0.1), x, y, k=1)
    assert not np.allclose(cut.rnn.weight_hh_l0.numpy(), full.rnn.weight_hh_l0.numpy())


def test_chunks_and_errors():
    x = dg.Tensor(np.arange(10.0).reshape(2, 5))
    chunks = list(tbptt_chunks(x, 2, dim=1))
    assert [c.shape for c in chunks] == [(2, 2), (2, 2), (2, 1)]
    np.testing.assert_array_equal(chunks[2].data[:, 0], [4.0, 9.0])
    with pytest.raises(ValueError, match="tbptt_chunks: k must be a positive"):
        list(tbptt_chunks(x, 0))
    with pytest.raises(TypeError, match="detach_state: expected tensors"):
        detach_state({"h": x})
