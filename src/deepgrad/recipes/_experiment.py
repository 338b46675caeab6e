"""Helpers for experiment recipes (comparisons): short training runs and the run folder.

An experiment writes `config.json`, `metrics.jsonl`/`metrics.csv` (one record per
setting and epoch, the setting named in `run`), its plots and `summary.md`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.data import spiral, train_val_test_split
from deepgrad.fileio import atomic_write
from deepgrad.train import Trainer
from deepgrad.train.progress import Stages

from ._common import loader, markdown_table, write_csv, write_json, write_jsonl
from ._runner import check_writable


def spiral_splits(n_per_class: int, noise: float, seed: int, val: float = 0.3):
    """Standardised spiral data split into (train, val)."""
    X, y = spiral(n_per_class, 3, noise, seed=seed)
    X = X / X.std(axis=0)
    train, valid, _ = train_val_test_split(X, y, (1 - val, val, 0.0), stratify=True, seed=seed)
    return train, valid


def fit_quietly(
    model: Any, loss_fn: Any, optimizer: Any, train: tuple, val: tuple | None, epochs: int,
    batch_size: int, seed: int, scheduler: Any = None, interval: str = "epoch",
    callbacks: Sequence[Any] = (), transform: Any = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train with the shared Trainer (no output); the per-epoch records."""
    trainer = Trainer(model, loss_fn, optimizer, callbacks=list(callbacks),
                      metrics=["loss", "accuracy"], scheduler=scheduler,
                      scheduler_interval=interval, verbose=0, seed=seed)  # fmt: skip
    train_loader = loader(train, batch_size, seed, shuffle=True, transform=transform)
    val_loader = None if val is None else loader(val, 512, seed, shuffle=False)
    return trainer.fit(train_loader, val_loader, epochs=epochs).to_records()


def tag(records: list[dict[str, Any]], **labels: Any) -> list[dict[str, Any]]:
    """Each record with the labels (e.g. run="adam") first."""
    return [{**labels, **r} for r in records]


class Experiment:
    """Collects an experiment's records, plots and Markdown, then writes the run folder."""

    def __init__(self, name: str, description: str, config: dict[str, Any], out: Path) -> None:
        self.name, self.description, self.config, self.out = name, description, config, Path(out)
        check_writable(self.out)
        write_json(self.out / "config.json", {**config, "recipe": name})
        self.records: list[dict[str, Any]] = []
        self.plots: list[Path] = []
        self.sections: list[str] = []
        self.start = time.perf_counter()

    def arms(self, total: int) -> Stages:
        """The experiment's `total` arms (settings compared), each announced when it starts
        and when it ends with its result and the ETA of the rest (`Stages`)."""
        return Stages(total, self.name)

    def table(self, title: str, rows: list[dict[str, Any]], note: str = "") -> None:
        """Add a Markdown section with a table (and a sentence of interpretation)."""
        self.sections += [f"## {title}", "", markdown_table(rows), ""]
        if note:
            self.sections += [note, ""]

    def finish(self) -> dict[str, Any]:
        """Write metrics, summary.md; return what the CLI prints."""
        write_jsonl(self.out / "metrics.jsonl", self.records)
        write_csv(self.out / "metrics.csv", self.records)
        wall = time.perf_counter() - self.start
        lines = [f"# {self.name}", "", self.description, ""] + self.sections
        lines += [f"- wall time: {wall:.1f} s", "", "## Plots", ""]
        lines += [f"![{p.stem}]({p.name})" for p in self.plots]
        lines += ["", "## Config", "", "```json", json.dumps(self.config, indent=2), "```", ""]
        atomic_write(self.out / "summary.md", "\n".join(lines))
        return {"recipe": self.name, "wall_time_s": wall, "plots": [p.name for p in self.plots]}


def last(records: list[dict[str, Any]], key: str) -> float:
    """The last finite value of `key` in the records (nan if none)."""
    values = [r.get(key) for r in records if r.get(key) is not None]
    values = [v for v in values if np.isfinite(v)]
    return float(values[-1]) if values else float("nan")
