"""lr-schedules: constant, step, exponential, fractional (1/t), cosine and one-cycle, side by side.

The same spiral MLP trained with SGD + momentum under each schedule.  Decaying
the rate lets SGD settle into a minimum instead of bouncing around it (Robbins &
Monro 1951 ask for sum lr = inf, sum lr^2 < inf, which 1/t meets); cosine
annealing (Loshchilov & Hutter 2017) and the one-cycle policy (Smith 2017: warm
up to a large rate, then anneal far below the start) are today's defaults.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.optim.lr_scheduler import CosineAnnealingLR, ExponentialLR, InverseTimeLR, StepLR
from deepgrad.optim.one_cycle import OneCycleLR

from ._experiment import Experiment, fit_quietly, last, spiral_splits, tag
from .spiral import mlp

NAME = "lr-schedules"
DESCRIPTION = "constant, step, exponential, fractional (1/t), cosine and one-cycle schedules"
QUICK = {"epochs": 6, "n_per_class": 60}
SCHEDULES = ["constant", "step", "exponential", "fractional", "cosine", "one-cycle"]


def default_config() -> dict[str, Any]:
    return {"epochs": 60, "lr": 0.1, "batch_size": 32, "seed": 0, "n_per_class": 150,
            "hidden": 64, "noise": 0.1}  # fmt: skip


def scheduler(name: str, opt: Any, epochs: int, steps_per_epoch: int) -> tuple[Any, str]:
    """(scheduler, interval) for a schedule name; one-cycle steps per batch."""
    if name == "constant":
        return None, "epoch"
    if name == "step":
        return StepLR(opt, step_size=max(1, epochs // 3), gamma=0.2), "epoch"
    if name == "exponential":
        return ExponentialLR(opt, gamma=math.exp(math.log(0.01) / epochs)), "epoch"
    if name == "fractional":
        return InverseTimeLR(opt, decay_rate=10.0 / epochs), "epoch"
    if name == "cosine":
        return CosineAnnealingLR(opt, T_max=epochs), "epoch"
    lr = opt.param_groups[0]["lr"]
    return OneCycleLR(opt, max_lr=3 * lr, epochs=epochs, steps_per_epoch=steps_per_epoch), "step"


def _train(name: str, config: dict[str, Any], train: tuple, val: tuple, steps: int) -> list:
    """One spiral MLP trained with SGD + momentum under schedule `name`; its records."""
    rng = np.random.default_rng(config["seed"])
    model = mlp([2, config["hidden"], config["hidden"], 3], "relu", rng)
    opt = optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    sched, interval = scheduler(name, opt, config["epochs"], steps)
    return fit_quietly(model, nn.CrossEntropyLoss(), opt, train, val, config["epochs"],
                       config["batch_size"], config["seed"], sched, interval)  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, val = spiral_splits(config["n_per_class"], config["noise"], config["seed"])
    steps = math.ceil(len(train[1]) / config["batch_size"])
    losses, val_losses, rates, rows = {}, {}, {}, []
    arms = exp.arms(len(SCHEDULES))
    for name in SCHEDULES:
        with arms.stage(name) as arm:
            records = _train(name, config, train, val, steps)
            arm.result = (f"train loss {last(records, 'loss'):.3g}, val acc "
                          f"{last(records, 'val_accuracy'):.3f}")  # fmt: skip
        exp.records += tag(records, schedule=name)
        losses[name] = [r["loss"] for r in records]
        val_losses[name] = [r["val_loss"] for r in records]
        rates[name] = [r["lr"] for r in records]
        rows.append({"schedule": name, "train loss": last(records, "loss"),
                     "val loss": last(records, "val_loss"),
                     "val accuracy": last(records, "val_accuracy")})  # fmt: skip
    exp.plots.append(plots.curves(rates, exp.out / "schedules.png",
                                  "Learning rate per epoch (one-cycle: at the epoch's last step)",
                                  ylabel="learning rate", logy=True))  # fmt: skip
    exp.plots.append(plots.curve_grid({"training loss": losses, "validation loss": val_losses},
                                      exp.out / "learning_curves.png",
                                      "Spiral MLP, SGD + momentum, by schedule",
                                      logy=True))  # fmt: skip
    exp.table("Results", rows)
    return exp.finish()
