"""Trajectories of deepgrad's optimizers and schedules against torch.optim (skipped without torch).

torch is a test-time reference only, never a dependency of deepgrad.
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_helpers import param, rosenbrock, set_grad

from deepgrad import optim
from deepgrad.optim import lr_scheduler as dls

torch = pytest.importorskip("torch", reason="torch.optim is the reference for the parity tests")
tls = torch.optim.lr_scheduler

FIRST_ORDER = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (
        "Adagrad",
        {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1},
    ),
    ("RMSprop", {"lr": 0.01}),
    (
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "centered": True, "weight_decay": 0.01},
    ),
    ("Adam", {"lr": 0.01}),
    (
        "Adam",
        {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    ),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
]


@pytest.mark.parametrize("name,kwargs", FIRST_ORDER)
def test_first_order_trajectory_matches_torch(name, kwargs):
    rng = np.random.default_rng(3)
    theta0 = rng.normal(size=(4, 3))
    grads = [rng.normal(size=(4, 3)) for _ in range(20)]
    p = param(theta0)
    tp = torch.tensor(theta0, dtype=torch.float64, requires_grad=True)
    ours = getattr(optim, name)([p], **kwargs)
    theirs = getattr(torch.optim, name)([tp], **kwargs)
    for g in grads:
        set_grad(p, g)
        tp.grad = torch.tensor(g, dtype=torch.float64)
        ours.step()
        theirs.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_float32_sgd_momentum_matches_torch():
    rng = np.random.default_rng(4)
    theta0 = rng.normal(size=(50,)).astype(np.float32)
    p = param(theta0, dtype=np.float32)
    tp = torch.tensor(theta0, requires_grad=True)
    ours = optim.SGD([p], lr=0.05, momentum=0.9)
    theirs = torch.optim.SGD([tp], lr=0.05, momentum=0.9)
    for _ in range(10):
        g = rng.normal(size=(50,)).astype(np.float32)
        set_grad(p, g)
        tp.grad = torch.tensor(g)
        ours.step()
        theirs.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-5, atol=1e-6)


def _pair(base_lr=0.1, opt="SGD", **kw):
    p = param([1.0])
    tp = torch.zeros(1, requires_grad=True)
    return getattr(optim, opt)([p], lr=base_lr, **kw), getattr(torch.optim, opt)(
        [tp], lr=base_lr, **kw
    )


SCHEDULES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.01}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.8, "total_iters": 4}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES)
def test_schedule_matches_torch(name, kwargs):
    ours_opt, torch_opt = _pair()
    ours = getattr(dls, name)(ours_opt, **kwargs)
    theirs = getattr(tls, name)(torch_opt, **kwargs)
    for epoch in range(20):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        assert ours.last_epoch == theirs.last_epoch == epoch
        ours_opt.step()
        torch_opt.step()
        ours.step()
        theirs.step()


def test_sequential_lr_matches_torch():
    ours_opt, torch_opt = _pair()
    ours = dls.SequentialLR(
        ours_opt,
        [dls.LinearLR(ours_opt, start_factor=0.1, total_iters=4), dls.ExponentialLR(ours_opt, 0.9)],
        milestones=[5],
    )
    theirs = tls.SequentialLR(
        torch_opt,
        [
            tls.LinearLR(torch_opt, start_factor=0.1, total_iters=4),
            tls.ExponentialLR(torch_opt, 0.9),
        ],
        milestones=[5],
    )
    for _ in range(15):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        torch_opt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize(
    "opt,kwargs",
    [
        ("SGD", {"momentum": 0.9}),
        ("Adam", {}),
        ("SGD", {"momentum": 0.9, "three_phase": True, "anneal_strategy": "linear"}),
    ],
)
def test_one_cycle_matches_torch(opt, kwargs):
    extra = {"momentum": kwargs.pop("momentum")} if "momentum" in kwargs else {}
    ours_opt, torch_opt = _pair(opt=opt, **extra)
    ours = dls.OneCycleLR(ours_opt, max_lr=1.0, total_steps=25, **kwargs)
    theirs = tls.OneCycleLR(torch_opt, max_lr=1.0, total_steps=25, **kwargs)
    key = "betas" if opt == "Adam" else "momentum"
    for _ in range(24):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        np.testing.assert_allclose(
            ours_opt.param_groups[0][key], torch_opt.param_groups[0][key], rtol=1e-12
        )
        torch_opt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reduce_on_plateau_matches_torch(mode, threshold_mode):
    ours_opt, torch_opt = _pair()
    kw = {
        "mode": mode,
        "factor": 0.5,
        "patience": 2,
        "threshold": 0.01,
        "threshold_mode": threshold_mode,
        "cooldown": 1,
        "min_lr": 0.01,
    }
    ours = dls.ReduceLROnPlateau(ours_opt, **kw)
    theirs = tls.ReduceLROnPlateau(torch_opt, **kw)
    metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert ours_opt.param_groups[0]["lr"] == pytest.approx(torch_opt.param_groups[0]["lr"])
        assert ours.num_bad_epochs == theirs.num_bad_epochs


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_matches_torch_on_rosenbrock(line_search_fn):
    x = param([-1.2, 1.0])
    tx = torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    kw = {
        "lr": 1 if line_search_fn else 0.1,
        "max_iter": 5,
        "history_size": 4,
        "line_search_fn": line_search_fn,
    }
    ours, theirs = optim.LBFGS([x], **kw), torch.optim.LBFGS([tx], **kw)

    def closure():
        ours.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    def tclosure():
        theirs.zero_grad()
        loss = (1 - tx[0]) ** 2 + 100 * (tx[1] - tx[0] ** 2) ** 2
        loss.backward()
        return loss

    for _ in range(6):
        a, b = ours.step(closure), theirs.step(tclosure)
        assert float(a) == pytest.approx(float(b.detach()), rel=1e-9, abs=1e-14)
        np.testing.assert_allclose(x.data, tx.detach().numpy(), rtol=1e-9, atol=1e-12)
    ts = theirs.state[tx]
    assert ours.state[x]["func_evals"] == ts["func_evals"]
    assert ours.state[x]["n_iter"] == ts["n_iter"]


def test_inverse_time_lr_matches_torch_lambda_lr():
    ours_opt, torch_opt = _pair()
    ours = dls.InverseTimeLR(ours_opt, decay_rate=0.3)
    theirs = tls.LambdaLR(torch_opt, lambda epoch: 1.0 / (1.0 + 0.3 * epoch))
    for _ in range(12):
        np.testing.assert_allclose(ours.get_last_lr(), theirs.get_last_lr(), rtol=1e-12)
        torch_opt.step()
        ours.step()
        theirs.step()
