"""What a training recipe's model takes as input, before its preprocessing (for `predict`).

A recipe trains on preprocessed data (spiral points divided by their std, MNIST pixels
standardised); `deepgrad predict` takes *raw* inputs, as a user has them, and applies the
same preprocessing.  `InputSpec` says what raw inputs look like (shapes per example,
value range, in words for `--help` and errors) and how to prepare them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._common import RecipeError


@dataclass(frozen=True)
class InputSpec:
    """Raw inputs of a recipe: accepted per-example `shapes`, the value range `[low, high]`
    (None: unbounded), a description for users, and `prepare(X) -> model input` (X of
    shape `(N, *shape)` for one of `shapes`, float64)."""

    shapes: tuple[tuple[int, ...], ...]
    describe: str
    prepare: Callable[[np.ndarray], np.ndarray]
    low: float | None = None
    high: float | None = None
    scaled_hint: str = ""  # printed when every value lies in [0, 1] though high > 1

    def __call__(self, name: str, inputs: np.ndarray) -> np.ndarray:
        """Check raw `inputs` (a batch, or one example) and return the model's input."""
        x = np.asarray(inputs)
        if tuple(x.shape) in self.shapes:
            x = x[None]  # one example
        if x.ndim == 0 or tuple(x.shape[1:]) not in self.shapes:
            raise RecipeError(f"predict: inputs of shape {tuple(x.shape)} do not fit {name}: "
                              f"expected {self.describe}")  # fmt: skip
        x = x.astype(np.float64)
        lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
        if (self.low is not None and lo < self.low) or (self.high is not None and hi > self.high):
            raise RecipeError(f"predict: inputs range over [{lo:.4g}, {hi:.4g}], outside what "
                              f"{name} expects: {self.describe}")  # fmt: skip
        if self.scaled_hint and x.size and hi <= 1.0:
            print(f"deepgrad: warning: {self.scaled_hint}", file=sys.stderr)
        return self.prepare(x)


def scaled(std: np.ndarray, describe: str) -> InputSpec:
    """Points of shape `(N, d)` divided per axis by `std` (the training data's std)."""
    std = np.asarray(std, dtype=np.float64)
    return InputSpec(((len(std),),), describe, lambda x: (x / std).astype(np.float32))


def mnist_pixels(shape: tuple[int, ...], mean: float, std: float, scale: bool = True) -> InputSpec:
    """28x28 digits as raw pixel values 0-255 (uint8 or float), as `(N, 28, 28)`, `(N, 784)`
    or `(N, 1, 28, 28)`; prepared as `(x / 255 - mean) / std` (or `x / 255` when not
    `scale`) and reshaped to the model's `shape`."""

    def prepare(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), *shape) / 255.0
        return (((x - mean) / std) if scale else x).astype(np.float32)

    norm = f"(x / 255 - {mean}) / {std}" if scale else "x / 255"
    describe = (f"raw 28x28 digits, (N, 28, 28), (N, 784) or (N, 1, 28, 28), pixel values 0-255 "
                f"(white digit on black, as in the MNIST files); predict applies {norm} as "
                "training did")  # fmt: skip
    hint = "every input value lies in [0, 1]: predict expects raw pixels 0-255 (scale by 255)"
    return InputSpec(((28, 28), (784,), (1, 28, 28)), describe, prepare, 0.0, 255.0, hint)
