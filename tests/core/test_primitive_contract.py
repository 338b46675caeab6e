"""Contract v2 of `@primitive`: derived rules (linear, transpose, elementwise partials), rules
without `ans`, variadic rules, and the v1 form still accepted unchanged."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.core.primitive import REGISTRY, Domain, apply, each, primitive
from deepgrad.ops._base import elementwise
from deepgrad.testing import check_jvp, gradcheck


@contextlib.contextmanager
def registered(*names):
    """Remove the test's primitives from the registry afterwards."""
    try:
        yield
    finally:
        for n in names:
            REGISTRY.pop(n, None)


def _x(*shape):
    return dg.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


def test_linear_op_gets_its_jvp_from_the_forward_and_its_vjp_from_the_transpose():
    with registered("_t_scale3"):

        @primitive("_t_scale3", linear=True, transpose=[lambda g, x: g * 3.0], domain=None)
        def scale3(x):
            """$3x$."""
            return 3.0 * x

        assert scale3.ans is False
        x = _x(4)
        f = lambda x: apply(scale3, x)
        assert gradcheck(f, [x])
        check_jvp(f, [x])
        _, t = dg.jvp(f, (x,), (dg.ones(4, dtype=np.float64),))
        np.testing.assert_allclose(t.numpy(), 3.0)


def test_binary_linear_op_derives_one_jvp_per_input():
    with registered("_t_lin2"):

        @primitive(
            "_t_lin2",
            linear=True,
            transpose=[lambda g, a, b: g, lambda g, a, b: g * 2.0],
            domain=None,
        )
        def lin2(a, b):
            """$a + 2b$."""
            return a + 2.0 * b

        a, b = _x(3), _x(3)
        f = lambda a, b: apply(lin2, a, b)
        assert gradcheck(f, [a, b])
        check_jvp(f, [a, b])


def test_elementwise_helper_builds_both_rules_from_partials():
    with registered("_t_cube"):

        @elementwise("_t_cube", [lambda ans, x: x * x * 3.0], domain=None)
        def cube(x):
            """$x^3$; d/dx = 3 x^2."""
            return x**3

        x = _x(2, 3)
        f = lambda x: apply(cube, x)
        assert gradcheck(f, [x])
        check_jvp(f, [x])


def test_rules_without_ans_and_the_v1_form_agree():
    with registered("_t_sq_v1", "_t_sq_v2"):

        @primitive(
            "_t_sq_v1",
            vjp=[lambda g, ans, x: g * x * 2.0],
            jvp=[lambda t, ans, x: t * x * 2.0],
            domain=None,
        )
        def sq1(x):
            """$x^2$."""
            return x * x

        @primitive(
            "_t_sq_v2",
            vjp=[lambda g, x: g * x * 2.0],
            jvp=[lambda t, x: t * x * 2.0],
            domain=None,
            ans=False,
        )
        def sq2(x):
            """$x^2$."""
            return x * x

        assert sq1.ans is True and sq2.ans is False
        x = _x(5)
        (g1,) = dg.autograd_grad(apply(sq1, x).sum(), [x])
        (g2,) = dg.autograd_grad(apply(sq2, x).sum(), [x])
        np.testing.assert_allclose(g1.numpy(), g2.numpy())
        check_jvp(lambda x: apply(sq2, x), [x])


def test_variadic_rules_serve_any_number_of_inputs():
    rules = each(lambda i: lambda g, *xs: g * float(i + 1))
    assert len(rules) == 1 and rules[5](2.0) == 12.0
    assert rules[5] is rules[5]  # made once
    xs = [_x(2) for _ in range(4)]
    assert gradcheck(lambda *xs: dg.cat(xs), xs)
    assert gradcheck(lambda *xs: dg.einsum("i,i,i,i->i", *xs), xs)
    assert "concatenate3" not in REGISTRY and "einsum1" not in REGISTRY


def test_missing_rules_are_refused_at_declaration():
    with pytest.raises(ValueError, match=r"primitive '_t_bad': give vjp=\[...\] or transpose"):
        primitive("_t_bad", jvp=[lambda t, x: t], domain=Domain([]))(lambda x: x)
    with pytest.raises(ValueError, match=r"primitive '_t_bad': give jvp=\[...\] or declare linear"):
        primitive("_t_bad", transpose=[lambda g, x: g], domain=None)(lambda x: x)
    assert "_t_bad" not in REGISTRY
