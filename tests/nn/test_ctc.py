"""CTCLoss: against a brute-force sum over alignments, and against torch (float64)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F

RNG = np.random.default_rng(6)


def _collapse(path, blank):
    out = [k for k, _ in itertools.groupby(path)]
    return [k for k in out if k != blank]


def _brute_force(log_probs, target, blank=0):
    steps, c = log_probs.shape
    total = 0.0
    for path in itertools.product(range(c), repeat=steps):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
    return -np.log(total)


def _log_softmax(x):
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("target", [[1], [1, 2], [2, 2], [1, 2, 1]])
def test_matches_the_sum_over_all_alignments(target):
    lp = _log_softmax(RNG.normal(size=(5, 1, 3)))
    got = F.ctc_loss(dg.tensor(lp), [target], [5], [len(target)], reduction="sum").item()
    np.testing.assert_allclose(got, _brute_force(lp[:, 0], target), rtol=1e-10)


def test_impossible_alignment_is_inf_or_zeroed():
    lp = dg.tensor(_log_softmax(RNG.normal(size=(2, 1, 3))), requires_grad=True)
    assert np.isinf(F.ctc_loss(lp, [[1, 1]], [2], [2], reduction="sum").item())  # needs 3 steps
    loss = nn.CTCLoss(zero_infinity=True, reduction="sum")(lp, [[1, 1]], [2], [2])
    loss.backward()
    assert loss.item() == 0.0 and not lp.grad.data.any()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("concatenated", [False, True])
def test_matches_torch(reduction, concatenated):
    torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
    logits = RNG.normal(size=(7, 3, 5))
    padded = np.array([[1, 2, 2, 3], [4, 1, 0, 0], [2, 0, 0, 0]])
    lengths_in, lengths_t = np.array([7, 6, 4]), np.array([4, 2, 1])
    targets = (
        np.concatenate([padded[i, :k] for i, k in enumerate(lengths_t)]) if concatenated else padded
    )
    x = dg.tensor(logits, requires_grad=True)
    tx = torch.tensor(logits, requires_grad=True)
    ours = F.ctc_loss(F.log_softmax(x, dim=2), targets, lengths_in, lengths_t, reduction=reduction)
    ref = torch.nn.functional.ctc_loss(
        torch.log_softmax(tx, 2), torch.tensor(targets), torch.tensor(lengths_in),
        torch.tensor(lengths_t), reduction=reduction,
    )  # fmt: skip
    np.testing.assert_allclose(ours.data, ref.detach().numpy(), rtol=1e-10)
    ours.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
