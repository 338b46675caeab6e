"""Table-driven parity with PyTorch: each (function, arguments) runs through deepgrad and
torch in float64, comparing values, result dtypes, gradients, and refusal of bad input."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import deepgrad as dg

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch installed")


@dataclass
class P:
    """`fn(lib, *tensors)` runs with lib = deepgrad or torch on float64 inputs of `shapes`."""

    name: str
    fn: Callable[..., Any]
    shapes: list[tuple[int, ...]]
    grad: bool = True
    ints: dict[int, int] = field(default_factory=dict)  # input position -> exclusive upper bound


TABLE = [
    # reductions returning (values, indices)
    P("max_dim", lambda L, x: L.max(x, 1), [(3, 4)]),
    P("max_method_keepdim", lambda L, x: x.max(dim=0, keepdim=True), [(3, 4)]),
    P("max_all", lambda L, x: x.max(), [(3, 4)]),
    P("min_dim", lambda L, x: x.min(1), [(2, 5)]),
    P("sort", lambda L, x: L.sort(x, 1), [(3, 5)]),
    P("sort_desc", lambda L, x: x.sort(dim=0, descending=True), [(4, 3)]),
    P("argsort", lambda L, x: L.argsort(x, dim=-1), [(3, 4)], grad=False),
    P("topk", lambda L, x: L.topk(x, 2, dim=1), [(3, 5)]),
    P("topk_smallest", lambda L, x: x.topk(3, largest=False), [(2, 6)]),
    P("kthvalue", lambda L, x: L.kthvalue(x, 2, 1), [(3, 4)]),
    P("kthvalue_keepdim", lambda L, x: x.kthvalue(3, 0, keepdim=True), [(5, 2)]),
    P("median_all", lambda L, x: L.median(x), [(3, 5)]),
    P("median_dim", lambda L, x: x.median(1), [(3, 5)]),
    P("cummax", lambda L, x: L.cummax(x, 1), [(3, 5)]),
    P("cummin", lambda L, x: L.cummin(x, 0), [(4, 3)]),
    P("mode_values", lambda L, x: L.mode((x * 2).long(), 1).values, [(3, 6)], grad=False),
    # cumulative and statistics
    P("cumprod", lambda L, x: L.cumprod(x, 1), [(3, 4)]),
    P("logcumsumexp", lambda L, x: L.logcumsumexp(x, 0), [(4, 3)]),
    P("var_unbiased", lambda L, x: L.var(x, 1), [(3, 4)]),
    P("var_biased", lambda L, x: x.var(0, unbiased=False, keepdim=True), [(3, 4)]),
    P("std_correction", lambda L, x: L.std(x, dim=1, correction=0), [(3, 4)]),
    P("std_all", lambda L, x: x.std(), [(3, 4)]),
    # layout
    P("tril", lambda L, x: L.tril(x), [(4, 4)]),
    P("triu_k", lambda L, x: L.triu(x, 1), [(3, 5)]),
    P("tril_method", lambda L, x: x.tril(-1), [(2, 4, 4)]),
    P("diag_vec", lambda L, x: L.diag(x), [(3,)]),
    P("diag_vec_k", lambda L, x: L.diag(x, -1), [(3,)]),
    P("diag_mat", lambda L, x: L.diag(x, 1), [(4, 3)]),
    P("diagonal", lambda L, x: L.diagonal(x, 0, 1, 2), [(2, 3, 4)]),
    P("diagonal_off", lambda L, x: x.diagonal(offset=-1), [(4, 3)]),
    P("diag_embed", lambda L, x: L.diag_embed(x), [(2, 3)]),
    P("trace", lambda L, x: L.trace(x), [(3, 3)]),
    P("roll", lambda L, x: L.roll(x, 2, 1), [(3, 5)]),
    P("roll_multi", lambda L, x: x.roll((1, -1), (0, 1)), [(3, 4)]),
    P("roll_flat", lambda L, x: L.roll(x, 3), [(2, 3)]),
    P("flip", lambda L, x: L.flip(x, (0, 2)), [(2, 3, 4)]),
    P("flip_method", lambda L, x: x.flip(1), [(2, 3)]),
    P("fliplr", lambda L, x: L.fliplr(x), [(2, 3)]),
    P("rot90", lambda L, x: L.rot90(x), [(2, 3)]),
    P("rot90_k3", lambda L, x: L.rot90(x, 3, (1, 2)), [(2, 3, 4)]),
    P("rot90_k2", lambda L, x: x.rot90(2), [(3, 4)]),
    P("repeat", lambda L, x: x.repeat(2, 3), [(2, 3)]),
    P("repeat_newdim", lambda L, x: x.repeat(2, 1, 2), [(3, 2)]),
    P("repeat_interleave", lambda L, x: L.repeat_interleave(x, 2, dim=0), [(3, 2)]),
    P("repeat_interleave_flat", lambda L, x: x.repeat_interleave(3), [(2, 2)]),
    P("tile", lambda L, x: L.tile(x, (2,)), [(2, 3)]),
    P("movedim", lambda L, x: L.movedim(x, 0, 2), [(2, 3, 4)]),
    P("movedim_multi", lambda L, x: x.movedim((0, 1), (2, 0)), [(2, 3, 4)]),
    P("narrow", lambda L, x: L.narrow(x, 1, 1, 2), [(3, 4)]),
    P("unbind", lambda L, x: L.unbind(x, 1), [(2, 3)]),
    P("meshgrid_ij", lambda L, a, b: L.meshgrid(a, b, indexing="ij"), [(3,), (4,)]),
    P("meshgrid_xy", lambda L, a, b: L.meshgrid(a, b, indexing="xy"), [(3,), (4,)]),
    P("t", lambda L, x: L.t(x), [(2, 3)]),
    P("mT", lambda L, x: x.mT, [(2, 3, 4)]),
    P("view_as", lambda L, x, y: x.view_as(y), [(2, 6), (3, 4)]),
    P("expand", lambda L, x: x.expand(2, -1, 3), [(4, 1)]),
    P("expand_as", lambda L, x, y: x.expand_as(y), [(3, 1), (3, 4)]),
    P("clone", lambda L, x: L.clone(x), [(2, 3)]),
    P("contiguous", lambda L, x: x.t().contiguous(), [(2, 3)]),
    # matrix products
    P("mm", lambda L, a, b: L.mm(a, b), [(2, 3), (3, 4)]),
    P("bmm", lambda L, a, b: L.bmm(a, b), [(2, 2, 3), (2, 3, 4)]),
    P("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0), [(4,), (2, 3), (3, 4)]),
    P("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b, alpha=0.3), [(2, 2, 4), (2, 2, 3), (2, 3, 4)]),
    # masks, index, scatter
    P("masked_fill", lambda L, x: x.masked_fill(x > 0, -1.5), [(3, 4)]),
    P("masked_select", lambda L, x: L.masked_select(x, x > 0), [(3, 4)]),
    P("index_select", lambda L, x, i: L.index_select(x, 1, i), [(3, 4), (5,)], ints={1: 4}),
    P("index_add", lambda L, x, i, s: x.index_add(0, i, s), [(4, 2), (3,), (3, 2)], ints={1: 4}),
    P("scatter", lambda L, x, i, s: L.scatter(x, 1, i, s), [(3, 5), (3, 2), (3, 2)], ints={1: 5}),
    P("scatter_value", lambda L, x, i: x.scatter(0, i, 2.5), [(3, 4), (1, 4)], ints={1: 3}),
    P("scatter_reduce_sum", lambda L, x, i, s: x.scatter_reduce(0, i, s, "sum"), [(3, 2), (4, 2), (4, 2)], ints={1: 3}),
    P("scatter_reduce_mean", lambda L, x, i, s: x.scatter_reduce(0, i, s, "mean", include_self=False), [(3, 2), (4, 2), (4, 2)], ints={1: 3}),
    P("scatter_reduce_prod", lambda L, x, i, s: x.scatter_reduce(0, i, s, "prod"), [(3, 2), (4, 2), (4, 2)], ints={1: 3}),
    P("scatter_reduce_amax", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "amax", include_self=False), [(2, 3), (2, 4), (2, 4)], ints={1: 3}),
    P("scatter_reduce_amin", lambda L, x, i, s: x.scatter_reduce(0, i, s, "amin"), [(3, 2), (4, 2), (4, 2)], ints={1: 3}),
    P("index_reduce_mean", lambda L, x, s: x.index_reduce(0, L.tensor([2, 0, 2]), s, "mean"), [(3, 2), (3, 2)]),
    P("scatter_multiply", lambda L, x, i, s: x.scatter(0, i, s, reduce="multiply"), [(3, 2), (2, 2), (2, 2)], grad=False, ints={1: 3}),
    P("index_put", lambda L, x, v: x.index_put((L.tensor([0, 2]),), v), [(3, 4), (2, 4)]),
    P("index_put_acc", lambda L, x, v: x.index_put((L.tensor([0, 0]),), v, accumulate=True), [(3, 2), (2, 2)]),
    # elementwise and reductions
    P("round_floor_ceil", lambda L, x: L.round(x * 3) + L.floor(x) + L.ceil(x) + x.trunc(), [(3, 4)]),
    P("round_decimals", lambda L, x: L.round(x, decimals=1), [(5,)]),
    P("frac", lambda L, x: L.frac(x), [(3, 4)]),
    P("log10_log2_rsqrt", lambda L, x: L.log10(x.abs() + 1) + x.abs().log2() + L.rsqrt(x.abs()), [(3, 4)]),
    P("logical", lambda L, a, b: L.logical_xor(L.logical_and(a > 0, b > 0), L.logical_not(a < b)), [(3,), (3,)], grad=False),
    P("logical_or", lambda L, a, b: (a > 0).logical_or(b), [(4,), (4,)], grad=False),
    P("amax", lambda L, x: L.amax(x, (0, 2)), [(2, 3, 4)]),
    P("amin_keepdim", lambda L, x: x.amin(1, keepdim=True), [(2, 3)]),
    P("count_nonzero", lambda L, x: L.count_nonzero(x > 0, dim=1), [(3, 4)], grad=False),
    # PyTorch's keywords on the module functions (ops/torch_surface.py)
    P("add_alpha", lambda L, a, b: L.add(a, b, alpha=0.5), [(2, 3), (3,)]),
    P("sub_alpha", lambda L, a, b: L.sub(a, b, alpha=-2), [(2, 3), (2, 3)]),
    P("div_floor", lambda L, a, b: L.div(a, b, rounding_mode="floor"), [(3, 4), (4,)]),
    P("div_trunc_int", lambda L, a: L.div(a - 5, 3, rounding_mode="trunc"), [(6,)], grad=False, ints={0: 10}),
    P("sum_dtype", lambda L, a: L.sum(a, 1, dtype=L.float64), [(3, 4)], grad=False, ints={0: 9}),
    P("mean_dtype", lambda L, a: L.mean(a.float(), 0, dtype=L.float64), [(3, 4)]),
    P("log_softmax_dtype", lambda L, a: L.log_softmax(a.float(), 1, dtype=L.float64), [(3, 4)]),
    P("cumsum_dtype", lambda L, a: a.cumsum(0, dtype=L.float64), [(4,)], grad=False, ints={0: 9}),
    P("diag_embed_dims", lambda L, a: L.diag_embed(a, 1, 0, 2), [(2, 3)]),
    # comparisons and non-differentiable queries
    P("eq", lambda L, a, b: L.eq(a, b), [(3,), (3,)], grad=False),
    P("lt_method", lambda L, a, b: a.lt(b), [(2, 3), (3,)], grad=False),
    P("ge", lambda L, a, b: L.ge(a, b), [(2, 3), (2, 3)], grad=False),
    P("isclose", lambda L, a: L.isclose(a, a + 1e-9), [(3,)], grad=False),
    P("nonzero", lambda L, x: L.nonzero(x > 0), [(3, 4)], grad=False),
    P("nonzero_tuple", lambda L, x: L.nonzero(x > 0, as_tuple=True), [(3, 4)], grad=False),
    P("where_1arg", lambda L, x: L.where(x > 0), [(3, 4)], grad=False),
    P("where_3arg", lambda L, x, y: L.where(x > 0, x, y), [(3, 4), (3, 4)]),
    P("unique", lambda L, x: L.unique((x * 2).long(), return_inverse=True, return_counts=True), [(3, 4)], grad=False),
    P("searchsorted", lambda L, s, v: L.searchsorted(L.sort(s).values, v), [(6,), (4,)], grad=False),
    P("searchsorted_right", lambda L, s, v: L.searchsorted(L.sort(s, 1).values, v, right=True), [(2, 5), (2, 3)], grad=False),
    P("bincount", lambda L, i: L.bincount(i, minlength=7), [(8,)], grad=False, ints={0: 5}),
    P("histc", lambda L, x: L.histc(x, bins=4, min=-2, max=2), [(10,)], grad=False),
]  # fmt: skip


def _inputs(lib, case: P, rng: np.random.Generator):
    arrays, tensors = [], []
    for k, shape in enumerate(case.shapes):
        if k in case.ints:
            a = rng.integers(0, case.ints[k], size=shape)
            arrays.append(a)
            tensors.append(lib.tensor(a))
        else:
            a = rng.uniform(-2, 2, size=shape)
            arrays.append(a)
            tensors.append(lib.tensor(a, dtype=lib.float64, requires_grad=case.grad))
    return tensors


def _flatten(out) -> list:
    if isinstance(out, (tuple, list)):
        return [o for item in out for o in _flatten(item)]
    return [out]


def _np(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.numpy() if isinstance(t, dg.Tensor) else t)


def _dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "") if isinstance(t, torch.Tensor) else str(t.dtype)


def _run(lib, case: P, seed: int):
    rng = np.random.default_rng(seed)
    xs = _inputs(lib, case, rng)
    outs = _flatten(case.fn(lib, *xs))
    grads = None
    if case.grad:
        floats = [o for o in outs if _dtype_name(o).startswith("float") and o.requires_grad]
        crng = np.random.default_rng(seed + 1)
        loss = sum((o * lib.tensor(crng.standard_normal(tuple(o.shape)))).sum() for o in floats)
        loss.backward()
        grads = [None if x.grad is None else _np(x.grad) for x in xs if x.requires_grad]
    return outs, grads


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter:UserWarning")
@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta:UserWarning")
@pytest.mark.parametrize("case", TABLE, ids=[c.name for c in TABLE])
def test_values_dtypes_and_gradients_match_pytorch(case):
    for seed in (0, 1):
        ours, our_grads = _run(dg, case, seed)
        theirs, their_grads = _run(torch, case, seed)
        assert len(ours) == len(theirs), f"{case.name}: {len(ours)} outputs vs {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert _dtype_name(a) == _dtype_name(b), f"{case.name} output {k} dtype"
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12, err_msg=case.name)
        if case.grad:
            for k, (a, b) in enumerate(zip(our_grads, their_grads)):
                if b is None:
                    assert a is None or not np.any(a), f"{case.name} grad {k}"
                else:
                    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=case.name)
