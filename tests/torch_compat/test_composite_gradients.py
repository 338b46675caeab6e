"""The PyTorch-style functions built from primitives differentiate correctly in both modes:
float64 finite differences (reverse), the forward/reverse dot-product test and second order.
Runs without torch (the parity module compares the same functions against PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.testing import check_jvp, gradcheck, gradgradcheck

IDX = np.array([0, 2, 2])
CASES = {
    "sort": (lambda x: dg.sort(x, 1, descending=True).values, [(3, 4)]),
    "topk": (lambda x: dg.topk(x, 2, dim=0).values, [(4, 3)]),
    "kthvalue": (lambda x: dg.kthvalue(x, 2, 1).values, [(3, 4)]),
    "median": (lambda x: dg.median(x, 0).values, [(5, 2)]),
    "cummax": (lambda x: dg.cummax(x, 1).values, [(2, 5)]),
    "cumprod": (lambda x: dg.cumprod(x, 1), [(2, 4)]),
    "logcumsumexp": (lambda x: dg.logcumsumexp(x, 0), [(4, 2)]),
    "var_std": (lambda x: dg.var(x, 1, unbiased=False) + dg.std(x, 0).sum(), [(3, 4)]),
    "tril_triu": (lambda x: dg.tril(x, -1) * 2 + dg.triu(x, 1), [(3, 3)]),
    "diag_diagonal": (lambda x, v: dg.diagonal(x, 1) + dg.diag(v)[0, :2], [(3, 3), (3,)]),
    "trace": (lambda x: dg.trace(x), [(3, 3)]),
    "roll_flip_rot90": (lambda x: dg.roll(x, 1, 0) + dg.flip(x, (1,)) + dg.rot90(x, 2), [(3, 3)]),
    "repeat_tile": (lambda x: x.repeat(2, 1) + dg.tile(x, (2, 1)), [(2, 3)]),
    "repeat_interleave": (lambda x: dg.repeat_interleave(x, 2, dim=1), [(2, 2)]),
    "movedim_narrow": (lambda x: dg.narrow(dg.movedim(x, 0, 2), 1, 1, 2), [(2, 3, 4)]),
    "unbind_meshgrid": (lambda a, b: dg.meshgrid(a, b)[0] * dg.meshgrid(a, b)[1], [(2,), (3,)]),
    "mm_addmm": (lambda c, a, b: dg.addmm(c, a, b, beta=0.5) + dg.mm(a, b), [(4,), (2, 3), (3, 4)]),
    "bmm_baddbmm": (lambda c, a, b: dg.baddbmm(c, a, b, alpha=2.0), [(2, 1, 4), (2, 2, 3), (2, 3, 4)]),
    "masked": (lambda x: dg.masked_fill(x, x.data > 0, 0.0) + dg.masked_select(x, x.data < 0).sum(), [(3, 3)]),
    "index_select_add": (lambda x, s: dg.index_add(x, 0, IDX, s) + dg.index_select(x, 0, IDX).sum(), [(3, 2), (3, 2)]),
    "scatter": (lambda x, s: dg.scatter(x, 1, np.array([[2, 0]]), s), [(2, 3), (1, 2)]),
    "scatter_reduce_mean": (lambda x, s: x.scatter_reduce(0, np.array([[0], [0], [1]]), s, "mean"), [(2, 1), (3, 1)]),
    "index_put_setitem": (lambda x, v: dg.index_put(x, (IDX[:2],), v, accumulate=True), [(3, 2), (2, 2)]),
    "rounding_logs": (lambda x: dg.round(x) * x + dg.frac(x) + dg.log10(x.abs() + 1) + dg.rsqrt(x.abs() + 1), [(2, 3)]),
    "amax_amin": (lambda x: dg.amax(x, (0, 1)) + dg.amin(x, 1).sum(), [(2, 3)]),
    "clone_expand": (lambda x: x.clone().expand(3, -1) * x.expand_as(dg.zeros(3, 2)), [(1, 2)]),
}  # fmt: skip


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [dg.tensor(rng.uniform(-2, 2, s), dtype=dg.double, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_gradients_in_both_modes_and_second_order(name):
    f, shapes = CASES[name]
    inputs = _inputs(shapes)
    assert gradcheck(f, inputs, atol=1e-6, rtol=1e-5)
    check_jvp(f, inputs)
    assert gradgradcheck(f, inputs, atol=1e-5, rtol=1e-4)


def test_inplace_update_of_a_non_leaf_differentiates_in_both_modes():
    def f(x, y):
        h = x * 1.0
        h.mul_(y)
        h[0] = h[0] * 3
        h += x
        return h

    inputs = _inputs([(2, 3), (2, 3)])
    assert gradcheck(f, inputs)
    assert gradgradcheck(f, inputs)
