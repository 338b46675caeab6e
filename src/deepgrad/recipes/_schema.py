"""A recipe's typed config schema, derived from its `default_config()` (so new recipes get it).

Each setting's type is its default's type (bool, int, float, str, list).  Its
range comes from, in order: the recipe module's optional `RANGES` (`{"hidden":
(1, None)}`: inclusive bounds, None for unbounded), the shared `RANGES` below
for names every recipe uses the same way, else non-negative for a number whose
default is non-negative (a count, a size, a rate: none of this project's
settings takes a negative value).  Strings may list their `CHOICES` the same
way.  Numbers must be finite.  The first bad value raises `ConfigError` with
one line naming the recipe, the setting, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._common import OPTIMIZERS, RecipeError


class ConfigError(RecipeError):
    """An invalid config key or value."""


# (low, high, low_open): low_open means the value must be strictly above `low`
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "epochs": (1, None, False), "batch_size": (1, None, False), "lr": (0, None, True),
    "seed": (0, 2**63 - 1, False), "weight_decay": (0, None, False),
    "val_fraction": (0, 1, False), "dropout": (0, 1, False), "hidden": (1, None, False),
    "depth": (1, None, False), "n_per_class": (1, None, False), "noise": (0, None, False),
    "pretrain_epochs": (0, None, False), "momentum": (0, 1, False), "width": (1, None, False),
    "steps": (1, None, False), "target_size": (1, None, False), "train_fraction": (0, 1, True),
}  # fmt: skip
CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": tuple(OPTIMIZERS),
    "activation": ("relu", "tanh", "sigmoid"),
}
_HALF_OPEN = {"val_fraction", "dropout", "momentum"}  # [0, 1)


@dataclass(frozen=True)
class Field:
    """One setting: its type, bounds and allowed strings."""

    name: str
    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | None = None

    def allowed(self) -> str:
        """`>= 1`, `in [0, 1)`, `one of relu, tanh`: what the error message says."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return "a finite number"


def _field(module: Any, name: str, default: Any) -> Field:
    kind = type(default) if default is not None else str
    own_ranges = getattr(module, "RANGES", {})
    own_choices = getattr(module, "CHOICES", {})
    choices = own_choices.get(name, CHOICES.get(name)) if kind is str else None
    if kind in (int, float):
        if name in own_ranges:
            low, high = own_ranges[name][:2]
            low_open = bool(own_ranges[name][2]) if len(own_ranges[name]) > 2 else False
        elif name in RANGES:
            low, high, low_open = RANGES[name]
        else:
            low, high, low_open = (0, None, False) if default >= 0 else (None, None, False)
        return Field(name, kind, low, high, low_open, name in _HALF_OPEN)
    return Field(name, kind, choices=tuple(choices) if choices else None)


def schema(recipe: Any) -> dict[str, Field]:
    """Every setting of `recipe` (a `Recipe`) as a `Field`."""
    return {k: _field(recipe.module, k, v) for k, v in recipe.default_config().items()}


def check(recipe_name: str, field: Field, value: Any) -> None:
    """Raise ConfigError unless `value` (already of the field's type) is in range."""
    where = f"{recipe_name}: {field.name}"
    if field.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite, got {value!r}")
        low_bad = field.low is not None and (
            value <= field.low if field.low_open else value < field.low
        )
        high_bad = field.high is not None and (
            value >= field.high if field.high_open else value > field.high
        )
        if low_bad or high_bad:
            raise ConfigError(f"{where} must be {field.allowed()}, got {value!r}")
    elif field.choices and value not in field.choices:
        raise ConfigError(f"{recipe_name}: unknown {field.name} {value!r}; choose "
                          f"{field.allowed()}")  # fmt: skip
