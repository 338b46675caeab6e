"""regularization-compare: a large net on a small training set, five ways to generalise.

With 90 training points a 2-256-256-3 MLP memorises them and its validation
loss climbs: the generalisation gap (validation minus training loss) grows.
L2 weight decay (Krogh & Hertz 1992), dropout (Srivastava et al. 2014), early
stopping (Prechelt 1998) and data augmentation (here: Gaussian input noise,
Bishop 1995's "training with noise is Tikhonov regularisation") each shrink it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.data import GaussianNoise
from deepgrad.train import EarlyStopping

from ._experiment import Experiment, fit_quietly, last, spiral_splits, tag

NAME = "regularization-compare"
DESCRIPTION = "small data, large net: none vs L2 vs dropout vs early stopping vs augmentation"
QUICK = {"epochs": 8, "hidden": 64}
METHODS = ["none", "L2", "dropout", "early stopping", "augmentation"]


def default_config() -> dict[str, Any]:
    return {"epochs": 150, "lr": 0.01, "batch_size": 30, "seed": 0, "n_per_class": 100,
            "train_fraction": 0.3, "noise": 0.15, "hidden": 256, "weight_decay": 0.5,
            "dropout": 0.3, "patience": 10, "input_noise": 0.2}  # fmt: skip


def net(config: dict[str, Any], dropout: float, rng: np.random.Generator) -> nn.Sequential:
    h = config["hidden"]
    drop = [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(nn.Linear(2, h, generator=rng), nn.ReLU(), *drop,
                         nn.Linear(h, h, generator=rng), nn.ReLU(), *drop,
                         nn.Linear(h, 3, generator=rng))  # fmt: skip


def train_one(method: str, config: dict[str, Any], train: tuple, val: tuple) -> list[dict]:
    rng = np.random.default_rng(config["seed"])
    model = net(config, config["dropout"] if method == "dropout" else 0.0, rng)
    wd = config["weight_decay"] if method == "L2" else 0.0
    opt = optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=wd)
    callbacks = []
    if method == "early stopping":
        callbacks = [EarlyStopping(patience=config["patience"], restore_best_weights=True)]
    transform = GaussianNoise(config["input_noise"]) if method == "augmentation" else None
    return fit_quietly(model, nn.CrossEntropyLoss(), opt, train, val, config["epochs"],
                       config["batch_size"], config["seed"], callbacks=callbacks,
                       transform=transform)  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    val_share = 1 - config["train_fraction"]
    train, val = spiral_splits(config["n_per_class"], config["noise"], config["seed"], val_share)
    gaps, val_losses, bars, rows = {}, {}, {}, []
    arms = exp.arms(len(METHODS))
    for method in METHODS:
        with arms.stage(method) as arm:
            records = train_one(method, config, train, val)
            arm.result = (f"train loss {last(records, 'loss'):.3g}, val loss "
                          f"{last(records, 'val_loss'):.3g}, val acc "
                          f"{last(records, 'val_accuracy'):.3f}")  # fmt: skip
        exp.records += tag(records, method=method)
        gaps[method] = [r["val_loss"] - r["loss"] for r in records]
        val_losses[method] = [r["val_loss"] for r in records]
        bars[method] = {"train accuracy": last(records, "accuracy"),
                        "validation accuracy": last(records, "val_accuracy")}  # fmt: skip
        rows.append({"method": method, "epochs": len(records), "train loss": last(records, "loss"),
                     "val loss": last(records, "val_loss"), "gap": gaps[method][-1],
                     **bars[method]})  # fmt: skip
    title = f"{len(train[1])} training points, {config['hidden']}-unit MLP"
    exp.plots.append(plots.curve_grid(
        {"generalisation gap (val - train loss)": gaps, "validation loss": val_losses},
        exp.out / "generalization_gap.png", title))  # fmt: skip
    exp.plots.append(plots.bars(bars, exp.out / "accuracy.png",
                                f"Train vs validation accuracy ({title})", "accuracy"))  # fmt: skip
    note = (
        "Early stopping restores the best epoch's weights. The last epoch's accuracy is"
        " shown; training accuracy of dropout/augmentation runs is measured with them on."
    )
    exp.table("Results", rows, note)
    return exp.finish()
