"""SparseAdam and sparse embedding gradients without torch (parity with torch.optim.SparseAdam
is in tests/torch_compat/test_sparse_adam_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn.sparse_grad import grad_rows


def _emb(sparse=True, **kw):
    emb = dg.nn.Embedding(6, 2, sparse=sparse, dtype=dg.float64, **kw)
    emb.weight.data[...] = np.arange(12.0).reshape(6, 2) / 10
    return emb


def test_only_held_rows_move_and_the_others_moments_stay_untouched():
    emb = _emb()
    opt = dg.optim.SparseAdam(emb.parameters(), lr=0.1)
    emb(dg.tensor([1, 3])).sum().backward()
    opt.step()
    before = emb.weight.numpy().copy()
    opt.zero_grad()
    emb(dg.tensor([3, 3])).mul(0.0).sum().backward()  # row 3 held with a zero gradient
    assert grad_rows(emb.weight).tolist() == [3]
    opt.step()
    m = opt.state[emb.weight]["exp_avg"]
    first = (1 - 0.9) * 1.0  # the first step's moment: (1 - beta1) g with g = 1
    assert m[1].tolist() == [first, first]  # row 1 not held: its moment did not decay
    assert m[3].tolist() == pytest.approx([0.9 * first] * 2)  # held, g = 0: decayed by beta1
    after = emb.weight.numpy()
    np.testing.assert_array_equal(after[[0, 1, 2, 4, 5]], before[[0, 1, 2, 4, 5]])
    assert not np.array_equal(after[3], before[3])


def test_rows_accumulate_over_backward_passes_and_reset_with_zero_grad():
    emb = _emb(padding_idx=0)
    emb(dg.tensor([2, 0])).sum().backward()
    emb(dg.tensor([5])).sum().backward()
    assert grad_rows(emb.weight).tolist() == [2, 5]  # padding_idx holds no row, as PyTorch
    emb.zero_grad()
    assert grad_rows(emb.weight) is None
    y = dg.nn.functional.embedding(dg.tensor([4]), emb.weight, sparse=True)
    y.sum().backward()
    assert grad_rows(emb.weight).tolist() == [4]
    np.testing.assert_array_equal(emb.weight.grad.numpy()[4], [1.0, 1.0])


def test_dense_gradients_are_refused():
    emb = _emb(sparse=False)
    opt = dg.optim.SparseAdam(emb.parameters())
    emb(dg.tensor([1])).sum().backward()
    with pytest.raises(RuntimeError, match=r"SparseAdam does not support dense gradients"):
        opt.step()
    tied = _emb()
    opt = dg.optim.SparseAdam(tied.parameters())
    (tied(dg.tensor([1])).sum() + tied.weight.sum()).backward()  # a dense use of the weight too
    with pytest.raises(RuntimeError, match=r"nonzero outside the rows its sparse lookups hold"):
        opt.step()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": -1.0}, r"SparseAdam: lr must be"),
        ({"betas": (0.9, 1.0)}, r"SparseAdam: betas\[1\] must be in"),
        ({"eps": -1e-8}, r"SparseAdam: eps must be"),
    ],
)
def test_bad_hyperparameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dg.optim.SparseAdam(_emb().parameters(), **kwargs)
