"""Gradient-check cases for layers and losses, declared next to each class.

Primitives declare the domain their tests sample from; layers do the same
with `@layer_cases(LayerCase(...), ...)` on the class.  The test suite walks
every `Module` subclass exported from `deepgrad.nn`, builds each case in
float64 and checks the gradients with respect to the inputs and to every
parameter against central finite differences.  A class without a case fails
that test unless it is exempted with a reason (`@exempt_from_cases(...)`).

>>> from deepgrad.nn.registry import LayerCase
>>> case = LayerCase(lambda: None, input_shapes=[(4, 3)])
>>> case.train
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.primitive import ErrorCase
from ..core.tensor import Tensor

__all__ = [
    "ERRORS_EXEMPT",
    "EXEMPT",
    "LAYER_CASES",
    "LAYER_ERRORS",
    "ErrorCase",
    "LayerCase",
    "cases_for",
    "errors_for",
    "exempt_from_cases",
    "exempt_from_errors",
    "int_targets",
    "layer_cases",
    "layer_errors",
    "ones_input",
    "sign_targets",
]  # fmt: skip


@dataclass
class LayerCase:
    """One configuration to gradient-check: how to build the module and its inputs.

    `ctor()` builds the module.  Differentiable inputs are drawn uniformly from
    [low, high] with the shapes in `input_shapes`, kept `margin` away from each
    point of `avoid` (kinks), unless `inputs(rng)` returns them itself.
    `targets(rng)` returns extra, non-differentiable arguments passed after the
    inputs (class indices, +-1 labels).  `train` picks the mode; `params=False`
    skips the check with respect to parameters.
    """

    ctor: Callable[[], Any]
    input_shapes: Sequence[tuple[int, ...]] = ((2, 3),)
    low: float = -2.0
    high: float = 2.0
    avoid: Sequence[float] = ()
    margin: float = 0.05
    inputs: Callable[[np.random.Generator], list[np.ndarray]] | None = None
    targets: Callable[[np.random.Generator], list[Any]] | None = None
    train: bool = True
    params: bool = True
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def make_inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        """Float64 inputs for this case (values kept away from `avoid`)."""
        if self.inputs is not None:
            return [np.asarray(a, dtype=np.float64) for a in self.inputs(rng)]
        out = []
        for shape in self.input_shapes:
            x = rng.uniform(self.low, self.high, size=shape)
            for point in self.avoid:
                near = np.abs(x - point) < self.margin
                x = np.where(near, point + np.sign(x - point + 1e-12) * self.margin * 2, x)
            out.append(x)
        return out

    def make_targets(self, rng: np.random.Generator) -> list[Any]:
        return [] if self.targets is None else list(self.targets(rng))


LAYER_CASES: dict[type, list[LayerCase]] = {}
LAYER_ERRORS: dict[type, list[ErrorCase]] = {}
EXEMPT: dict[type, str] = {}
ERRORS_EXEMPT: dict[type, str] = {}


def layer_cases(*cases: LayerCase) -> Callable[[type], type]:
    """Class decorator registering gradient-check cases for a layer or loss."""

    def deco(cls: type) -> type:
        LAYER_CASES.setdefault(cls, []).extend(cases)
        return cls

    return deco


def layer_errors(*errors: ErrorCase) -> Callable[[type], type]:
    """Class decorator registering invalid constructions or calls a layer must refuse."""

    def deco(cls: type) -> type:
        LAYER_ERRORS.setdefault(cls, []).extend(errors)
        return cls

    return deco


def errors_for(cls: type) -> list[ErrorCase]:
    """The error cases registered for `cls` itself."""
    return LAYER_ERRORS.get(cls, [])


def exempt_from_errors(reason: str) -> Callable[[type], type]:
    """Class decorator: no input or argument of this module is invalid (say why)."""

    def deco(cls: type) -> type:
        ERRORS_EXEMPT[cls] = reason
        return cls

    return deco


def ones_input(*shape: int, dtype=np.float64) -> Tensor:
    """A constant tensor of ones, for the invalid calls that error cases make."""
    return Tensor(np.ones(shape, dtype))


def exempt_from_cases(reason: str) -> Callable[[type], type]:
    """Class decorator: this module has nothing of its own to gradient-check (say why)."""

    def deco(cls: type) -> type:
        EXEMPT[cls] = reason
        return cls

    return deco


def cases_for(cls: type) -> list[LayerCase]:
    """The cases registered for `cls` itself (subclasses declare their own)."""
    return LAYER_CASES.get(cls, [])


def int_targets(shape: tuple[int, ...], num_classes: int) -> Callable[[np.random.Generator], list]:
    """A `targets` function drawing class indices in [0, num_classes)."""
    return lambda rng: [rng.integers(0, num_classes, size=shape)]


def sign_targets(shape: tuple[int, ...]) -> Callable[[np.random.Generator], list]:
    """A `targets` function drawing labels in {-1, +1}."""
    return lambda rng: [rng.choice(np.array([-1.0, 1.0]), size=shape)]
