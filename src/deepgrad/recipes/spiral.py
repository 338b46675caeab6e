"""spiral: an MLP learns the 3-class spiral, the classic "not linearly separable" demo.

Three interleaved arms (Canziani & LeCun's NYU practicum; CS231n): a linear
classifier gets about a third right, a two-hidden-layer ReLU MLP draws curved
decision regions that follow the arms.  The run writes the learning curves and
the decision regions over the data.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.data import spiral, train_val_test_split
from deepgrad.optim.lr_scheduler import CosineAnnealingLR

from ._common import Setup, make_optimizer
from ._inputs import scaled

NAME = "spiral"
DESCRIPTION = "MLP on the 3-class spiral: decision regions and learning curves (the demo)"
QUICK = {"epochs": 60, "n_per_class": 60}
INPUT = ("(N, 2) points (x, y) in the spiral's own coordinates, as deepgrad.data.spiral makes "
         "them (about -1 to 1); predict divides each axis by the training data's std as "
         "training did")  # fmt: skip


def default_config() -> dict[str, Any]:
    return {
        "epochs": 80,
        "lr": 0.005,
        "batch_size": 64,
        "optimizer": "adam",
        "seed": 0,
        "n_per_class": 100,
        "noise": 0.02,
        "val_fraction": 0.2,
        "hidden": 64,
        "depth": 2,
        "activation": "relu",
        "weight_decay": 2e-3,
        "cosine": True,
    }


def mlp(sizes: list[int], activation: str = "relu", rng: np.random.Generator | None = None):
    """Linear layers of the given sizes with `activation` between them (none after the last)."""
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, generator=rng))
        if i < len(sizes) - 2:
            layers.append(act())
    return nn.Sequential(*layers)


def build(config: dict[str, Any], rng: np.random.Generator) -> Setup:
    X, y = spiral(config["n_per_class"], 3, config["noise"], seed=config["seed"])
    std = X.std(axis=0)
    X = X / std  # standardised inputs
    frac = config["val_fraction"]
    train, val, _ = train_val_test_split(X, y, ratios=(1 - frac, frac, 0.0), stratify=True,
                                         seed=config["seed"])  # fmt: skip
    sizes = [2] + [config["hidden"]] * config["depth"] + [3]
    model = mlp(sizes, config["activation"], rng)
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                         config["weight_decay"])  # fmt: skip
    sched = CosineAnnealingLR(opt, T_max=config["epochs"]) if config["cosine"] else None
    return Setup(model, nn.CrossEntropyLoss(), opt, train, val if frac else None,
                 num_classes=3, scheduler=sched, inputs=scaled(std, INPUT))  # fmt: skip


def predict_classes(model: Any, X: np.ndarray) -> np.ndarray:
    model.eval()
    with no_grad():
        return model(Tensor(X))._data.argmax(axis=1)


def after_fit(setup: Setup, history: Any, out_dir: Path) -> list[Path]:
    """Decision regions over the training (and validation) points."""
    X, y = setup.train
    if setup.val is not None:
        X, y = np.concatenate([X, setup.val[0]]), np.concatenate([y, setup.val[1]])
    acc = float(np.mean(predict_classes(setup.model, setup.train[0]) == setup.train[1]))
    title = f"Spiral: MLP decision regions (training accuracy {acc:.1%})"
    path = plots.decision_regions(lambda g: predict_classes(setup.model, g), X, y,
                                  out_dir / "decision_regions.png", title)  # fmt: skip
    return [path]
