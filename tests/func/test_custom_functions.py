"""autograd.Function, custom_vjp and custom_jvp: gradcheck, gradgradcheck, forward mode, errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.testing import check_jvp, gradcheck, gradgradcheck

RNG = np.random.default_rng(1)


def _x(*shape):
    return dg.tensor(RNG.uniform(0.3, 1.5, size=shape), requires_grad=True)


class Cube(dg.autograd.Function):
    """y = x^3 * w, a backward written in deepgrad ops (so it can be differentiated)."""

    @staticmethod
    def forward(ctx, x, w, scale):
        ctx.save_for_backward(x, w)
        ctx.scale = scale
        return x**3 * w * scale

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = g * 3 * x**2 * w * ctx.scale if ctx.needs_input_grad[0] else None
        gw = g * x**3 * ctx.scale if ctx.needs_input_grad[1] else None
        return gx, gw, None

    @staticmethod
    def jvp(ctx, tx, tw, tscale):
        x, w = ctx.saved_tensors
        return (3 * x**2 * w * tx + x**3 * tw) * ctx.scale


class ExpSavingOutput(dg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = dg.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class SplitHalves(dg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2.0, x**2

    @staticmethod
    def backward(ctx, ga, gb):
        (x,) = ctx.saved_tensors
        return ga * 2.0 + gb * 2 * x


def test_function_passes_gradcheck_and_gradgradcheck():
    x, w = _x(2, 3), _x(2, 3)
    f = lambda x, w: Cube.apply(x, w, 0.5)
    assert gradcheck(f, [x, w])
    assert gradgradcheck(f, [x, w])
    check_jvp(f, [x, w])


def test_function_saving_its_output_gets_second_derivatives_right():
    x = _x(4)
    assert gradcheck(ExpSavingOutput.apply, [x], check_forward=False)  # no jvp defined
    assert gradgradcheck(ExpSavingOutput.apply, [x], check_forward=False)


def test_function_with_two_outputs():
    x = _x(3)
    assert gradcheck(SplitHalves.apply, [x], check_forward=False)
    _, b = SplitHalves.apply(x)
    np.testing.assert_allclose(b.data, x.data**2)


def test_needs_input_grad_and_non_differentiable_outputs():
    seen = {}

    class Probe(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            seen["needs"] = ctx.needs_input_grad
            out = x + y
            ctx.mark_non_differentiable(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return g, g

    out = Probe.apply(_x(2), dg.tensor([1.0, 2.0], dtype=np.float64))
    assert seen["needs"] == (True, False)
    assert not out.requires_grad


def test_function_errors_are_clear():
    class Wrong(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g  # one gradient, two arguments

    x = _x(3)
    with pytest.raises(
        RuntimeError, match=r"Wrong.apply: backward returned 1 gradients, expected 2"
    ):
        Wrong.apply(x, 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="forward mode .* not supported"):
        dg.jvp(lambda v: ExpSavingOutput.apply(v), (x,), (dg.ones_like(x),))
    with pytest.raises(dg.func.VmapError, match="inside vmap"):
        dg.vmap(ExpSavingOutput.apply)(x.detach())


@dg.custom_vjp
def clip_gradient(x, lo, hi):
    return x * 1.0


def _clip_fwd(x, lo, hi):
    return x * 1.0, (lo, hi)


def _clip_bwd(res, g):
    lo, hi = res
    return dg.clip(g, lo, hi), None, None


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


@dg.custom_vjp
def softplus_vjp(x):
    return dg.log1p(dg.exp(x))


def _sp_fwd(x):
    return softplus_vjp.fun(x), (x,)


def _sp_bwd(res, g):
    (x,) = res
    return (g * dg.sigmoid(x),)


softplus_vjp.defvjp(_sp_fwd, _sp_bwd)


def test_custom_vjp_uses_the_given_backward():
    x = dg.tensor([1.0, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    (clip_gradient(x, -0.5, 0.5) * dg.tensor([3.0, -3.0, 0.1], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.5, -0.5, 0.1])


def test_custom_vjp_gradcheck_and_gradgradcheck():
    x = _x(5)
    assert gradcheck(softplus_vjp, [x], check_forward=False)  # custom_vjp: reverse only
    assert gradgradcheck(softplus_vjp, [x], check_forward=False)
    with pytest.raises(RuntimeError, match="forward mode"):
        dg.jvp(softplus_vjp, (x,), (dg.ones_like(x),))


@dg.custom_jvp
def log1pexp(x):
    return dg.log1p(dg.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * dg.sigmoid(x)


def test_custom_jvp_forward_and_transposed_reverse_mode():
    x = _x(4)
    _, t = dg.jvp(log1pexp, (x,), (dg.ones_like(x),))
    np.testing.assert_allclose(t.data, 1 / (1 + np.exp(-x.data)))
    assert gradcheck(log1pexp, [x])
    assert gradgradcheck(log1pexp, [x])
    check_jvp(log1pexp, [x])


def test_custom_decorators_need_their_rules():
    @dg.custom_vjp
    def f(x):
        return x

    @dg.custom_jvp
    def h(x):
        return x

    with pytest.raises(RuntimeError, match="defvjp"):
        f(_x(2))
    with pytest.raises(RuntimeError, match="defjvp"):
        h(_x(2))
