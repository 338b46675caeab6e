"""The doctor: each verdict on scripted curves, and on real runs built to show it.

The checks follow Karpathy's "A Recipe for Training Neural Networks" (2019): the
initial loss is log(C), a net overfits a tiny batch, gradients neither vanish nor
explode, units are neither dead nor saturated, NaNs are traced to their op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset, spiral
from deepgrad.train import Trainer
from deepgrad.train.curves import Report, check_initial_loss, curve_verdict
from deepgrad.train.doctor import (
    Doctor,
    activation_findings,
    activation_stats,
    diagnose,
    gradient_findings,
    gradient_stats,
    initial_loss,
    nan_check,
    overfit_batch,
)


def verdict(train, val=None, **kw):
    return curve_verdict(train, val, **kw).data.get("verdict")


# -- scripted curves ---------------------------------------------------------------------
EPOCHS = np.arange(30)


def test_good_fit_both_curves_flatten_low():
    train = 0.05 + np.exp(-EPOCHS / 3)
    val = 0.08 + np.exp(-EPOCHS / 3)
    assert verdict(train, val) == "good fit"


def test_overfitting_names_the_epoch_to_stop():
    train = np.exp(-EPOCHS / 5)
    val = 0.3 + np.exp(-EPOCHS / 5) + 0.02 * np.maximum(0, EPOCHS - 10)
    found = curve_verdict(train, val)
    assert found.data["verdict"] == "overfitting"
    best = int(np.argmin(val)) + 1
    assert found.data["stop_epoch"] == best
    assert f"stop at epoch {best}" in found.message


def test_overfitting_needs_k_rising_epochs():
    train = np.exp(-EPOCHS / 5)
    val = 0.3 + np.exp(-EPOCHS / 5)
    val[-2:] += 0.05  # two bad epochs at the end: not yet a trend for patience=3
    assert verdict(train, val, patience=3) != "overfitting"
    assert verdict(train, val, patience=2) == "overfitting"


def test_underfitting_when_both_curves_still_fall():
    train = 2.0 - 0.04 * EPOCHS
    val = 2.1 - 0.04 * EPOCHS
    found = curve_verdict(train, val)
    assert found.data["verdict"] == "underfitting"
    assert "still falling" in found.message


def test_underfitting_when_both_curves_plateau_high():
    train = 0.8 + 0.3 * np.exp(-EPOCHS / 2)
    val = 0.82 + 0.3 * np.exp(-EPOCHS / 2)
    found = curve_verdict(train, val)
    assert found.data["verdict"] == "underfitting"
    assert "plateaued high" in found.message


def test_validation_better_than_training():
    train = 0.5 + np.exp(-EPOCHS / 3)
    val = 0.2 + np.exp(-EPOCHS / 3)
    found = curve_verdict(train, val)
    assert found.data["verdict"] == "validation better"
    assert "representative" in found.fix


@pytest.mark.parametrize(
    "train",
    [
        [1.1, 2.0, 8.0, 40.0, math.inf, math.nan],  # blows up
        [1.1, 0.9, 0.8, 1.5, 2.5, 3.0],  # ends far above its start
    ],
)
def test_divergence_means_learning_rate_too_high(train):
    found = curve_verdict(train)
    assert found.data["verdict"] == "learning rate too high"
    assert found.status == "fail"


def test_oscillation_means_learning_rate_too_high():
    train = 1.0 + 0.3 * (-1.0) ** EPOCHS
    assert verdict(train) == "learning rate too high"


def test_never_below_the_initial_loss_means_learning_rate_too_high():
    train = [5.0, 3.7, 2.3, 2.6, 2.8, 2.0, 2.4, 2.7, 2.4, 2.0]  # epoch means of a lr=10 run
    assert verdict(train, initial=1.1) == "learning rate too high"


def test_flat_start_means_learning_rate_too_low():
    train = np.r_[np.full(10, 1.1) - 0.001 * np.arange(10), 1.1 - 0.05 * np.arange(1, 21)]
    found = curve_verdict(train)
    assert found.data["verdict"] == "learning rate too low"
    assert "x10" in found.fix


def test_too_few_epochs_is_skipped():
    assert curve_verdict([1.0, 0.9]).status == "skip"


def test_initial_loss_against_log_c():
    assert check_initial_loss(math.log(10) + 0.1, 10).status == "ok"
    high = check_initial_loss(9.0, 10)
    assert high.status == "warn" and "confidently wrong" in high.fix
    low = check_initial_loss(0.2, 10)
    assert low.status == "warn" and "leakage" in low.fix
    assert check_initial_loss(math.nan, 10).status == "fail"


def test_report_text_and_markdown():
    report = Report([check_initial_loss(5.0, 3), curve_verdict(np.exp(-EPOCHS / 3))])
    assert "[WARN] initial loss" in str(report)
    assert report.to_markdown().startswith("| check | status |")
    assert report.verdict == "good fit"
    assert not report.ok


# -- checks on real models ---------------------------------------------------------------
def _data(n_per_class=40, seed=0, noise=0.05):
    X, y = spiral(n_per_class, 3, noise, seed=seed)
    return dg.tensor(X), dg.tensor(y)


def _mlp(width=32, depth=2, act=nn.ReLU, seed=0):
    rng = np.random.default_rng(seed)
    layers, d = [], 2
    for _ in range(depth):
        layers += [nn.Linear(d, width, generator=rng), act()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 3, generator=rng))


def test_initial_loss_of_a_fresh_net_is_log_c():
    x, y = _data()
    assert initial_loss(_mlp(), nn.CrossEntropyLoss(), x, y, 3).status == "ok"


def test_initial_loss_flags_a_scaled_up_last_layer():
    x, y = _data()
    model = _mlp()
    model[-1].weight.data *= 100
    assert initial_loss(model, nn.CrossEntropyLoss(), x, y, 3).status == "warn"


def test_an_mlp_overfits_a_tiny_batch_and_is_restored():
    x, y = _data()
    model = _mlp()
    before = [p.numpy().copy() for p in model.parameters()]
    found = overfit_batch(model, nn.CrossEntropyLoss(), x[:16], y[:16],
                          lambda ps: optim.Adam(ps, lr=1e-2))  # fmt: skip
    assert found.status == "ok", found.message
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))


def test_a_model_that_cannot_fit_fails_the_tiny_batch():
    x = dg.zeros(16, 2)  # constant inputs: only the bias can learn, random labels stay
    y = dg.tensor(np.arange(16) % 3)
    found = overfit_batch(nn.Linear(2, 3), nn.CrossEntropyLoss(), x, y,
                          lambda ps: optim.Adam(ps, lr=1e-1), steps=100)  # fmt: skip
    assert found.status == "fail" and "bug" in found.fix


def test_zero_init_gets_no_gradient_to_the_first_layers():
    x, y = _data()
    model = _mlp(act=nn.Tanh, depth=3)
    for p in model.parameters():
        p.data[...] = 0
    rows = gradient_stats(model, nn.CrossEntropyLoss(), x, y, lambda ps: optim.SGD(ps, lr=0.1))
    found = gradient_findings(rows)
    assert found.status == "fail"
    assert "0" in found.data["vanishing"] and "no gradient at all" in found.message


def test_healthy_sgd_updates_are_named_ok():
    x, y = _data()
    rows = gradient_stats(_mlp(), nn.CrossEntropyLoss(), x, y, lambda ps: optim.SGD(ps, lr=0.01))
    found = gradient_findings(rows)
    assert found.status == "ok", found.message
    assert all(1e-5 < r["ratio"] < 1e-1 for r in rows)


def test_a_huge_learning_rate_is_named_exploding_by_layer():
    x, y = _data()
    rows = gradient_stats(_mlp(), nn.CrossEntropyLoss(), x, y, lambda ps: optim.SGD(ps, lr=1e3))
    found = gradient_findings(rows)
    assert found.status == "fail" and "exploding" in found.message


def test_dead_relus_are_counted_per_layer():
    x, _ = _data()
    model = _mlp()
    model[0].bias.data[:24] = -100.0  # 24 of 32 units never fire
    rows = activation_stats(model, x)
    assert rows[0]["layer"] == "1" and rows[0]["fraction"] >= 0.75
    found = activation_findings(rows)
    assert found.status == "fail" and "dead" in found.message


def test_saturated_tanh_units_are_flagged():
    x, _ = _data()
    model = _mlp(act=nn.Tanh)
    model[0].weight.data *= 50
    found = activation_findings(activation_stats(model, x))
    assert found.status in ("warn", "fail") and "saturated" in found.message


class _LogNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 3)

    def forward(self, x):
        return dg.log(self.fc(x) - 100.0)  # log of a negative number: NaN


def test_nan_check_names_the_first_op():
    x, y = _data()
    with np.errstate(invalid="ignore"):
        found = nan_check(_LogNet(), nn.CrossEntropyLoss(), x, y)
    assert found.status == "fail" and "'log'" in found.message


def test_diagnose_runs_every_check():
    x, y = _data()
    report = diagnose(_mlp(), nn.CrossEntropyLoss(), x, y, num_classes=3)
    checks = [f.check for f in report.findings]
    assert checks == ["NaN/Inf", "initial loss", "overfit a tiny batch", "gradients", "activations"]


# -- real runs built to show a verdict -------------------------------------------------------
def _run(model, opt, train, val, epochs, batch_size=32):
    doctor = Doctor(num_classes=3)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[doctor], verbose=0, seed=0)
    load = lambda d, s: DataLoader(TensorDataset(*d), batch_size=batch_size, shuffle=s, seed=0)
    trainer.fit(load(train, True), load(val, False), epochs=epochs)
    return doctor.report


def test_real_run_a_big_net_overfits_100_samples():
    train = spiral(34, 3, 0.1, seed=1)  # 102 samples
    val = spiral(100, 3, 0.1, seed=2)
    model = _mlp(width=128, depth=2)
    report = _run(model, optim.Adam(model.parameters(), lr=1e-2), train, val, 60, batch_size=34)
    curves = report.get("learning curves")
    assert curves.data["verdict"] == "overfitting", curves.message
    assert 5 <= curves.data["stop_epoch"] < 40


def test_real_run_a_linear_model_underfits_the_spiral():
    train, val = spiral(100, 3, 0.1, seed=1), spiral(50, 3, 0.1, seed=2)
    model = nn.Linear(2, 3)
    report = _run(model, optim.Adam(model.parameters(), lr=0.05), train, val, epochs=30)
    assert report.verdict == "underfitting", report.get("learning curves").message


def test_real_run_learning_rate_of_10_is_too_high():
    train, val = spiral(100, 3, 0.1, seed=1), spiral(50, 3, 0.1, seed=2)
    model = _mlp()
    report = _run(model, optim.SGD(model.parameters(), lr=10.0), train, val, epochs=15)
    assert report.verdict == "learning rate too high", report.get("learning curves").message
