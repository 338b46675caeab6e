"""Gradients at special points follow PyTorch (the values were read off torch 2.x; the parity
test at the end re-checks them against the installed torch when there is one)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F


def _grad(fn, *values):
    xs = [dg.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.numpy() for x in xs]


def test_relu6_is_flat_at_both_bounds():
    (g,) = _grad(F.relu6, [-1.0, 0.0, 0.5, 6.0, 7.0])
    np.testing.assert_array_equal(g, [0, 0, 1, 0, 0])


def test_hardtanh_is_flat_at_its_bounds_but_clamp_is_not():
    (g,) = _grad(F.hardtanh, [-1.0, -0.5, 1.0, 3.0])
    np.testing.assert_array_equal(g, [0, 1, 0, 0])
    (g,) = _grad(lambda x: dg.clamp(x, -1.0, 1.0), [-1.0, -0.5, 1.0, 3.0])
    np.testing.assert_array_equal(g, [1, 1, 1, 0])


def test_max_along_a_dim_sends_the_gradient_to_the_returned_index():
    (g,) = _grad(lambda x: x.max(dim=1)[0], [[1.0, 3.0, 3.0]])
    np.testing.assert_array_equal(g, [[0, 1, 0]])
    (g,) = _grad(lambda x: x.min(dim=1)[0], [[1.0, 1.0, 3.0]])
    np.testing.assert_array_equal(g, [[1, 0, 0]])


def test_max_over_everything_splits_ties_evenly():
    (g,) = _grad(lambda x: x.max(), [[1.0, 3.0, 3.0]])
    np.testing.assert_array_equal(g, [[0, 0.5, 0.5]])


def test_maximum_splits_ties():
    ga, gb = _grad(dg.maximum, [1.0, 2.0], [1.0, 1.0])
    np.testing.assert_array_equal(ga, [0.5, 1.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_at_zero_base():
    ga, gb = _grad(lambda a, b: a**b, [0.0, 0.0, 2.0], [0.0, 2.0, 0.0])
    np.testing.assert_array_equal(ga, [0.0, 0.0, 0.0])  # 0**0: d/da = 0, not 0 * inf
    np.testing.assert_allclose(gb, [0.0, 0.0, np.log(2.0)])  # d/de 0**e = 0 for e >= 0
    ga, gb = _grad(lambda a, b: a**b, [0.0], [0.5])
    assert ga[0] == np.inf and gb[0] == 0.0
    ga, gb = _grad(lambda a, b: a**b, [0.0], [-1.0])
    assert ga[0] == -np.inf and gb[0] == -np.inf
    assert float(dg.tensor(0.0) ** dg.tensor(0.0)) == 1.0


def test_pow_scalar_exponent_at_zero():
    assert _grad(lambda x: x**0.0, [0.0])[0][0] == 0.0
    assert _grad(lambda x: x**1.5, [0.0])[0][0] == 0.0


def test_std_and_var_of_constant_input_have_zero_gradient():
    (g,) = _grad(lambda x: x.std(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    (g,) = _grad(lambda x: x.std(dim=1), [[2.0, 2.0], [1.0, 3.0]])
    np.testing.assert_allclose(g, [[0.0, 0.0], [-(0.5**0.5), 0.5**0.5]])
    (g,) = _grad(lambda x: x.var(), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])


def test_norm_and_abs_at_zero():
    np.testing.assert_array_equal(_grad(lambda x: x.norm(), [0.0, 0.0])[0], [0.0, 0.0])
    np.testing.assert_array_equal(_grad(dg.abs, [0.0, -1.0])[0], [0.0, -1.0])
    np.testing.assert_array_equal(_grad(dg.relu, [0.0, 1.0])[0], [0.0, 1.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_where_needs_safe_where_for_a_non_finite_branch():
    (g,) = _grad(lambda x: dg.where(x.data > 0, dg.log(x), 0.0), [0.0, 1.0])
    assert np.isnan(g[0]) and g[1] == 1.0  # as PyTorch: 0 * inf
    (g,) = _grad(lambda x: dg.safe_where(x.data > 0, dg.log, x, 0.0), [0.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 1.0])


def test_special_points_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch parity check (optional dependency)")
    cases = [
        (F.relu6, torch.nn.functional.relu6, [-1.0, 0.0, 3.0, 6.0]),
        (F.hardtanh, torch.nn.functional.hardtanh, [-1.0, 0.0, 1.0, 2.0]),
        (lambda x: x.std(), lambda x: x.std(), [2.0, 2.0, 2.0]),
        (lambda x: x.norm(), lambda x: x.norm(), [0.0, 0.0]),
        (lambda x: x.max(dim=0)[0], lambda x: x.max(dim=0).values, [3.0, 3.0, 1.0]),
    ]
    for ours, theirs, v in cases:
        t = torch.tensor(v, dtype=torch.float64, requires_grad=True)
        theirs(t).sum().backward()
        np.testing.assert_allclose(_grad(ours, v)[0], t.grad.numpy())
