"""meta-lr: the hypergradient through K unrolled steps matches finite differences, and
meta-training lowers the validation loss after K steps."""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad.recipes import meta_lr
from deepgrad.recipes._experiment import spiral_splits
from deepgrad.testing import gradcheck


def _setup():
    config = {**meta_lr.default_config(), **meta_lr.QUICK, "inner_steps": 3, "hidden": 4}
    train, val = spiral_splits(config["n_per_class"], config["noise"], config["seed"])
    net, theta0 = meta_lr._model(config)
    return meta_lr._loss_fn(net, train), meta_lr._loss_fn(net, val), theta0


def test_schedule_hypergradient_matches_finite_differences():
    loss_fn, val_fn, theta0 = _setup()
    rates = dg.tensor(np.array([0.3, 0.2, 0.4]), requires_grad=True)
    f = lambda r: meta_lr.train_with(r, theta0, loss_fn, val_fn)[0]
    assert gradcheck(f, [rates], check_forward=False)


def test_a_few_meta_steps_lower_the_validation_loss():
    loss_fn, val_fn, theta0 = _setup()
    log_rates = dg.tensor(np.log(np.full(3, 0.1)), requires_grad=True)
    start = float(meta_lr.train_with(dg.exp(log_rates), theta0, loss_fn, val_fn)[0])
    for _ in range(5):
        g = dg.grad(lambda s: meta_lr.train_with(dg.exp(s), theta0, loss_fn, val_fn)[0])(log_rates)
        log_rates = (log_rates - 0.5 * g).detach().requires_grad_(True)
    end = float(meta_lr.train_with(dg.exp(log_rates), theta0, loss_fn, val_fn)[0])
    assert end < start
