"""What recipes share: the `Setup` a training recipe builds, optimizers by name, run-folder I/O.

A run folder holds `config.json` (the resolved config, with the recipe's name), so a
run can be rebuilt from it alone: `load_run(run_dir)` builds the recipe's model from
that config and loads the checkpoint's weights into it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.fileio import atomic_write, read_nofollow

MAX_CONFIG_BYTES = 1 << 20  # a config is a few hundred bytes; never read a huge one
CHECKPOINT = "checkpoint"  # run_dir / CHECKPOINT / "last" (and "best")

# name -> (class, extra keyword arguments); the learning rate comes from the config.
OPTIMIZERS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "sgd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (optim.Adagrad, {}),
    "rmsprop": (optim.RMSprop, {}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
}


class RecipeError(ValueError):
    """A recipe cannot run with this config or data (the CLI prints it and exits 2)."""


@dataclass
class Setup:
    """Everything a training recipe builds: the shared runner does the rest.

    Data are arrays `(X, y)`; `val` and `test` may be None.  `plots_2d` marks 2-D
    inputs whose decision regions can be drawn.  `inputs` (an `InputSpec`) says what raw
    inputs `predict` takes and applies the recipe's preprocessing to them.
    """

    model: Any
    loss_fn: Callable[[Any, Any], Any]
    optimizer: Any
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray] | None = None
    test: tuple[np.ndarray, np.ndarray] | None = None
    num_classes: int | None = None
    scheduler: Any = None
    metrics: Sequence[str] = ("loss", "accuracy")
    transform: Callable | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    inputs: Any = None  # an `_inputs.InputSpec`: raw inputs for `predict` and their preparation

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The `train`, `val` or `test` arrays, or a RecipeError naming the ones there are."""
        data = {"train": self.train, "val": self.val, "test": self.test}.get(name)
        if data is None:
            have = [k for k in ("train", "val", "test") if getattr(self, k) is not None]
            raise RecipeError(f"this recipe has no {name!r} split (it has: {', '.join(have)})")
        return data


def make_optimizer(name: str, params: Any, lr: float, weight_decay: float = 0.0) -> Any:
    """An optimizer by its short name (see `OPTIMIZERS`)."""
    if name not in OPTIMIZERS:
        raise RecipeError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    cls, kwargs = OPTIMIZERS[name]
    if weight_decay:
        kwargs = {**kwargs, "weight_decay": weight_decay}
    return cls(params, lr=lr, **kwargs)


def loader(data: tuple[np.ndarray, np.ndarray], batch_size: int, seed: int, shuffle: bool,
           transform: Callable | None = None) -> DataLoader:  # fmt: skip
    """A seeded loader over `(X, y)` arrays."""
    return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle, seed=seed,
                      transform=transform)  # fmt: skip


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Pretty JSON, written atomically."""
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_jsonl(path: str | os.PathLike, records: Sequence[dict[str, Any]]) -> None:
    """One JSON object per line, written atomically."""
    text = "".join(json.dumps(r, default=_json_default) + "\n" for r in records)
    atomic_write(path, text)


def write_csv(path: str | os.PathLike, records: Sequence[dict[str, Any]]) -> None:
    """Records as CSV (the union of their keys as header), written atomically."""
    import csv
    import io

    keys: list[str] = []
    for r in records:
        keys += [k for k in r if k not in keys]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    atomic_write(path, out.getvalue())


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The `config.json` of a run folder (RecipeError when it is not one)."""
    path = Path(run_dir) / "config.json"
    if os.path.islink(run_dir) or os.path.islink(path):
        raise RecipeError(f"{path}: a symbolic link in a run folder; deepgrad does not follow it")
    if not path.is_file():
        raise RecipeError(f"{run_dir} is not a run folder (no config.json)")
    try:
        config = json.loads(read_nofollow(path, MAX_CONFIG_BYTES))
    except OSError as e:
        raise RecipeError(f"cannot read {path}: {e.strerror or e}") from e
    except (ValueError, UnicodeDecodeError) as e:
        raise RecipeError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict) or "recipe" not in config:
        raise RecipeError(f"{path} does not name its recipe")
    return config


def markdown_table(rows: Sequence[dict[str, Any]], floatfmt: str = ".4g") -> str:
    """A Markdown table of records (keys of the first row as columns)."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        cells = [format(v, floatfmt) if isinstance(v, float) else str(v) for v in r.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(rows: Sequence[dict[str, Any]], floatfmt: str = ".4g") -> str:
    """A plain aligned table of records for the terminal."""
    if not rows:
        return "(empty)"
    keys = list(rows[0])
    cells = [[format(v, floatfmt) if isinstance(v, float) else str(v) for v in r.values()]
             for r in rows]  # fmt: skip
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    head = "  ".join(k.ljust(w) for k, w in zip(keys, widths))
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join([head, "  ".join("-" * w for w in widths), *body])
