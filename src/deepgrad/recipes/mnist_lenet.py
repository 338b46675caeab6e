"""mnist-lenet: LeNet-5 (LeCun et al. 1998) on MNIST, with its filters and saliency maps.

Two 5x5 convolution + pooling stages and three fully connected layers, 61,706
parameters: weight sharing gives translation-equivariant features with far fewer
weights than the 784-300-10 MLP, and about 1% test error.  Needs the MNIST files
(`--data DIR`).  Plots the first layer's six 5x5 filters and gradient saliency
maps |d logit / d pixel| of test digits (Simonyan et al. 2014).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, plots
from deepgrad.models import LeNet5
from deepgrad.models.interpret import saliency

from ._common import Setup, make_optimizer
from ._inputs import mnist_pixels
from .mnist_mlp import (
    MEAN,
    STD,
    load,
    settle,  # noqa: F401 (the config hook: config.json records the val_size used)
)

NAME = "mnist-lenet"
DESCRIPTION = "LeNet-5 (LeCun et al. 1998) on MNIST: filters and saliency maps (needs MNIST)"
QUICK = {"epochs": 1, "subset": 1500}
INPUT = mnist_pixels((1, 28, 28), MEAN, STD).describe


def default_config() -> dict[str, Any]:
    return {"epochs": 5, "lr": 0.05, "batch_size": 64, "optimizer": "momentum", "seed": 0,
            "activation": "relu", "data": "", "val_size": 5000, "subset": 0,
            "weight_decay": 0.0}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["activation"] not in ("relu", "tanh"):
        raise ValueError(f"activation must be relu or tanh, got {config['activation']!r}")


def _images(data: tuple | None) -> tuple | None:
    return None if data is None else (data[0].reshape(-1, 1, 28, 28), data[1])


def build(config: dict[str, Any], rng: np.random.Generator) -> Setup:
    train, val, test = (_images(d) for d in load(config))
    model = LeNet5(10, activation=config["activation"])
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                         config["weight_decay"])  # fmt: skip
    return Setup(model, nn.CrossEntropyLoss(), opt, train, val, test, num_classes=10,
                 inputs=mnist_pixels((1, 28, 28), MEAN, STD))  # fmt: skip


def after_fit(setup: Setup, history: Any, out_dir: Path) -> list[Path]:
    """First-layer filters, and saliency maps of eight validation digits."""
    from deepgrad.train import predict

    filters = setup.model.features[0].weight._data[:, 0]
    f = plots.image_grid(filters, out_dir / "filters.png", "LeNet-5: the six 5x5 filters of conv1",
                         [f"filter {k}" for k in range(len(filters))], cols=6, cmap="RdBu_r",
                         colorbar="weight")  # fmt: skip
    x, y = setup.val if setup.val is not None else setup.train
    x, y = x[:8], y[:8]
    pred = predict(setup.model, x).argmax(axis=1)
    maps = saliency(setup.model, x, target=pred)
    s = plots.saliency_grid(x[:, 0], maps, y, pred, out_dir / "saliency.png",
                            "Validation digits and the gradient of the predicted class's logit "
                            "(saliency)")  # fmt: skip
    return [f, s]
