"""`History`: what `fit` returns, one record (a flat dict) per epoch.

Each record holds `epoch`, the training metrics (`loss`, `accuracy`, ...), the
validation metrics prefixed with `val_`, the learning rate `lr` and the wall
time `time` in seconds.  `history.history` is the Keras view, a dict of lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

MODES = ("min", "max", "auto")


def resolve_mode(monitor: str, mode: str) -> str:
    """`min` or `max` for `monitor`; `auto` picks max for accuracy-like names, else min."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    higher = ("acc", "precision", "recall", "f1", "r2", "auc", "score")
    return "max" if any(word in monitor.lower() for word in higher) else "min"


def is_better(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `value` improves on `best` by more than `min_delta` (NaN never improves)."""
    if value is None or math.isnan(value):
        return False
    if best is None:
        return True
    if mode == "min":
        return value < best - abs(min_delta)
    return value > best + abs(min_delta)


class History:
    """Per-epoch records of a `fit` run.

    >>> h = History()
    >>> h.append({"epoch": 0, "loss": 1.0, "val_loss": 0.9})
    >>> h.append({"epoch": 1, "loss": 0.5, "val_loss": 0.95})
    >>> h.history["val_loss"], h.best("val_loss")["epoch"]
    ([0.9, 0.95], 0)
    """

    def __init__(self, records: list[dict[str, Any]] | None = None) -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records or []]

    def append(self, record: dict[str, Any]) -> None:
        """Add one epoch's record."""
        self.records.append(dict(record))

    @property
    def history(self) -> dict[str, list[Any]]:
        """Keras' view: `{"loss": [...], "val_loss": [...], ...}` (None where an epoch lacks it)."""
        keys: list[str] = []
        for record in self.records:
            keys += [k for k in record if k not in keys]
        return {k: [r.get(k) for r in self.records] for k in keys}

    @property
    def epochs(self) -> list[int]:
        """The epoch number of every record."""
        return [r["epoch"] for r in self.records]

    def to_records(self) -> list[dict[str, Any]]:
        """A copy of the records, one dict per epoch."""
        return [dict(r) for r in self.records]

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> dict[str, Any]:
        """The record with the best `monitor` (first one on ties); KeyError when never logged."""
        mode = resolve_mode(monitor, mode)
        best: dict[str, Any] | None = None
        for record in self.records:
            value = record.get(monitor)
            if value is not None and is_better(
                value, None if best is None else best[monitor], mode
            ):
                best = record
        if best is None:
            logged = sorted({k for r in self.records for k in r})
            raise KeyError(f"History.best: {monitor!r} was never logged; logged: {logged}")
        return dict(best)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.records[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records)

    def state_dict(self) -> dict[str, Any]:
        """`{"records": [...]}`, JSON-safe."""
        return {"records": self.to_records()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore records saved by `state_dict`."""
        self.records = [dict(r) for r in state["records"]]

    def __repr__(self) -> str:
        last = self.records[-1] if self.records else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
        return f"History({len(self)} epochs; last: {shown})"
