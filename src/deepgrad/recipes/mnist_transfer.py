"""mnist-transfer: features learnt on digits 0-4 help learn digits 5-9 from few examples.

A LeNet-5 is trained on the digits 0-4, then reused for 5-9 with only a few hundred
labelled examples: (1) from scratch, (2) as a frozen feature extractor with a new
head, (3) fine-tuned end to end with a 10x smaller backbone learning rate.  Yosinski
et al. (2014) showed that early conv features are general and transfer between
tasks; with little target data, transfer beats training from scratch.
Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.models import LeNet5
from deepgrad.models.transfer import freeze, load_backbone, param_groups

from ._experiment import Experiment, fit_quietly, last, tag
from .mnist_mlp import (
    load,
    settle,  # noqa: F401 (the config hook: config.json records the val_size used)
)

NAME = "mnist-transfer"
DESCRIPTION = "LeNet-5 pretrained on digits 0-4, transferred to 5-9 with few labels (needs MNIST)"
QUICK = {"pretrain_epochs": 1, "epochs": 2, "subset": 3000, "target_size": 200}
METHODS = ["from scratch", "frozen features + new head", "fine-tune all"]


def default_config() -> dict[str, Any]:
    return {"pretrain_epochs": 2, "epochs": 10, "lr": 0.02, "batch_size": 64, "seed": 0,
            "data": "", "val_size": 2000, "subset": 20000, "target_size": 500}  # fmt: skip


def _split(data: tuple, low: bool, limit: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = data
    keep = y < 5 if low else y >= 5
    X, y = X[keep].reshape(-1, 1, 28, 28), y[keep] - (0 if low else 5)
    return (X[:limit], y[:limit]) if limit else (X, y)


def _method(name: str, source: LeNet5, config: dict[str, Any]) -> tuple[LeNet5, Any]:
    model = LeNet5(5)
    lr = config["lr"]
    if name == "from scratch":
        return model, optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    load_backbone(model, source.state_dict())
    if name.startswith("frozen"):
        freeze(model, "features")
        trainable = [p for p in model.parameters() if p.requires_grad]
        return model, optim.SGD(trainable, lr=lr, momentum=0.9)
    return model, optim.SGD(param_groups(model, lr / 10, lr), lr=lr, momentum=0.9)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, val, _ = load(config)
    bs, seed, loss_fn = config["batch_size"], config["seed"], nn.CrossEntropyLoss()
    arms = exp.arms(1 + len(METHODS))
    source = LeNet5(5)
    opt = optim.SGD(source.parameters(), lr=config["lr"], momentum=0.9)
    with arms.stage("pretrain on digits 0-4") as arm:
        pre = fit_quietly(source, loss_fn, opt, _split(train, True), _split(val, True),
                          config["pretrain_epochs"], bs, seed)  # fmt: skip
        arm.result = f"val acc {last(pre, 'val_accuracy'):.3f}"
    exp.records += tag(pre, stage="pretrain 0-4")
    target, target_val = _split(train, False, config["target_size"]), _split(val, False)
    curves, rows = {}, []
    for name in METHODS:
        with arms.stage(f"digits 5-9: {name}") as arm:
            model, opt = _method(name, source, config)
            records = fit_quietly(model, loss_fn, opt, target, target_val, config["epochs"], bs,
                                  seed)  # fmt: skip
            arm.result = f"val acc {last(records, 'val_accuracy'):.3f}"
        exp.records += tag(records, stage=f"5-9: {name}")
        curves[name] = [r["val_accuracy"] for r in records]
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        rows.append({"method": name, "trainable parameters": trainable,
                     "val accuracy (5-9)": last(records, "val_accuracy")})  # fmt: skip
    title = f"Digits 5-9 from {len(target[1])} labels: validation accuracy"
    exp.plots.append(plots.curves(curves, exp.out / "transfer_curves.png", title,
                                  ylabel="validation accuracy"))  # fmt: skip
    note = f"Source model: {last(pre, 'val_accuracy'):.1%} validation accuracy on digits 0-4."
    exp.table("Transfer to digits 5-9", rows, note)
    return exp.finish()
