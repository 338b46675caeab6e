"""The inline fast paths (binary ops, the reverse sweep) give what the general path gives.

`fast_binary` records same-shape tensor pairs and float tensor / Python number pairs
inline; everything else, and every op while `STATE.fwd` is raised (forward mode, vmap,
tracers, anomaly mode), takes `apply`'s general path.  These tests compare the two.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.core.state import STATE


def _leaf(values, dtype=np.float32):
    return dg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("op", [lambda x: x * 2.0, lambda x: 1.0 - x, lambda x: 3 / x])
def test_number_operand_keeps_the_tensor_dtype_and_records_one_node(op):
    x = _leaf([1.0, 2.0])
    y = op(x)
    assert y.dtype == np.float32
    assert y.grad_fn is not None and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (2,)


def test_number_operand_gradients_match_the_closed_form():
    x = _leaf([0.5, 2.0], np.float64)
    (1.0 - x * x / 4.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-0.25, -1.0])
    x.grad = None
    dg.reciprocal(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-4.0, -0.25])


def test_division_of_integer_tensors_gives_the_default_float():
    a, b = dg.tensor([3, 4]), dg.tensor([2, 8])
    out = a / b
    assert out.dtype == dg.get_default_dtype()
    np.testing.assert_allclose(out.numpy(), [1.5, 0.5])
    assert (dg.tensor([1, 2]) / 2).dtype == dg.get_default_dtype()


def test_number_operand_under_no_grad_records_nothing():
    x = _leaf([1.0, 2.0])
    with dg.no_grad():
        y = 2.0 - x
    assert not y.requires_grad and y.grad_fn is None


def test_fast_and_general_paths_agree_in_anomaly_mode():
    """Anomaly mode raises STATE.fwd, so the same expression runs through `apply`."""
    x = _leaf([0.5, 1.5], np.float64)
    (x * x + 1.0 - x / 2.0).sum().backward()
    fast = x.grad.numpy().copy()
    x.grad = None
    with dg.detect_anomaly():
        assert STATE.fwd > 0
        (x * x + 1.0 - x / 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), fast)
    assert STATE.fwd == 0


def test_vmap_installs_its_dispatch_only_while_it_runs():
    assert STATE.batch is None
    seen = []

    def f(x):
        seen.append(STATE.batch is not None)
        return dg.vmap(lambda y: y * 2.0)(x) + 1.0

    out = dg.vmap(f)(dg.ones(3, 2, 4))
    assert out.shape == (3, 2, 4) and seen == [True]
    assert STATE.batch is None


def test_sweep_orders_a_diamond_and_a_shared_leaf():
    """y = (x*a) + (x*b) + x: x's cotangent sums three paths (1 + a + b)."""
    x = _leaf([1.0, 2.0], np.float64)
    a, b = dg.tensor([2.0, 3.0], dtype=dg.float64), dg.tensor([5.0, 7.0], dtype=dg.float64)
    u = x * a
    v = x * b
    ((u + v) + x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [8.0, 11.0])


def test_grad_stops_at_an_intermediate_tensor():
    x = _leaf([1.0, 2.0], np.float64)
    h = x * 3.0
    out = (h * h).sum()
    (gh,) = dg.autograd.grad(out, [h])
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])
    assert x.grad is None


def test_import_leaves_numpy_docstrings_alone():
    """Unary primitives whose forward is a NumPy ufunc give their math via `doc=`."""
    assert np.exp.__doc__.startswith("exp(")
    assert dg.core.REGISTRY["exp"].doc.startswith("$e^x$")
