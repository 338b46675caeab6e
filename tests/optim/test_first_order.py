"""First-order optimizers against hand-written NumPy references of their update equations."""

from __future__ import annotations

import numpy as np
import pytest
from optim_helpers import param, set_grad

import deepgrad as dg
from deepgrad import optim

SHAPE = (3, 2)


def _grads(n=5, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=SHAPE) for _ in range(n)]


def _run(opt_cls, kwargs, grads, theta0):
    p = param(theta0)
    opt = opt_cls([p], **kwargs)
    out = []
    for g in grads:
        set_grad(p, g)
        opt.step()
        out.append(p.numpy().copy())
    return out


def ref_sgd(
    theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False
):
    theta, buf, out = theta.copy(), None, []
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * theta
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta - lr * g
        out.append(theta)
    return out


def ref_adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0, init=0.0, eps=1e-10):
    theta, s, out = theta.copy(), np.full_like(theta, init), []
    for t, g in enumerate(grads, 1):
        g = g + weight_decay * theta
        s = s + g * g
        theta = theta - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
        out.append(theta)
    return out


def ref_rmsprop(
    theta, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False
):
    theta, v, gbar, b, out = theta.copy(), 0 * theta, 0 * theta, 0 * theta, []
    for g in grads:
        g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        denom = v
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g
            denom = v - gbar * gbar
        step = g / (np.sqrt(denom) + eps)
        if momentum:
            b = momentum * b + step
            step = b
        theta = theta - lr * step
        out.append(theta)
    return out


def ref_adam(
    theta, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, decoupled=False
):
    b1, b2 = betas
    theta, m, v, vmax, out = theta.copy(), 0 * theta, 0 * theta, 0 * theta, []
    for t, g in enumerate(grads, 1):
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vmax = np.maximum(vmax, v)
        vv = vmax if amsgrad else v
        m_hat, v_hat = m / (1 - b1**t), vv / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(theta)
    return out


CASES = [
    (optim.SGD, {"lr": 0.1}, ref_sgd),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9}, ref_sgd),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}, ref_sgd),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}, ref_sgd),
    (optim.Adagrad, {"lr": 0.1}, ref_adagrad),
    (optim.Adagrad, {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1}, ref_adagrad),
    (optim.RMSprop, {"lr": 0.01}, ref_rmsprop),
    (
        optim.RMSprop,
        {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1},
        ref_rmsprop,
    ),
    (optim.Adam, {"lr": 0.01}, ref_adam),
    (optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}, ref_adam),
    (optim.AdamW, {"lr": 0.01}, ref_adam),
]


def _ref_kwargs(cls, kwargs):
    kw = dict(kwargs)
    if cls is optim.Adagrad and "initial_accumulator_value" in kw:
        kw["init"] = kw.pop("initial_accumulator_value")
    if cls is optim.AdamW:
        kw.setdefault("weight_decay", 1e-2)
        kw["decoupled"] = True
    return kw


@pytest.mark.parametrize("cls,kwargs,ref", CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_matches_numpy_reference(cls, kwargs, ref):
    theta0 = np.linspace(-1, 1, 6).reshape(SHAPE)
    grads = _grads()
    got = _run(cls, kwargs, grads, theta0)
    want = ref(theta0, grads, **_ref_kwargs(cls, kwargs))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_adam_first_step_is_lr_times_sign_of_grad():
    g = np.array([3.0, -0.5, 1e-3, -20.0])
    p = param(np.zeros(4))
    opt = optim.Adam([p], lr=0.01)
    set_grad(p, g)
    opt.step()
    np.testing.assert_allclose(p.data, -0.01 * np.sign(g), rtol=1e-4)


def test_updates_run_in_place_and_keep_dtype():
    p = param(np.ones(4), dtype=np.float32)
    buf = p.numpy()
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad):
        opt = cls([p], lr=0.1, **({"momentum": 0.9} if cls is optim.SGD else {}))
        for _ in range(2):
            set_grad(p, np.ones(4))
            opt.step()
        assert p.numpy() is buf and p.data.dtype == np.float32


def test_params_without_grad_are_skipped_and_zero_grad():
    a, b = param([1.0]), param([2.0])
    opt = optim.SGD([a, b], lr=0.5, momentum=0.9)
    set_grad(a, [1.0])
    opt.step()
    assert a.data[0] == 0.5 and b.data[0] == 2.0 and b not in opt.state
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and a.grad.data[0] == 0
    opt.zero_grad()
    assert a.grad is None


def test_param_groups_have_their_own_lr():
    a, b = param([1.0]), param([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.5)
    assert opt.param_groups[1]["momentum"] == 0.5
    set_grad(a, [1.0])
    set_grad(b, [1.0])
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.5])
    c = param([0.0])
    opt.add_param_group({"params": c, "lr": 0.2})
    assert opt.param_groups[2]["lr"] == 0.2 and opt.param_groups[2]["momentum"] == 0.5


def test_closure_is_called_and_its_loss_returned():
    w = param([2.0])
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) == 4.0 and w.data[0] == 1.0


def _quadratic_iterations(opt_factory, tol=1e-6, max_iter=5000):
    """Iterations to reach f < tol on f = 1/2 (x1^2 + 100 x2^2) (condition number 100)."""
    h = np.array([1.0, 100.0])
    x = param([1.0, 1.0])
    opt = opt_factory([x])
    for k in range(1, max_iter + 1):
        set_grad(x, h * x.data)
        opt.step()
        if 0.5 * np.sum(h * x.numpy() ** 2) < tol:
            return k
    return max_iter + 1


def test_momentum_beats_gradient_descent_on_ill_conditioned_quadratic():
    lr = 1.0 / 100  # 1 / L
    gd = _quadratic_iterations(lambda ps: optim.SGD(ps, lr=lr))
    # heavy ball with the optimal momentum ((sqrt(k) - 1) / (sqrt(k) + 1))^2 (Polyak 1964)
    mom = ((10 - 1) / (10 + 1)) ** 2
    hb = _quadratic_iterations(lambda ps: optim.SGD(ps, lr=4 / (1 + 10) ** 2, momentum=mom))
    nag = _quadratic_iterations(lambda ps: optim.SGD(ps, lr=lr, momentum=0.8, nesterov=True))
    assert hb < gd / 3 and nag < gd / 3, (gd, hb, nag)


def test_optimizer_trains_a_small_regression():
    rng = np.random.default_rng(0)
    X = dg.Tensor(rng.normal(size=(64, 3)))
    w_true = np.array([1.0, -2.0, 0.5])
    y = dg.Tensor(X.data @ w_true)
    for cls, kw in ((optim.Adam, {"lr": 0.05}), (optim.SGD, {"lr": 0.1, "momentum": 0.9})):
        w = param(np.zeros(3))
        opt = cls([w], **kw)
        for _ in range(300):
            opt.zero_grad()
            loss = ((X @ w - y) ** 2).mean()
            loss.backward()
            opt.step()
        np.testing.assert_allclose(w.data, w_true, atol=1e-3)


@pytest.mark.parametrize("order", ["C", "F"])
def test_sgd_momentum_on_a_large_parameter_is_bitwise_the_reference(order):
    # The chunked in-cache path (more than one chunk of 2**15 elements) must give exactly
    # the update equations' result: b = mu b + g; theta -= lr b.  Column-major
    # parameters (nn.Linear's weights) with column-major gradients take it too.
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((300, 250)).astype(np.float32)
    grads = [np.asarray(rng.standard_normal(w0.shape), np.float32, order=order) for _ in range(4)]
    w = param(np.array(w0, order=order), dtype=np.float32)
    opt = dg.optim.SGD([w], lr=0.05, momentum=0.9)
    ref, buf = w0.copy(), None
    for g in grads:
        set_grad(w, g)
        opt.step()
        buf = g.copy() if buf is None else buf * np.float32(0.9) + g
        ref = ref - np.float32(0.05) * buf
    assert np.array_equal(w.numpy(), ref)
    assert w.numpy().flags[f"{order}_CONTIGUOUS"]
    assert opt.state[w]["momentum_buffer"].flags[f"{order}_CONTIGUOUS"]


def test_loaded_optimizer_state_takes_the_parameter_layout():
    # A checkpoint stores C-contiguous arrays; a column-major parameter's loaded momentum
    # buffer must be column-major again, or every update mixes layouts (strided passes).
    lin = dg.nn.Linear(40, 30)
    opt = dg.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    lin(dg.randn(8, 40)).sum().backward()
    opt.step()
    saved = opt.state_dict()
    buf = saved["state"][0]["momentum_buffer"]
    saved["state"][0]["momentum_buffer"] = np.ascontiguousarray(buf, dtype=np.float64)
    fresh = dg.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    fresh.load_state_dict(saved)
    loaded = fresh.state[lin.weight]["momentum_buffer"]
    assert loaded.flags.f_contiguous and loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, buf)
