"""PyTorch's keywords on deepgrad's module-level functions (`ops/torch_surface.py`, `ops/out.py`):
`out=` writes into the given tensor (its memory, resized when its shape differs), refuses a
graph and a kind-changing cast; `dtype=` casts first; `alpha=`; `rounding_mode=`."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_out_writes_into_the_given_tensor_and_returns_it():
    a = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = dg.zeros(2, 2)
    view = out.numpy()
    assert dg.mul(a, 3, out=out) is out
    np.testing.assert_array_equal(view, [[3.0, 6.0], [9.0, 12.0]])  # the same memory
    assert dg.exp(dg.zeros(3), out=out) is out and out.shape == (3,)  # resized
    np.testing.assert_array_equal(out.numpy(), [1.0, 1.0, 1.0])


def test_out_takes_a_pair_for_values_and_indices():
    a = dg.tensor([[1.0, 5.0], [7.0, 4.0]])
    values, indices = dg.empty(0), dg.empty(0, dtype=dg.long)
    got = dg.max(a, 1, out=(values, indices))
    assert got[0] is values and got[1] is indices
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])


def test_out_refuses_autograd_and_a_kind_changing_cast():
    x = dg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"exp: functions with out=\.\.\. arguments don't"):
        dg.exp(x, out=dg.empty(2))
    with dg.no_grad():
        assert dg.exp(x, out=dg.empty(2)).requires_grad is False
    with pytest.raises(RuntimeError, match=r"add: result type float32 can't be cast to .* int64"):
        dg.add(dg.ones(2), dg.ones(2), out=dg.empty(2, dtype=dg.long))
    with pytest.raises(TypeError, match=r"sum: out must be a Tensor, got ndarray"):
        dg.sum(dg.ones(2), out=np.zeros(()))
    ints = dg.empty(2, dtype=dg.long)
    dg.add(dg.tensor([1, 2]), 1, out=dg.empty(2, dtype=dg.float64))  # int into float is fine
    assert dg.zeros(2, out=ints) is ints and ints.dtype == dg.long  # factories take out's dtype


def test_dtype_casts_the_input_before_reducing():
    x = dg.tensor([1, 2, 4])
    assert dg.sum(x, dtype=dg.float64).dtype == dg.float64
    assert x.sum(dtype=dg.float32).dtype == dg.float32
    assert dg.mean(x, dtype=dg.float64).item() == pytest.approx(7 / 3)
    assert x.cumprod(0, dtype=dg.float64).tolist() == [1.0, 2.0, 8.0]
    big = dg.tensor([1e4, 1e4], dtype=dg.float16)  # the product overflows float16, not float64
    assert dg.prod(big, dtype=dg.float64).item() == 1e8
    y = dg.softmax(dg.tensor([0.0, 0.0], dtype=dg.float32), 0, dtype=dg.float64)
    assert y.dtype == dg.float64 and y.tolist() == [0.5, 0.5]


def test_alpha_and_rounding_mode():
    a, b = dg.tensor([1.0, 2.0]), dg.tensor([10.0, 20.0])
    assert dg.add(a, b, alpha=0.5).tolist() == [6.0, 12.0]
    assert dg.sub(a, b, alpha=2).tolist() == [-19.0, -38.0]
    assert dg.rsub(a, b, alpha=2).tolist() == [8.0, 16.0]
    with pytest.raises(RuntimeError, match=r"alpha 0.5: for integral input tensors"):
        dg.add(dg.tensor([1]), dg.tensor([2]), alpha=0.5)
    n = dg.tensor([-7, 7])
    assert dg.div(n, 2, rounding_mode="trunc").tolist() == [-3, 3]
    assert dg.div(n, 2, rounding_mode="floor").tolist() == [-4, 3]
    assert dg.div(n, 2).tolist() == [-3.5, 3.5]
    x = dg.tensor([-7.0, 7.0], requires_grad=True)
    q = dg.div(x, 2.0, rounding_mode="floor")
    q.sum().backward()
    assert q.tolist() == [-4.0, 3.0] and x.grad.tolist() == [0.0, 0.0]  # as PyTorch
    with pytest.raises(ValueError, match=r"div: rounding_mode must be None, 'trunc' or 'floor'"):
        dg.div(n, 2, rounding_mode="round")


def test_smaller_keywords():
    assert dg.repeat_interleave(dg.tensor([1, 2]), 2, output_size=4).tolist() == [1, 1, 2, 2]
    with pytest.raises(RuntimeError, match=r"repeat_interleave: output_size 3 differs"):
        dg.repeat_interleave(dg.tensor([1, 2]), 2, output_size=3)
    got = dg.searchsorted(dg.tensor([3.0, 1.0, 2.0]), dg.tensor([1.5, 2.5]), sorter=[1, 2, 0])
    assert got.tolist() == [1, 2]
    assert dg.diag_embed(dg.tensor([[1.0, 2.0]]), 0, 0, 2).shape == (2, 1, 2)
    with pytest.raises(RuntimeError, match=r"diag_embed: dim1 and dim2 must differ"):
        dg.diag_embed(dg.tensor([1.0]), 0, 1, -1)
    assert dg.gather(dg.tensor([[1.0, 2.0]]), 1, [[1]], sparse_grad=True).tolist() == [[2.0]]
    r = dg.randint(0, 5, (3,), dtype=dg.float64, requires_grad=True)
    assert r.requires_grad and r.dtype == dg.float64
