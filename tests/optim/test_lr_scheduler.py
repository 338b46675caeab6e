"""Learning-rate schedules produce their closed forms; state dicts round-trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from optim_helpers import param

from deepgrad import optim
from deepgrad.optim import lr_scheduler as ls


def _opt(lr=0.1, **kw):
    return optim.SGD([param([1.0])], lr=lr, **kw)


def _lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    return out


CLOSED_FORMS = [
    (ls.StepLR, {"step_size": 3, "gamma": 0.5}, lambda t: 0.1 * 0.5 ** (t // 3)),
    (
        ls.MultiStepLR,
        {"milestones": [2, 5], "gamma": 0.1},
        lambda t: 0.1 * 0.1 ** ((t >= 2) + (t >= 5)),
    ),
    (ls.ExponentialLR, {"gamma": 0.9}, lambda t: 0.1 * 0.9**t),
    (ls.InverseTimeLR, {"decay_rate": 0.5}, lambda t: 0.1 / (1 + 0.5 * t)),
    (
        ls.CosineAnnealingLR,
        {"T_max": 10, "eta_min": 0.001},
        lambda t: 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2,
    ),
    (ls.LinearLR, {}, lambda t: 0.1 * (1 / 3 + (2 / 3) * min(t, 5) / 5)),
]


@pytest.mark.parametrize(
    "cls,kwargs,formula", CLOSED_FORMS, ids=lambda c: getattr(c, "__name__", "")
)
def test_schedule_follows_its_closed_form(cls, kwargs, formula):
    got = _lrs(cls(_opt(), **kwargs), 15)
    np.testing.assert_allclose(got, [formula(t) for t in range(15)], rtol=1e-12)


def test_step_with_epoch_jumps_to_the_closed_form():
    s = ls.StepLR(_opt(), step_size=2, gamma=0.5)
    s.step(7)
    assert s.get_last_lr()[0] == pytest.approx(0.1 * 0.5**3)


def test_sequential_lr_warmup_then_cosine():
    opt = _opt()
    warm = ls.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = ls.CosineAnnealingLR(opt, T_max=5)
    got = _lrs(ls.SequentialLR(opt, [warm, cos], milestones=[3]), 9)
    want = [0.1 * (0.1 + 0.9 * t / 3) for t in range(3)]
    want += [0.1 * (1 + math.cos(math.pi * t / 5)) / 2 for t in range(6)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_one_cycle_shape_and_momentum():
    opt = _opt(momentum=0.9)
    s = ls.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    lrs, moms = [], []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(lrs) < 100:
            s.step()
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0, rel=1e-3)
    assert int(np.argmax(lrs)) == 29 and lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and min(moms) == pytest.approx(0.85, rel=1e-3)
    s2 = ls.OneCycleLR(_opt(momentum=0.9), max_lr=0.5, epochs=4, steps_per_epoch=5)
    assert s2.total_steps == 20
    with pytest.raises(ValueError, match="total_steps"):
        ls.OneCycleLR(_opt(), max_lr=1.0)
    with pytest.raises(ValueError, match="momentum"):
        ls.OneCycleLR(optim.Adagrad([param([1.0])]), max_lr=1.0, total_steps=10)


def test_reduce_on_plateau_reduces_after_patience_and_respects_min_lr():
    opt = _opt()
    s = ls.ReduceLROnPlateau(opt, factor=0.5, patience=1, min_lr=0.03)
    for metric in [1.0, 1.0, 1.0]:
        s.step(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)
    for metric in [1.0, 1.0, 1.0, 1.0]:
        s.step(metric)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.03)
    with pytest.raises(ValueError, match="factor"):
        ls.ReduceLROnPlateau(opt, factor=1.5)


def test_scheduler_state_dict_round_trip_is_json():
    opt = _opt()
    s = ls.SequentialLR(opt, [ls.LinearLR(opt, total_iters=2), ls.ExponentialLR(opt, 0.5)], [2])
    for _ in range(3):
        s.step()
    state = json.loads(json.dumps(s.state_dict()))
    opt2 = _opt()
    s2 = ls.SequentialLR(opt2, [ls.LinearLR(opt2, total_iters=2), ls.ExponentialLR(opt2, 0.5)], [2])
    s2.load_state_dict(state)
    opt2.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    for _ in range(4):
        s.step()
        s2.step()
        assert s.get_last_lr() == s2.get_last_lr()
    p = ls.ReduceLROnPlateau(_opt())
    json.dumps(p.state_dict())


def test_bad_schedule_arguments():
    with pytest.raises(TypeError, match="not an Optimizer"):
        ls.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="step_size"):
        ls.StepLR(_opt(), step_size=0)
    with pytest.raises(ValueError, match="start_factor"):
        ls.LinearLR(_opt(), start_factor=0)
    with pytest.raises(ValueError, match="milestones"):
        opt = _opt()
        ls.SequentialLR(opt, [ls.StepLR(opt, 1)], milestones=[1])
