"""mnist-mlp: LeCun et al. (1998)'s 2-layer net, 784-300-10, and a deeper variant, on MNIST.

LeCun et al. report 4.7% test error for 784-300-10 trained with squared error,
and about 3% for deeper nets (Table 1); with cross-entropy and momentum SGD a
784-300-10 net reaches about 2%.  Needs the four MNIST files (`--data DIR`,
default `$DEEPGRAD_DATA` or ~/.cache/deepgrad); the error says where to put them.
The run also draws the first layer's weights as 28x28 templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, plots
from deepgrad.data import MIRRORS, MNIST, default_root, train_val_test_split

from ._common import RecipeError, Setup, make_optimizer
from ._inputs import mnist_pixels
from .spiral import mlp

NAME = "mnist-mlp"
DESCRIPTION = "784-300-10 (LeCun et al. 1998) or a deeper MLP on MNIST (needs the MNIST files)"
QUICK = {"epochs": 1, "subset": 3000}
VARIANTS = {"2-layer": [300], "deep": [500, 300, 100]}
FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]  # fmt: skip
MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics, the usual normalisation
MNIST_TRAIN = 60_000  # images in MNIST's training file
INPUT = mnist_pixels((784,), MEAN, STD).describe


def default_config() -> dict[str, Any]:
    return {"epochs": 10, "lr": 0.05, "batch_size": 64, "optimizer": "momentum", "seed": 0,
            "variant": "2-layer", "data": "", "val_size": 5000, "subset": 0,
            "weight_decay": 0.0}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["variant"] not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {config['variant']!r}")
    if config["subset"] < 0 or config["val_size"] < 0:
        raise ValueError("subset and val_size must be >= 0")


def val_size_used(config: dict[str, Any]) -> int:
    """The validation size `load` takes: `val_size`, at most a fifth of the training images
    used (`subset`, or all 60,000)."""
    n = min(config["subset"], MNIST_TRAIN) if config["subset"] else MNIST_TRAIN
    return min(config["val_size"], n // 5)


def settle(config: dict[str, Any]) -> dict[str, Any]:
    """The config as it will run (recorded in config.json): `val_size` as `load` uses it, so
    a quick run (subset 3000) records its 600 validation images, not the default 5000."""
    return {**config, "val_size": val_size_used(config)}


def load(config: dict[str, Any]) -> tuple[tuple, tuple, tuple]:
    """(train, val, test) as float32 (N, 784) standardised pixels and int64 labels."""
    root = Path(config["data"]).expanduser() if config["data"] else default_root()
    try:
        train, test = MNIST(root, train=True), MNIST(root, train=False)
    except FileNotFoundError:
        files = ", ".join(f"{stem}.gz" for stem in FILES)
        raise RecipeError(
            f"MNIST files not found: put {files} (from {MIRRORS['mnist'][0]}) into "
            f"{root / 'mnist'}, or pass --data DIR (a folder holding them)"
        ) from None

    def prep(ds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        X = (ds.data.reshape(len(ds.data), -1).astype(np.float32) / 255 - MEAN) / STD
        return X[:n] if n else X, ds.targets[:n] if n else ds.targets

    X, y = prep(train, config["subset"])
    n = len(y)
    val = min(config["val_size"], n // 5)
    ratios = (1 - val / n, val / n, 0.0)
    tr, va, _ = train_val_test_split(X, y, ratios, stratify=True, seed=config["seed"])
    tr, va = _exactly(tr, va, val)
    return tr, va, prep(test, config["subset"] // 3 if config["subset"] else 0)


def _exactly(train: tuple, val: tuple, n: int) -> tuple[tuple, tuple]:
    """Move the last few examples between the splits so that exactly `n` validate: the
    stratified split rounds per class, so its total can be off by a few (config.json
    records `val_size` as what ran)."""
    k = len(val[1]) - n
    if k > 0:
        train = tuple(np.concatenate([a, b[n:]]) for a, b in zip(train, val))
        val = tuple(b[:n] for b in val)
    elif k < 0:
        cut = len(train[1]) + k
        val = tuple(np.concatenate([b, a[cut:]]) for a, b in zip(train, val))
        train = tuple(a[:cut] for a in train)
    return train, val


def build(config: dict[str, Any], rng: np.random.Generator) -> Setup:
    train, val, test = load(config)
    model = mlp([784, *VARIANTS[config["variant"]], 10], "relu", rng)
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"],
                         config["weight_decay"])  # fmt: skip
    return Setup(model, nn.CrossEntropyLoss(), opt, train, val, test, num_classes=10,
                 inputs=mnist_pixels((784,), MEAN, STD))  # fmt: skip


def after_fit(setup: Setup, history: Any, out_dir: Path) -> list[Path]:
    """The first 32 hidden units' incoming weights, seen as 28x28 images."""
    w = setup.model[0].weight._data[:32].reshape(-1, 28, 28)
    title = "First-layer weights of 32 hidden units (what each unit looks for)"
    return [plots.image_grid(w, out_dir / "first_layer_weights.png", title, cmap="RdBu_r",
                             colorbar="weight")]  # fmt: skip
