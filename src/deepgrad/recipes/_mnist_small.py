"""What the MNIST experiment recipes share: pixels in [0, 1], a small CNN and MLP, a training loop.

The attacks of `models.robustness` clip to [0, 1], so these recipes keep raw pixel
intensities (no standardisation); the first convolution learns any needed offset.
The loop takes a `loss(model, x, y) -> Tensor` so adversarial training (Madry et al.)
and distillation (Hinton et al.) plug in without a new trainer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad import nn, optim
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor

from .mnist_mlp import MEAN, STD, load

LossFn = Callable[[Any, Tensor, Tensor], Tensor]


def mnist_images(config: dict[str, Any]) -> tuple[tuple, tuple, tuple]:
    """(train, val, test): float32 (N, 1, 28, 28) pixels in [0, 1] and int64 labels."""

    def raw(d: tuple) -> tuple[np.ndarray, np.ndarray]:
        x = np.clip(d[0] * STD + MEAN, 0.0, 1.0).astype(np.float32)
        return x.reshape(-1, 1, 28, 28), d[1]

    return tuple(raw(d) for d in load(config))  # type: ignore[return-value]


def small_cnn(width: int = 8, dropout: float = 0.0,
              generator: np.random.Generator | None = None) -> nn.Sequential:  # fmt: skip
    """conv 5x5 (width) - ReLU - maxpool 2 - conv 5x5 (2 width) - ReLU - maxpool 2 - [dropout] -
    linear to 10: a LeNet-style net, 5,994 parameters at width 8, about 98% on MNIST."""
    layers = [nn.Conv2d(1, width, 5), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(width, 2 * width, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten()]  # fmt: skip
    if dropout > 0:
        layers.append(nn.Dropout(dropout, generator=generator))
    layers.append(nn.Linear(2 * width * 16, 10))
    return nn.Sequential(*layers)


def mlp(sizes: list[int]) -> nn.Sequential:
    """Flatten, then Linear-ReLU layers of the given widths, the last without ReLU."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers += [nn.Linear(a, b)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


def n_params(model: nn.Module) -> int:
    """The number of scalar parameters."""
    return int(sum(p._data.size for p in model.parameters()))


def cross_entropy(model: Any, x: Tensor, y: Tensor) -> Tensor:
    """The plain training loss, CE(model(x), y)."""
    return nn.functional.cross_entropy(model(x), y)


def predict(model: Any, x: np.ndarray, batch: int = 500) -> np.ndarray:
    """Logits in eval mode, in batches, without a graph."""
    was = model.training
    model.eval()
    with no_grad():
        out = np.concatenate(
            [model(Tensor(x[i : i + batch]))._data for i in range(0, len(x), batch)]
        )
    model.train(was)
    return out


def accuracy(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of `x` classified as `y`."""
    return float((predict(model, x).argmax(axis=1) == y).mean()) if len(y) else float("nan")


def train_epoch(model: Any, opt: Any, x: np.ndarray, y: np.ndarray, batch_size: int,
                rng: np.random.Generator, loss: LossFn = cross_entropy) -> float:  # fmt: skip
    """One shuffled pass of minibatch steps; the mean training loss."""
    model.train()
    order, total = rng.permutation(len(y)), 0.0
    for i in range(0, len(y), batch_size):
        idx = order[i : i + batch_size]
        opt.zero_grad()
        value = loss(model, Tensor(x[idx]), Tensor(y[idx]))
        value.backward()
        opt.step()
        total += float(value._data) * len(idx)
    return total / len(y)


def fit(model: Any, train: tuple, test: tuple, epochs: int, lr: float, batch_size: int, seed: int,
        loss: LossFn = cross_entropy) -> list[dict[str, Any]]:  # fmt: skip
    """Adam for `epochs`; per-epoch training loss and test accuracy."""
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    records = []
    for epoch in range(1, epochs + 1):
        value = train_epoch(model, opt, *train, batch_size, rng, loss)
        records.append({"epoch": epoch, "loss": value, "test_accuracy": accuracy(model, *test)})
    return records
