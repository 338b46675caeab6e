"""SparseAdam on Embedding(sparse=True) follows torch.optim.SparseAdam's trajectory in float64:
parameters and both moments within 1e-12, over lookups with repeats, padding_idx, two lookups
in one loss, gradients accumulated over two backward passes, and maximize."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch installed")


def _models(W, padding_idx):
    ours = dg.nn.Embedding(*W.shape, padding_idx=padding_idx, sparse=True, dtype=dg.float64)
    ours.weight.data[...] = W
    theirs = torch.nn.Embedding(*W.shape, padding_idx=padding_idx, sparse=True).double()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(W))
    return ours, theirs


def _loss(L, emb, idx, target, twice):
    y = emb(L.tensor(idx))
    loss = ((y - L.tensor(target)) ** 2).sum()
    if twice:  # a second lookup into the same table, through F.embedding
        loss = loss + L.nn.functional.embedding(L.tensor(idx[:1]), emb.weight, sparse=True).sum()
    return loss


@pytest.mark.parametrize(
    "padding_idx, twice, accumulate, maximize",
    [(None, False, False, False), (0, True, False, False), (2, False, True, True)],
)
def test_trajectory_matches_torch(padding_idx, twice, accumulate, maximize):
    rng = np.random.default_rng(0)
    ours, theirs = _models(rng.standard_normal((9, 3)), padding_idx)
    kw = {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "maximize": maximize}
    opt_a = dg.optim.SparseAdam(ours.parameters(), **kw)
    opt_b = torch.optim.SparseAdam(theirs.parameters(), **kw)
    for _ in range(6):
        idx = rng.integers(0, 6, size=(4, 2))  # rows 6..8 are never looked up
        target = rng.standard_normal((4, 2, 3))
        for L, emb, opt in ((dg, ours, opt_a), (torch, theirs, opt_b)):
            opt.zero_grad()
            _loss(L, emb, idx, target, twice).backward()
            if accumulate:
                _loss(L, emb, idx[::-1].copy(), target, twice).backward()
            opt.step()
        np.testing.assert_allclose(
            ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=0, atol=1e-12
        )
    for key in ("exp_avg", "exp_avg_sq"):
        want = opt_b.state[theirs.weight][key].to_dense().numpy()
        np.testing.assert_allclose(opt_a.state[ours.weight][key], want, rtol=0, atol=1e-12)
    assert opt_a.state[ours.weight]["step"] == int(opt_b.state[theirs.weight]["step"])
