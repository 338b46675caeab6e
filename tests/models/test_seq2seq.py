"""Seq2seq with attention (greedy vs beam search, teacher forcing) and the memory network."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.models import MemN2N, Seq2Seq


@pytest.mark.parametrize("cell,attention", [("gru", "additive"), ("lstm", "dot")])
def test_beam_of_one_equals_greedy(cell, attention):
    model = Seq2Seq(9, 9, 6, 8, cell, attention, generator=np.random.default_rng(0)).double()
    src = np.random.default_rng(1).integers(3, 9, (5, 4))
    greedy, maps = model.greedy_decode(src, 6)
    assert maps.shape[:2] == greedy.shape and np.allclose(maps.sum(-1), 1.0)
    beams = model.beam_search(src, beam_size=1, max_len=6)
    for row, beam in zip(greedy, beams):
        stop = list(row).index(2) + 1 if 2 in row else len(row)
        assert beam == list(row[:stop])


def test_teacher_forcing_ratio_zero_feeds_back_the_models_own_argmax():
    model = Seq2Seq(9, 9, 6, 8, generator=np.random.default_rng(2)).double()
    src = np.random.default_rng(3).integers(3, 9, (3, 4))
    tgt = np.random.default_rng(4).integers(3, 9, (3, 5))
    free = model(src, tgt, teacher_forcing_ratio=0.0).data.argmax(-1)
    greedy, _ = model.greedy_decode(src, 5)
    for f, g in zip(free, greedy):
        stop = list(g).index(2) + 1 if 2 in g else len(g)
        np.testing.assert_array_equal(f[:stop], g[:stop])
    forced = model(src, tgt, teacher_forcing_ratio=1.0)
    again = model(src, tgt, teacher_forcing_ratio=1.0)
    np.testing.assert_array_equal(forced.data, again.data)


def test_seq2seq_learns_to_reverse_a_small_batch():
    rng = np.random.default_rng(5)
    model = Seq2Seq(8, 8, 8, 16, generator=rng)
    src = rng.integers(3, 8, (8, 4))
    tgt = np.concatenate([src[:, ::-1], np.full((8, 1), 2)], 1)
    opt = optim.Adam(model.parameters(), lr=0.03)
    for _ in range(80):
        opt.zero_grad()
        logits = model(src, tgt)
        loss = nn.CrossEntropyLoss()(logits.reshape(-1, 8), dg.Tensor(tgt.reshape(-1)))
        loss.backward()
        opt.step()
    greedy, _ = model.greedy_decode(src, 5)
    assert (greedy == tgt).mean() >= 0.95
    assert model.beam_search(src[:2], 3, 6) == [list(t) for t in tgt[:2]]


def test_memn2n_masks_empty_sentences_and_rejects_bad_shapes():
    model = MemN2N(10, 6, hops=2, generator=np.random.default_rng(6)).double()
    story = np.array([[[3, 4], [5, 6], [0, 0]]])
    logits, attention = model(story, np.array([[3, 0]]))
    assert logits.shape == (1, 10) and attention.shape == (1, 2, 3)
    assert np.all(attention.numpy()[:, :, 2] == 0) and np.allclose(attention.numpy().sum(-1), 1.0)
    with pytest.raises(ValueError, match=r"MemN2N: story must be \(N, M, L\)"):
        model(story[0], np.array([[3, 0]]))
