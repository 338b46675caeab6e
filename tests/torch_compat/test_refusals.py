"""Invalid calls to the PyTorch-style functions are refused with a message naming the
function and the argument at fault; where PyTorch is installed, it must refuse them too."""

from __future__ import annotations

import pytest

import deepgrad as dg

BAD = [
    ("sort_dim", lambda L: L.sort(L.zeros(2, 3), dim=2), r"sort: dim 2 is out of range"),
    ("topk_k", lambda L: L.topk(L.zeros(2, 3), 4), r"topk: k=4 is out of range"),
    ("kthvalue_k", lambda L: L.kthvalue(L.zeros(3), 0), r"kthvalue: k=0 is out of range"),
    ("mm_shapes", lambda L: L.mm(L.zeros(2, 3), L.zeros(2, 3)), r"mm: shapes"),
    ("bmm_dims", lambda L: L.bmm(L.zeros(2, 3), L.zeros(3, 2)), r"bmm: expected 3-d"),
    ("narrow_len", lambda L: L.narrow(L.zeros(3, 4), 1, 3, 2), r"narrow: start"),
    ("tril_1d", lambda L: L.tril(L.zeros(3)), r"tril: needs a tensor of at least 2 dims"),
    ("trace_3d", lambda L: L.trace(L.zeros(2, 2, 2)), r"trace: expected a 2-d"),
    ("expand_fewer", lambda L: L.zeros(2, 3).expand(3), r"expand: the number of sizes"),
    ("repeat_fewer", lambda L: L.zeros(2, 3).repeat(2), r"repeat: the number of repeats"),
    ("bincount_neg", lambda L: L.bincount(L.tensor([-1, 2])), r"bincount: input must be"),
    ("masked_fill_float", lambda L: L.zeros(2).masked_fill(L.zeros(2), 1.0), r"masked_fill: mask"),
    ("leaf_inplace", lambda L: L.ones(2, requires_grad=True).add_(1), r"leaf"),
    ("int_iadd_float", lambda L: L.zeros(2, dtype=L.int64).add_(0.5), r"can't be cast"),
    ("t_3d", lambda L: L.t(L.zeros(2, 2, 2)), r"t: expects a tensor of <= 2 dims"),
    ("multinomial_too_many", lambda L: L.multinomial(L.tensor([1.0, 1.0]), 3), r"multinomial"),
    ("cuda", lambda L: L.zeros(2, device="cuda:0").sum().item() if L is dg else L.zeros(2, device="xyz"), r"CPU only"),
]  # fmt: skip


@pytest.mark.parametrize("name,call,match", BAD, ids=[b[0] for b in BAD])
def test_invalid_input_is_refused_like_pytorch(name, call, match):
    with pytest.raises(Exception, match=match) as ours:
        call(dg)
    assert ours.type in (RuntimeError, ValueError, TypeError, IndexError)
    try:
        import torch
    except ImportError:
        return  # deepgrad's refusal is checked above; the comparison needs PyTorch
    with pytest.raises(Exception):  # noqa: B017 (PyTorch's own exception types vary)
        call(torch)
