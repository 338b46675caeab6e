"""Resolving a recipe's config: defaults < `--quick` < config file < command-line options.

A recipe's `settle(config)`, if any, then turns settings into the values that will run
(a validation size capped by the data), so config.json records what ran.
Every key must be one of the recipe's defaults; a value is converted to the type
of its default (`"0.1"` -> 0.1 for a float, `"yes"` -> True for a bool) and checked
(epochs >= 1, lr > 0, ...).  Errors are `ConfigError`s with a one-line reason.
TOML files need Python 3.11's `tomllib` (or the `tomli` package on 3.10).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import Recipe
from ._schema import ConfigError, check, schema

__all__ = ["ConfigError", "coerce", "load_file", "parse_assignments", "resolve", "validate"]

_TRUE, _FALSE = {"true", "yes", "1", "on"}, {"false", "no", "0", "off"}


def _toml():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError(
                "TOML configs need Python 3.11+ or `pip install tomli`; or use a .json config"
            ) from None
    return tomllib


def load_file(path: str | Path) -> dict[str, Any]:
    """A config file's table: `.json` or `.toml` (a `[config]` table, if any, is used)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_bytes()
    try:
        if path.suffix == ".toml":
            data = _toml().loads(text.decode())
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise ConfigError(f"config file {path} must end in .json or .toml")
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} is not valid {path.suffix[1:].upper()}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table of settings at its top level")
    data = data.get("config", data)
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: its [config] must be a table of settings")
    data.pop("recipe", None)
    return data


def coerce(key: str, value: Any, default: Any) -> Any:
    """`value` converted to the type of `default` (strings from the command line included)."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if isinstance(default, int):
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number != int(number):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return int(number)
    if isinstance(default, float):
        try:
            number = float(value) if not isinstance(value, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if math.isnan(number):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return number
    if isinstance(default, (list, tuple)):
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        inner = default[0] if default else ""
        return [coerce(key, v, inner) for v in value]
    if default is None or isinstance(default, str):
        return str(value) if value is not None else None
    return value


def validate(recipe: Recipe, config: dict[str, Any]) -> None:
    """Every setting against the recipe's schema (`_schema`), then the recipe's own
    `validate(config)` if any."""
    fields = schema(recipe)
    for key, value in config.items():
        if key in fields:
            check(recipe.name, fields[key], value)
    own = getattr(recipe.module, "validate", None)
    if own is not None:
        try:
            own(config)
        except ValueError as e:
            raise ConfigError(str(e)) from e


def resolve(
    recipe: Recipe,
    file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    quick: bool = False,
) -> dict[str, Any]:
    """The recipe's config with the quick overrides, the file and the options applied."""
    defaults = recipe.default_config()
    config = dict(defaults)
    layers = [recipe.quick_overrides() if quick else {}]
    layers += [load_file(file) if file else {}, dict(overrides or {})]
    for layer in layers:
        for key, value in layer.items():
            if key not in defaults:
                valid = ", ".join(defaults)
                raise ConfigError(f"{recipe.name} has no setting {key!r}; valid: {valid}")
            config[key] = coerce(key, value, defaults[key])
    config["quick"] = bool(quick)
    validate(recipe, config)
    settle = getattr(recipe.module, "settle", None)  # the values as they will run
    return settle(config) if settle is not None else config


def parse_assignments(items: list[str]) -> dict[str, str]:
    """`["lr=0.1", "hidden=64"]` -> `{"lr": "0.1", "hidden": "64"}`."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out
