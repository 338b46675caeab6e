"""Small builders the generative models share: MLPs, one-hot conditioning, minibatches."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ... import nn
from ...core.tensor import Tensor
from ...ops.index import one_hot
from ...ops.shape import cat

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh,
               "sigmoid": nn.Sigmoid}  # fmt: skip


def mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    final_activation: str | None = None,
    generator: np.random.Generator | None = None,
) -> nn.Sequential:
    """Linear layers `sizes[0] -> ... -> sizes[-1]`, `activation` between them."""
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"mlp: sizes must be >= 2 positive widths, got {list(sizes)}")
    if activation not in ACTIVATIONS or (final_activation or "relu") not in ACTIVATIONS:
        raise ValueError(
            f"mlp: activations must be among {sorted(ACTIVATIONS)}, got {activation!r}, "
            f"{final_activation!r}"
        )
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b, generator=generator))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    if final_activation:
        layers.append(ACTIVATIONS[final_activation]())
    return nn.Sequential(*layers)


def check_labels(labels: Any, n: int, num_classes: int) -> np.ndarray:
    """`labels` as n int64 class indices in [0, num_classes), or a ValueError saying why not."""
    if labels is None:
        raise ValueError(f"conditional model: labels are required (num_classes={num_classes})")
    y = np.asarray(labels._data if isinstance(labels, Tensor) else labels).astype(np.int64)
    if y.shape != (n,) or y.min(initial=0) < 0 or y.max(initial=0) >= num_classes:
        raise ValueError(
            f"conditional model: labels must be {n} ints in [0, {num_classes}), got shape {y.shape}"
        )
    return y


def with_labels(x: Tensor, labels: Any, num_classes: int) -> Tensor:
    """`x` (N, D) with the one-hot labels appended: (N, D + num_classes); `x` as is if 0 classes."""
    if num_classes == 0:
        return x
    y = check_labels(labels, x.shape[0], num_classes)
    return cat([x, one_hot(y, num_classes, dtype=x.dtype)], axis=1)


def minibatches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled index batches covering range(n) once (the last may be smaller)."""
    order = rng.permutation(n)
    for i in range(0, n, batch_size):
        yield order[i : i + batch_size]
