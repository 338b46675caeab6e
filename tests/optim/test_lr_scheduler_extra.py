"""LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR, CosineAnnealingWarmRestarts, CyclicLR,
ChainedScheduler: trajectories against torch (skipped without it), state-dict round trips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from optim_helpers import param

from deepgrad import optim
from deepgrad.optim import lr_scheduler as dls


def _decay(t):
    return 0.9**t


def _halve(t):
    return 0.5


# (id, optimizer name and kwargs, builder of the scheduler from (lib_scheduler_module, opt))
SCHEDULES = [
    ("LambdaLR", ("SGD", {"lr": 0.1}), lambda S, o: S.LambdaLR(o, _decay)),
    ("MultiplicativeLR", ("SGD", {"lr": 0.1}), lambda S, o: S.MultiplicativeLR(o, lambda t: 0.95)),
    ("ConstantLR", ("SGD", {"lr": 0.1}), lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=4)),
    (
        "PolynomialLR",
        ("SGD", {"lr": 0.1}),
        lambda S, o: S.PolynomialLR(o, total_iters=7, power=2.0),
    ),
    (
        "WarmRestarts",
        ("SGD", {"lr": 0.1}),
        lambda S, o: S.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
    ),
    ("WarmRestarts-1", ("SGD", {"lr": 0.1}), lambda S, o: S.CosineAnnealingWarmRestarts(o, 4)),
    (
        "CyclicLR-tri",
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, step_size_down=2),
    ),
    (
        "CyclicLR-tri2",
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, 2, mode="triangular2"),
    ),
    (
        "CyclicLR-exp-adam",
        ("Adam", {"lr": 0.1}),
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, 2, mode="exp_range", gamma=0.9),
    ),
    (
        "Chained",
        ("SGD", {"lr": 0.1}),
        lambda S, o: S.ChainedScheduler([S.ConstantLR(o, 0.5, 3), S.ExponentialLR(o, 0.9)]),
    ),
]


def _momentum(group):
    return group["betas"][0] if "betas" in group else group.get("momentum", 0.0)


@pytest.mark.parametrize(
    ("opt", "build"), [s[1:] for s in SCHEDULES], ids=[s[0] for s in SCHEDULES]
)
def test_trajectory_matches_torch(opt, build):
    torch = pytest.importorskip("torch", reason="torch.optim.lr_scheduler is the reference")
    name, kwargs = opt
    ours_opt = getattr(optim, name)([param([1.0])], **kwargs)
    their_opt = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)], **kwargs)
    ours, theirs = build(dls, ours_opt), build(torch.optim.lr_scheduler, their_opt)
    for _ in range(15):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        g, tg = ours_opt.param_groups[0], their_opt.param_groups[0]
        assert _momentum(g) == pytest.approx(_momentum(tg), rel=1e-12)
        ours_opt.step()
        their_opt.step()
        ours.step()
        theirs.step()


@pytest.mark.parametrize(
    ("opt", "build"), [s[1:] for s in SCHEDULES], ids=[s[0] for s in SCHEDULES]
)
def test_state_dict_round_trip_resumes_the_schedule(opt, build):
    name, kwargs = opt
    first = getattr(optim, name)([param([1.0])], **kwargs)
    sched = build(dls, first)
    for _ in range(5):
        sched.step()
    state = json.loads(json.dumps(sched.state_dict()))  # plain data: JSON-serialisable
    second = getattr(optim, name)([param([1.0])], **kwargs)
    resumed = build(dls, second)
    resumed.load_state_dict(state)
    second.load_state_dict(first.state_dict())
    for _ in range(6):
        sched.step()
        resumed.step()
        assert resumed.get_last_lr() == pytest.approx(sched.get_last_lr(), rel=1e-12)


def test_warm_restarts_closed_form_and_fractional_epochs():
    opt = optim.SGD([param([1.0])], lr=1.0)
    s = dls.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    lrs = []
    for _ in range(7):
        lrs.append(s.get_last_lr()[0])
        s.step()
    # periods 2, 4, ...: restarts at t = 2 and t = 6
    expected = [
        1.0,
        0.5,
        1.0,
        (1 + math.cos(math.pi / 4)) / 2,
        0.5,
        (1 + math.cos(3 * math.pi / 4)) / 2,
        1.0,
    ]
    np.testing.assert_allclose(lrs, expected, atol=1e-12)
    s.step(2.5)
    np.testing.assert_allclose(s.get_last_lr()[0], (1 + math.cos(math.pi * 0.5 / 4)) / 2)


def test_errors_name_the_scheduler():
    opt = optim.SGD([param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"ConstantLR: factor must be in \(0, 1\]"):
        dls.ConstantLR(opt, factor=2.0)
    with pytest.raises(TypeError, match="LambdaLR: lr_lambda must be callable"):
        dls.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="CyclicLR: the optimizer must have momentum or betas"):
        dls.CyclicLR(optim.Adagrad([param([1.0])]), 0.01, 0.1)
    with pytest.raises(ValueError, match="CyclicLR: mode must be"):
        dls.CyclicLR(opt, 0.01, 0.1, mode="sine")
