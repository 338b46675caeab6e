"""Tensor basics: properties, creation, dtypes (weak scalars), operators, errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg


def test_properties_and_conversion():
    x = dg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.size() == (2, 3) and x.numel() == 6
    assert x.dtype == np.float32
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert isinstance(x.numpy(), np.ndarray)
    assert x[1, 2].item() == 6.0
    assert "tensor(" in repr(x) and "requires_grad" not in repr(x)
    assert "requires_grad=True" in repr(dg.ones(2, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(dg.ones(2, requires_grad=True) * 2)


def test_tensor_copies_its_input():
    a = np.zeros(3)
    t = dg.tensor(a)
    a[0] = 5
    assert t.data[0] == 0
    assert t.dtype == np.float64  # an ndarray keeps its dtype


def test_default_float_dtype_and_ints():
    assert dg.tensor(1.5).dtype == np.float32
    assert dg.tensor([1, 2]).dtype == np.int64
    assert dg.zeros(2, 3).dtype == np.float32
    assert dg.ones(2, dtype="float64").dtype == np.float64
    assert dg.arange(5).dtype == np.int64 and dg.arange(0.0, 1.0, 0.25).shape == (4,)
    assert dg.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert dg.eye(3).numpy().trace() == 3


def test_weak_scalar_rule_keeps_float32():
    x = dg.ones(3)
    for y in (x * 2.0, 2.0 * x, x + 1, x / 3.0, x**2.0, 1.0 - x):
        assert y.dtype == np.float32
    assert (dg.tensor([1, 2]) * 2).dtype == np.int64
    assert (dg.tensor([1, 2]) * 2.5).dtype == np.float32  # PyTorch: default float dtype


def test_mixed_float_dtypes_promote_like_numpy():
    a = dg.ones(2, requires_grad=True)
    b = dg.ones(2, dtype="float64", requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_casting():
    x = dg.tensor([1.5, 2.5], requires_grad=True)
    assert x.double().dtype == np.float64 and x.to("float64").float().dtype == np.float32
    assert x.astype(np.float64).dtype == np.float64
    y = x.double() * 3
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


def test_comparisons_return_bool_tensors():
    x = dg.tensor([1.0, 2.0, 3.0])
    assert (x > 1.5).dtype == np.bool_
    assert (x == 2.0).tolist() == [False, True, False]
    assert (x <= 2).tolist() == [True, True, False]


def test_reflected_operators_and_matmul():
    x = dg.tensor([1.0, 2.0])
    assert (3 - x).tolist() == [2.0, 1.0]
    assert (1 / x).tolist() == [1.0, 0.5]
    assert (2**x).tolist() == [2.0, 4.0]
    m = dg.tensor(np.arange(6.0).reshape(2, 3))
    v = dg.tensor(np.ones(3))
    assert (m @ v).tolist() == [3.0, 12.0]
    assert (np.ones((1, 2)) @ m).shape == (1, 3)


def test_dim_and_axis_keywords_agree():
    x = dg.tensor(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(
        x.sum(dim=1, keepdim=True).numpy(), x.sum(axis=1, keepdims=True).numpy()
    )
    np.testing.assert_array_equal(x.mean(dim=(0, 2)).numpy(), x.numpy().mean(axis=(0, 2)))
    _, idx = x.max(dim=2)
    np.testing.assert_array_equal(idx.numpy(), np.full((2, 3), 3))
    assert x.squeeze(dim=0).shape == (2, 3, 4) and x.unsqueeze(1).shape == (2, 1, 3, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.permute(2, 0, 1).shape == (4, 2, 3)
    assert x.flatten(1).shape == (2, 12)


def test_var_std_correction():
    a = np.random.default_rng(0).standard_normal((4, 5))
    x = dg.tensor(a)
    np.testing.assert_allclose(x.var().item(), a.var(ddof=1))
    np.testing.assert_allclose(x.var(correction=0).item(), a.var())
    np.testing.assert_allclose(x.std(dim=1).numpy(), a.std(axis=1, ddof=1))


def test_requires_grad_on_integer_tensor_is_refused():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        dg.tensor([1, 2], requires_grad=True)


def test_matmul_shape_error_names_both_shapes():
    a, b = dg.zeros(128, 784), dg.zeros(512, 256)
    with pytest.raises(
        ValueError,
        match=r"matmul: \(128, 784\) @ \(512, 256\): inner dimensions 784 and 512 differ",
    ):
        a @ b


def test_broadcast_error_names_clashing_axes():
    with pytest.raises(
        ValueError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast: axis -1 \(3 vs 4\)"
    ):
        dg.zeros(2, 3) + dg.zeros(4)


def test_random_functions_take_generator_and_manual_seed():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    for fn in (dg.rand, dg.randn):
        assert np.array_equal(fn(3, 2, generator=g1).numpy(), fn(3, 2, generator=g2).numpy())
    dg.manual_seed(3)
    a = dg.randn(4).numpy()
    dg.manual_seed(3)
    assert np.array_equal(a, dg.randn(4).numpy())
    r = dg.randint(0, 5, (100,), generator=g1)
    assert r.dtype == np.int64 and 0 <= r.numpy().min() and r.numpy().max() < 5
    n = dg.normal(2.0, 0.5, (2000,), generator=g1).numpy()
    assert abs(n.mean() - 2.0) < 0.05 and abs(n.std() - 0.5) < 0.05
    u = dg.uniform(-1, 1, (1000,), generator=g1).numpy()
    assert u.min() >= -1 and u.max() < 1


def test_like_constructors():
    x = dg.ones(2, 3, dtype="float64")
    assert dg.zeros_like(x).dtype == np.float64 and dg.ones_like(x).shape == (2, 3)
    assert dg.full_like(x, 7.0).numpy().max() == 7.0
    assert dg.full((2,), 3.0).tolist() == [3.0, 3.0]


def test_indexing_forms():
    x = dg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    assert x[1].tolist() == [4, 5, 6, 7]
    assert x[:, ::2].shape == (3, 2)
    assert x[x > 5].tolist() == [6, 7, 8, 9, 10, 11]
    assert x[[0, 0, 2]].shape == (3, 4)
    x[[0, 0, 2], 1].sum().backward()  # repeated indices accumulate
    assert x.grad.numpy()[0, 1] == 2 and x.grad.numpy()[2, 1] == 1 and x.grad.numpy().sum() == 3
