"""Recipes: the named experiments `deepgrad train RECIPE` runs, one short module each.

Adding a recipe is adding a file here (its name not starting with `_`) that defines:

- `NAME` (what the command line calls it, e.g. `"mnist-mlp"`) and `DESCRIPTION` (one line);
- `default_config() -> dict`: every setting, with its default (the CLI can override any);
- `QUICK: dict` (optional): the overrides of the reduced `--quick` mode the tests use;

and then either

- a *training* recipe: `build(config, rng) -> Setup` (model, loss, optimizer, data; see
  `recipes._runner.Setup`), optionally `after_fit(setup, history, out_dir) -> list[Path]`
  for its own plots.  The shared runner trains it with checkpoints, metrics, plots,
  the doctor and `summary.md`, and `eval`, `predict`, `doctor`, `search` and
  `lr-find` work on it;
- or an *experiment* recipe: `run(config, out_dir, quick) -> dict` that writes its own
  plots and summary (comparisons of initialisations, optimizers, schedules, ...).

>>> {"init-compare", "lr-schedules"} <= set(available())
True
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any


class UnknownRecipe(KeyError):
    """No recipe has that name; the message lists the valid ones."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class Recipe:
    """One recipe module, seen through the small interface above."""

    name: str
    description: str
    module: ModuleType

    @property
    def trainable(self) -> bool:
        """True for training recipes (a `build` function), False for experiments (`run`)."""
        return hasattr(self.module, "build")

    def default_config(self) -> dict[str, Any]:
        return dict(self.module.default_config())

    def quick_overrides(self) -> dict[str, Any]:
        return dict(getattr(self.module, "QUICK", {}))


def available() -> dict[str, Recipe]:
    """Every recipe in this package, by name (modules are imported on first call)."""
    found: dict[str, Recipe] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and (hasattr(module, "build") or hasattr(module, "run")):
            found[module.NAME] = Recipe(module.NAME, module.DESCRIPTION, module)
    return dict(sorted(found.items()))


def get(name: str) -> Recipe:
    """The recipe called `name`, or `UnknownRecipe` naming the valid ones."""
    recipes = available()
    if name not in recipes:
        valid = ", ".join(recipes)
        raise UnknownRecipe(f"unknown recipe {name!r}; valid recipes: {valid}")
    return recipes[name]


__all__ = ["Recipe", "UnknownRecipe", "available", "get"]
