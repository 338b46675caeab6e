"""Reverse mode, forward mode, nesting and the functional transforms, as in the lecture notes."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.testing import GradcheckError, check_jvp, check_vjp, gradcheck, gradgradcheck


def f64(*shape, seed=0, requires_grad=True):
    return dg.Tensor(
        np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad
    )


def test_gradients_accumulate_until_zeroed():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0]
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_second_backward_through_freed_graph_says_retain_graph():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_gives_twice_the_gradient():
    x = dg.tensor([0.5, 1.5], dtype="float64", requires_grad=True)
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    expected = 2 * np.exp([0.5, 1.5]) * (1 + np.array([0.5, 1.5]))
    np.testing.assert_allclose(x.grad.numpy(), expected)


def test_backward_on_non_scalar_needs_grad():
    x = dg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="implicitly created only for one-element outputs"):
        (x * 2).backward()
    (x * 2).backward(dg.tensor([1.0, 2.0, 3.0]))
    assert x.grad.tolist() == [2.0, 4.0, 6.0]


def test_no_grad_and_enable_grad():
    x = dg.ones(2, requires_grad=True)
    with dg.no_grad():
        y = x * 2
        with dg.enable_grad():
            z = x * 2
    assert not y.requires_grad and z.requires_grad
    assert dg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = dg.ones(2, requires_grad=True)
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf


def test_create_graph_gives_higher_order_derivatives():
    x = dg.tensor(0.7, dtype="float64", requires_grad=True)
    y = dg.sin(x) * x
    (g,) = dg.autograd.grad(y, [x], create_graph=True)
    (h,) = dg.autograd.grad(g, [x], create_graph=True)
    (t,) = dg.autograd.grad(h, [x])
    xv = 0.7
    assert np.isclose(g.item(), np.cos(xv) * xv + np.sin(xv))
    assert np.isclose(h.item(), -np.sin(xv) * xv + 2 * np.cos(xv))
    assert np.isclose(t.item(), -np.cos(xv) * xv - 3 * np.sin(xv))


def test_grad_nests_like_jax_to_any_order():
    f = dg.sin
    d4 = dg.grad(dg.grad(dg.grad(dg.grad(f))))
    x = dg.tensor(0.3, dtype="float64")
    assert np.isclose(d4(x).item(), np.sin(0.3))
    assert np.isclose(dg.grad(dg.grad(lambda x: x**3))(dg.tensor(2.0)).item(), 12.0)


def test_no_perturbation_confusion_reverse_mode():
    # Siskind & Pearlmutter 2005: d/dx [x * (d/dy (x + y))] = 1 at any x, y.
    for xv, yv in [(2.0, 3.0), (-1.5, 0.25)]:

        def f(x, yv=yv):
            return x * dg.grad(lambda y: x + y)(dg.tensor(yv, dtype="float64"))

        assert dg.grad(f)(dg.tensor(xv, dtype="float64")).item() == 1.0


def test_no_perturbation_confusion_forward_mode():
    def inner(x, y0):
        return dg.jvp(lambda y: x + y, (y0,), (dg.tensor(1.0, dtype="float64"),))[1]

    def f(x):
        return x * inner(x, dg.tensor(3.0, dtype="float64"))

    _, t = dg.jvp(f, (dg.tensor(2.0, dtype="float64"),), (dg.tensor(1.0, dtype="float64"),))
    assert t.item() == 1.0
    # and mixing modes: reverse outside, forward inside
    assert dg.grad(f)(dg.tensor(2.0, dtype="float64")).item() == 1.0


def test_nested_forward_mode_second_derivative():
    x = dg.tensor(0.4, dtype="float64")
    one = dg.tensor(1.0, dtype="float64")
    d1 = lambda x: dg.jvp(dg.exp, (x,), (one,))[1]
    _, d2 = dg.jvp(d1, (x,), (one,))
    assert np.isclose(d2.item(), np.exp(0.4))


def _mlp_loss(params, x, y):
    w1, b1, w2, b2 = params
    h = dg.tanh(x @ w1 + b1)
    return ((h @ w2 + b2 - y) ** 2).mean()


def test_hvp_forward_over_reverse_equals_reverse_over_reverse():
    rng = np.random.default_rng(0)
    x = dg.Tensor(rng.standard_normal((8, 3)))
    y = dg.Tensor(rng.standard_normal((8, 2)))
    shapes = [(3, 5), (5,), (5, 2), (2,)]
    sizes = [int(np.prod(s)) for s in shapes]
    theta = dg.Tensor(rng.standard_normal(sum(sizes)))
    v = dg.Tensor(rng.standard_normal(sum(sizes)))

    def loss(flat):
        parts, off = [], 0
        for s, n in zip(shapes, sizes):
            parts.append(flat[off : off + n].reshape(s))
            off += n
        return _mlp_loss(parts, x, y)

    fwd_rev = dg.hvp(loss, (theta,), (v,))
    g = dg.grad(lambda t: (dg.grad(loss)(t) * v).sum())(theta)  # reverse over reverse
    np.testing.assert_allclose(fwd_rev.numpy(), g.numpy(), rtol=1e-10, atol=1e-12)
    H = dg.hessian(loss)(theta).numpy()
    np.testing.assert_allclose(H @ v.numpy(), g.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_jacobian_forward_and_reverse_agree():
    W = dg.Tensor(np.random.default_rng(1).standard_normal((4, 3)))

    def f(x):
        return dg.tanh(W @ x) * x.sum()

    x = dg.Tensor(np.random.default_rng(2).standard_normal(3))
    jr = dg.jacobian(f, mode="reverse")(x).numpy()
    jf = dg.jacobian(f, mode="forward")(x).numpy()
    assert jr.shape == (4, 3)
    np.testing.assert_allclose(jr, jf, rtol=1e-12, atol=1e-14)


def test_value_and_grad_and_vjp():
    x = f64(3)
    val, g = dg.value_and_grad(lambda x: (x**2).sum())(x)
    np.testing.assert_allclose(g.numpy(), 2 * x.numpy())
    assert np.isclose(val.item(), (x.numpy() ** 2).sum())
    out, fn = dg.vjp(lambda a: a * 3, x)
    (ct,) = fn(dg.ones_like(out))
    np.testing.assert_allclose(ct.numpy(), 3 * np.ones(3))
    gs = dg.grad(lambda a, b: (a * b).sum(), argnums=(0, 1))(x, x * 2)
    np.testing.assert_allclose(gs[0].numpy(), 2 * x.numpy())


def test_jvp_is_true_forward_mode():
    # forward mode never builds a reverse graph when nothing requires grad
    x = dg.Tensor(np.linspace(0, 1, 5))
    out, t = dg.jvp(lambda a: dg.exp(a) * a, (x,), (dg.ones_like(x),))
    assert not out.requires_grad and not t.requires_grad
    np.testing.assert_allclose(t.numpy(), np.exp(x.numpy()) * (1 + x.numpy()))


def test_stability_exact_values():
    x = dg.tensor([-1e4, -1000.0, 0.0, 1000.0, 1e4], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "stable with no warning"
        s = dg.sigmoid(x)
    assert s.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    s.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.25, 0.0, 0.0]

    z = dg.tensor([-np.inf, -np.inf], requires_grad=True)
    lse = dg.logsumexp(z)
    assert lse.item() == -np.inf
    lse.backward()
    assert z.grad.tolist() == [0.0, 0.0]

    logits = dg.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    ls = dg.log_softmax(logits, dim=1)
    assert np.all(np.isfinite(ls.numpy()))
    assert ls.numpy()[0, 0] == 0.0 and ls.numpy()[0, 1] == -2e4
    ls.sum().backward()
    assert np.all(np.isfinite(logits.grad.numpy()))

    v = dg.zeros(3, requires_grad=True)
    dg.norm(v).backward()
    assert v.grad.tolist() == [0.0, 0.0, 0.0]

    m = dg.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    m.max().backward()
    assert m.grad.tolist() == [0.0, 0.5, 0.5, 0.0]


def test_detect_anomaly_names_the_op_and_site():
    x = dg.tensor([1.0, -1.0], requires_grad=True)
    with (
        dg.detect_anomaly(),
        pytest.raises(
            FloatingPointError, match=r"'sqrt' produced NaN, created at .*test_autodiff.py"
        ),
        np.errstate(invalid="ignore"),
    ):
        dg.sqrt(x)
    y = dg.tensor([0.0, 1.0], requires_grad=True)
    with dg.detect_anomaly():
        out = dg.sqrt(y).sum()  # forward is finite; the backward at 0 is Inf
        with (
            pytest.raises(
                FloatingPointError,
                match=r"backward pass of 'sqrt' produced Inf.*created at .*test_autodiff.py",
            ),
            np.errstate(divide="ignore"),
        ):
            out.backward()


def test_memory_is_freed_after_backward():
    rng = np.random.default_rng(0)
    w = dg.Tensor(rng.standard_normal((16, 8)).astype(np.float32), requires_grad=True)
    x = dg.Tensor(rng.standard_normal((32, 16)).astype(np.float32))

    def live_arrays():
        gc.collect()
        return sum(1 for o in gc.get_objects() if type(o) is dg.Tensor)

    for _ in range(20):
        (dg.relu(x @ w) ** 2).mean().backward()
    before = live_arrays()
    for _ in range(1000):
        (dg.relu(x @ w) ** 2).mean().backward()
        w.grad = None
    assert live_arrays() <= before


def test_graph_has_no_reference_cycles():
    import weakref

    x = dg.ones(3, requires_grad=True)
    y = (x * 2).exp().sum()
    ref = weakref.ref(y)
    gc.disable()
    try:
        del y
        assert ref() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_gradcheck_reports_the_bad_element():
    from deepgrad.core.primitive import REGISTRY

    p = REGISTRY["sin"]
    orig = p.vjp
    p.vjp = (lambda g, ans, x: g * dg.sin(x),)  # wrong on purpose
    try:
        with pytest.raises(GradcheckError, match=r"input 0, element \d+"):
            gradcheck(dg.sin, [f64(3)])
    finally:
        p.vjp = orig


def test_user_level_checks_pass_on_a_composite():
    x, w = f64(3, 4), f64(4, 2, seed=1)

    def f(x, w):
        return dg.log_softmax(x @ w, dim=1)

    assert gradcheck(f, [x, w]) and gradgradcheck(f, [x, w])
    check_vjp(f, [x, w])
    check_jvp(f, [x, w])


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(dg.sin, [dg.ones(2, requires_grad=True)])
