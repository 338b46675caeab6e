"""scatter_reduce, index_reduce and scatter(reduce=) without torch: hand-computed values and
the refusals (the parity module in tests/torch_compat compares gradients with PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg

INDEX = np.array([[0, 2], [2, 2], [0, 1], [2, 0]])


def test_each_reduction_on_a_hand_computed_example():
    x = dg.tensor([1.0, 2.0, 3.0])
    src = dg.tensor([4.0, 0.5, 6.0])
    index = np.array([0, 0, 2])
    want = {
        "sum": ([5.5, 2.0, 9.0], [4.5, 2.0, 6.0]),
        "prod": ([2.0, 2.0, 18.0], [2.0, 2.0, 6.0]),
        "mean": ([5.5 / 3, 2.0, 4.5], [2.25, 2.0, 6.0]),
        "amax": ([4.0, 2.0, 6.0], [4.0, 2.0, 6.0]),
        "amin": ([0.5, 2.0, 3.0], [0.5, 2.0, 6.0]),
    }
    for reduce, (with_self, without) in want.items():
        got = dg.scatter_reduce(x, 0, index, src, reduce)
        np.testing.assert_allclose(got.numpy(), with_self, err_msg=reduce)
        got = x.scatter_reduce(0, index, src, reduce, include_self=False)
        np.testing.assert_allclose(got.numpy(), without, err_msg=reduce)


def test_amax_ties_share_the_gradient_evenly_and_prod_handles_a_zero():
    x = dg.tensor([3.0, 1.0], requires_grad=True)
    src = dg.tensor([3.0, 3.0, 0.0], requires_grad=True)
    dg.scatter_reduce(x, 0, np.array([0, 0, 1]), src, "amax").sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1 / 3, 1.0])
    np.testing.assert_allclose(src.grad.numpy(), [1 / 3, 1 / 3, 0.0])
    x = dg.tensor([2.0, 5.0], requires_grad=True)
    src = dg.tensor([0.0, 3.0, 0.0, 0.0], requires_grad=True)
    dg.scatter_reduce(x, 0, np.array([0, 0, 1, 1]), src, "prod").sum().backward()
    # d(2 * 0 * 3)/d src_0 = 6; two zeros at entry 1 give every gradient there 0
    np.testing.assert_allclose(src.grad.numpy(), [6.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])


def test_only_the_index_shaped_block_of_src_is_read():
    x, src = dg.zeros(3, 2), dg.tensor(np.arange(12.0).reshape(4, 3), dtype=dg.float32)
    for reduce in ("sum", "amax"):
        got = dg.scatter_reduce(x, 0, INDEX, src, reduce)
        want = dg.scatter_reduce(x, 0, INDEX, src[:, :2], reduce)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_index_reduce_and_scatter_multiply():
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    got = x.index_reduce(0, [1, 1], dg.tensor([[2.0, 5.0], [7.0, 1.0]]), "amax")
    np.testing.assert_array_equal(got.numpy(), [[1.0, 2.0], [7.0, 5.0]])
    got = x.scatter(1, np.array([[1], [0]]), 10.0, reduce="multiply")
    np.testing.assert_array_equal(got.numpy(), [[1.0, 20.0], [30.0, 4.0]])


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: dg.zeros(3, 2).scatter_reduce(0, INDEX, dg.ones(4, 2), "max"), RuntimeError,
         r"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin; got 'max'"),
        (lambda: dg.zeros(3, 2).scatter_reduce(0, INDEX, dg.ones(4, 1), "sum"), RuntimeError,
         r"scatter_reduce: index of shape \(4, 2\) must be no larger than src \(4, 1\)"),
        (lambda: dg.zeros(3, 2).scatter_reduce(2, INDEX, dg.ones(4, 2), "sum"), IndexError,
         r"scatter_reduce: dim 2 is out of range"),
        (lambda: dg.zeros(3, 2).scatter_reduce(0, INDEX * 1.0, dg.ones(4, 2), "sum"), TypeError,
         r"scatter_reduce: index must be an integer tensor, got dtype float64"),
        (lambda: dg.zeros(3, 2).scatter_reduce(0, INDEX[:, :1].ravel(), dg.ones(4, 2), "sum"),
         RuntimeError, r"scatter_reduce: index, input and src must have the same number of dims"),
        (lambda: dg.zeros(3, 2).index_reduce(0, [0, 1], dg.ones(2, 2), "sum"), RuntimeError,
         r"index_reduce: reduce must be one of prod, mean, amax, amin; got 'sum'"),
        (lambda: dg.zeros(3, 2).index_reduce(0, [0, 1], dg.ones(3, 2), "prod"), RuntimeError,
         r"index_reduce: source of shape \(3, 2\) must match the input \(3, 2\) except along"),
        (lambda: dg.zeros(3, 2).index_reduce(0, [0, 3], dg.ones(2, 2), "prod"), IndexError,
         r"index_reduce: index values must lie in \[0, 3\)"),
        (lambda: dg.zeros(3, 2).scatter(0, INDEX[:3], dg.ones(3, 2), reduce="max"), RuntimeError,
         r"scatter: reduce must be None, 'add' or 'multiply', got 'max'"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_by_name(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
