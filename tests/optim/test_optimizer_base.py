"""The Optimizer base: state dicts (identical continued trajectories) and bad-input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optim_helpers import param

import deepgrad as dg
from deepgrad import optim

RNG = np.random.default_rng(0)
X = dg.Tensor(RNG.normal(size=(12, 3)))
Y = dg.Tensor(RNG.normal(size=12) * 0.5)


def _loss(w):
    r = dg.tanh(X @ w) - Y
    return (r * r).mean() + 0.1 * (w**4).sum()


FACTORIES = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.1),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "Adam": lambda ps: optim.Adam(ps, lr=0.05, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps, lr=0.05),
    "SGDHD": lambda ps: optim.SGDHD(ps, lr=0.05, momentum=0.5, hypergrad_lr=1e-3),
    "AdamHD": lambda ps: optim.AdamHD(ps, lr=0.05, hypergrad_lr=1e-4),
    "LBFGS": lambda ps: optim.LBFGS(ps, max_iter=3, history_size=3, line_search_fn="strong_wolfe"),
    "BFGS": lambda ps: optim.BFGS(ps, max_iter=2),
    "Newton": lambda ps: optim.Newton(ps, line_search_fn="armijo"),
    "GaussNewton": lambda ps: optim.GaussNewton(ps, lambda: dg.tanh(X @ ps[0]) - Y, lr=0.5),
    "LevenbergMarquardt": lambda ps: optim.LevenbergMarquardt(ps, lambda: dg.tanh(X @ ps[0]) - Y),
}


def _step(opt, w):
    name = type(opt).__name__
    if name in ("GaussNewton", "LevenbergMarquardt"):
        return opt.step()
    if name == "Newton":
        return opt.step(lambda: _loss(w))

    def closure():
        opt.zero_grad()
        loss = _loss(w)
        loss.backward()
        return loss

    if name in ("LBFGS", "BFGS"):
        return opt.step(closure)
    closure()
    return opt.step()


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_dict_round_trip_continues_identically(name):
    w = param([0.3, -0.2, 0.5])
    opt = FACTORIES[name]([w])
    for _ in range(3):
        _step(opt, w)
    saved_w, saved = w.numpy().copy(), opt.state_dict()
    saved["state"] = {str(k): v for k, v in saved["state"].items()}  # as after a JSON trip
    trajectory = []
    for _ in range(3):
        _step(opt, w)
        trajectory.append(w.numpy().copy())
    w2 = param(saved_w)
    opt2 = FACTORIES[name]([w2])
    opt2.load_state_dict(saved)
    for want in trajectory:
        _step(opt2, w2)
        assert np.array_equal(w2.numpy(), want)


def test_state_dict_is_a_snapshot_with_indices():
    a, b = param([1.0]), param([2.0, 3.0])
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    for p in (a, b):
        p.grad = dg.Tensor(np.ones_like(p.data))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["state"][1]["step"] == 1
    opt.step()
    assert sd["state"][1]["step"] == 1 and sd["state"][1]["exp_avg"][0] == pytest.approx(0.1)


def test_load_state_dict_validates_groups():
    a, b = param([1.0]), param([2.0])
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="2 parameters in the state dict but 1"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="1 parameter groups but the optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


BAD = [
    (lambda p: optim.SGD(p, lr=-0.1), ValueError, "lr=-0.1"),
    (lambda p: optim.SGD(p, lr=math.nan), ValueError, "lr=nan"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), ValueError, "momentum=-0.5"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), ValueError, "weight_decay=-1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, "nesterov"),
    (
        lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
        ValueError,
        "dampening=0.1",
    ),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), ValueError, "betas\\[0\\]"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), ValueError, "betas\\[1\\]"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, "eps=-1e-08"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda p: optim.RMSprop(p, alpha=-0.1), ValueError, "alpha"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), ValueError, "lr_decay"),
    (lambda p: optim.LBFGS(p, line_search_fn="armijo"), ValueError, "line_search_fn"),
    (lambda p: optim.Newton(p, solver="qr"), ValueError, "solver"),
    (lambda p: optim.SGD([{"params": p, "lr": -1.0}], lr=0.1), ValueError, "lr=-1.0"),
]


@pytest.mark.parametrize("make,exc,match", BAD)
def test_bad_hyperparameters_are_named(make, exc, match):
    with pytest.raises(exc, match=match):
        make([param([1.0])])


def test_bad_parameter_lists():
    p = param([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(TypeError, match="must be a deepgrad Tensor"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [p]})
