"""Callbacks: code that `fit` runs at fixed points of training (the Keras design).

Hooks receive the `Trainer` (typed as such) through the trainer's `CallbackList`;
`on_epoch_end` and `on_batch_end` also get the logs (a flat dict of numbers).  A
callback stops training by setting `trainer.stop_training = True` and a
`trainer.stop_reason`; the loop then ends the epoch and `on_train_end` runs.  `state_dict()`/`load_state_dict()` let a
resumed run continue exactly where the checkpoint left it.  Callbacks run in
the order given, stably sorted by their `order` (ModelCheckpoint runs last, so
the checkpoint it writes already holds every other callback's epoch-end state).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepgrad.fileio import open_nofollow

from .history import is_better, resolve_mode
from .progress import Cadence, eta_text, is_tty

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    order: int = 0

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch (also on a resumed run, after states are restored)."""

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch, or when training stopped."""

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Before epoch `epoch`'s first batch."""

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After validation; `logs` is the epoch's record (training and `val_` metrics)."""

    def on_batch_begin(self, trainer: Trainer, step: int) -> None:
        """Before optimizer step `step` (counted over the whole run)."""

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        """After the optimizer step; `logs` holds the batch `loss`."""

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs (arrays allowed; no pickled objects)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict()`."""


def _monitored(logs: dict[str, Any], monitor: str, who: str) -> float:
    """`logs[monitor]` as a float, or a KeyError listing what was logged."""
    if monitor not in logs:
        raise KeyError(
            f"{who}: monitor {monitor!r} is not in the epoch logs {sorted(logs)} "
            "(val_ metrics need a val_loader)"
        )
    return float(logs[monitor])


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    Early stopping (Prechelt 1998): improvement means < best - min_delta for
    mode "min" (> best + min_delta for "max"); `baseline` is the value to beat
    first.  Training stops at the end of the epoch that makes `patience`
    consecutive epochs without improvement (patience=0: the first one).
    `restore_best_weights` loads the best epoch's weights when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        patience: int = 0,
        min_delta: float = 0.0,
        restore_best_weights: bool = False,
        baseline: float | None = None,
    ) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode = resolve_mode(monitor, mode)
        self.restore_best_weights, self.baseline = restore_best_weights, baseline
        self._reset()

    def _reset(self) -> None:
        self.wait, self.best, self.best_epoch, self.stopped_epoch = 0, self.baseline, None, None
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if not getattr(trainer, "resumed", False):
            self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if is_better(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = trainer.model.state_dict()
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            trainer.stop_training = True
            trainer.stop_reason = (
                f"EarlyStopping: {self.monitor} did not improve on {self.best} "
                f"(epoch {self.best_epoch}) for {self.wait} epochs"
            )

    def on_train_end(self, trainer: Trainer) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)

    def state_dict(self) -> dict[str, Any]:
        keys = ("wait", "best", "best_epoch", "stopped_epoch", "best_weights")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # only the keys state_dict() writes: a checkpoint cannot set any other attribute
        for key in ("wait", "best", "best_epoch", "stopped_epoch", "best_weights"):
            if key in state:
                setattr(self, key, state[key])


class ModelCheckpoint(Callback):
    """Save `dirpath/last` after every epoch and `dirpath/best` when `monitor` improves.

    Each save is a full, resumable checkpoint (`deepgrad.train.checkpoint`).
    """

    order = 100

    def __init__(
        self,
        dirpath: str | os.PathLike,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
    ) -> None:
        self.dirpath, self.monitor = Path(dirpath), monitor
        self.mode = resolve_mode(monitor, mode)
        self.save_best, self.save_last = save_best, save_last
        self.best: float | None = None
        self.best_epoch: int | None = None

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        improved = False
        if self.save_best:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            improved = is_better(current, self.best, self.mode)
            if improved:
                self.best, self.best_epoch = current, epoch
        if self.save_last:
            trainer.save_checkpoint(self.dirpath / "last")
        if improved:
            trainer.save_checkpoint(self.dirpath / "best")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]


class LRSchedulerCallback(Callback):
    """Step `scheduler` after every batch (`interval="step"`) or epoch; ReduceLROnPlateau
    gets `logs[monitor]` (Keras' LearningRateScheduler / ReduceLROnPlateau callbacks)."""

    order = -10

    def __init__(
        self, scheduler: Any, interval: str = "epoch", monitor: str = "val_loss", owns_state=True
    ) -> None:
        if interval not in ("epoch", "step"):
            raise ValueError(
                f"LRSchedulerCallback: interval must be 'epoch' or 'step', got {interval!r}"
            )
        self.scheduler, self.interval, self.monitor = scheduler, interval, monitor
        self.owns_state = owns_state
        self.on_plateau = type(scheduler).__name__ == "ReduceLROnPlateau"

    def _step(self, logs: dict[str, Any]) -> None:
        if self.on_plateau:
            monitor = self.monitor if self.monitor in logs else "loss"
            self.scheduler.step(_monitored(logs, monitor, "LRSchedulerCallback"))
        else:
            self.scheduler.step()

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        if self.interval == "step":
            self._step(logs)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self.interval == "epoch":
            self._step(logs)

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()} if self.owns_state else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.owns_state and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])


class _FileLogger(Callback, ABC):
    """Append one line per epoch, flushed and fsynced; a resumed run truncates the file to
    the length recorded in the checkpoint, so no line is duplicated or lost."""

    def __init__(self, path: str | os.PathLike, append: bool = False) -> None:
        self.path, self.append = Path(path), append
        self.offset: int | None = None
        self._resume_offset: int | None = None

    @abstractmethod
    def _line(self, logs: dict[str, Any]) -> str:
        """Implemented by subclasses."""

    def on_train_begin(self, trainer: Trainer) -> None:
        # NOTE: every open refuses a symbolic link (O_NOFOLLOW): a log planted as a link to
        # a file elsewhere must never be truncated or appended to
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if getattr(trainer, "resumed", False) and self._resume_offset is not None:
            fd = open_nofollow(self.path, os.O_WRONLY | os.O_CREAT)
            try:
                if os.fstat(fd).st_size > self._resume_offset:
                    os.ftruncate(fd, self._resume_offset)
            finally:
                os.close(fd)
            self.offset = self._resume_offset
        elif self.append and self.path.exists():
            self.offset = os.lstat(self.path).st_size
        else:
            os.close(open_nofollow(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
            self.offset = 0

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        fd = open_nofollow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "ab") as fh:
            fh.write(self._line(logs).encode())
            fh.flush()
            os.fsync(fh.fileno())
            self.offset = fh.tell()

    def state_dict(self) -> dict[str, Any]:
        return {"offset": self.offset}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._resume_offset = state.get("offset")


def _clean(value: Any) -> Any:
    """A JSON-safe number: NumPy scalars to Python, non-finite floats to None."""
    if isinstance(value, (np.generic, np.ndarray)):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class JSONLinesLogger(_FileLogger):
    """One JSON object per epoch (`metrics.jsonl`); NaN and inf are written as null."""

    def __init__(self, path: str | os.PathLike, append: bool = False, exclude=()) -> None:
        super().__init__(path, append)
        self.exclude = set(exclude)

    def _line(self, logs: dict[str, Any]) -> str:
        record = {k: _clean(v) for k, v in logs.items() if k not in self.exclude}
        return json.dumps(record) + "\n"


class CSVLogger(_FileLogger):
    """One CSV row per epoch; the header (the first epoch's keys) is written once."""

    def __init__(self, path: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__(path, append)
        self.separator = separator
        self.keys: list[str] | None = None

    def _line(self, logs: dict[str, Any]) -> str:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=self.separator, lineterminator="\n")
        if self.keys is None:
            self.keys = list(logs)
            if not self.offset:
                writer.writerow(self.keys)
        writer.writerow([_clean(logs.get(k, "")) for k in self.keys])
        return out.getvalue()

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "keys": self.keys}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.keys = state.get("keys")


class TerminateOnNaN(Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            trainer.stop_training = True
            trainer.stop_reason = f"TerminateOnNaN: loss {loss} at step {step}"


class _EpochTable:
    """Epoch lines as rows of a table under one header (repeated if the columns change):

    epoch          loss  accuracy  val_loss  val_accuracy        lr   time  epochs/s     ETA
    epoch 1/80    1.008    0.5083    0.8891        0.5833     0.005   0.0s      66.2      1s
    """

    def __init__(self) -> None:
        self.keys: list[str] | None = None

    def lines(
        self, epoch: int, epochs: int, logs: dict[str, Any], extra: dict[str, str]
    ) -> list[str]:
        keys = [
            k for k, v in logs.items() if k not in ("epoch", "time") and isinstance(v, (int, float))
        ]
        keys += ["time"] if "time" in logs else []
        cells = {k: f"{logs[k]:.1f}s" if k == "time" else f"{logs[k]:.4g}" for k in keys}
        cells.update(extra)
        names = list(cells)
        first = f"epoch {epochs}/{epochs}"
        widths = [max(len(n), 9) for n in names]
        row = f"{f'epoch {epoch + 1}/{epochs}':<{len(first)}}  " + "  ".join(
            f"{cells[n]:>{w}}" for n, w in zip(names, widths))  # fmt: skip
        out = []
        if names != self.keys:
            self.keys = names
            out.append(f"{'epoch':<{len(first)}}  " + "  ".join(
                f"{n:>{w}}" for n, w in zip(names, widths)))  # fmt: skip
        return [*out, row.rstrip()]


class ProgressBar(Callback):
    """Progress that suits where it goes.

    A compact table: at most about `lines` evenly spaced epoch rows under one header, plus
    one at least every `every_s` seconds, each with the epoch rate and the time left (ETA),
    and always the first and the last epoch, so a long run is neither silent nor 150
    lines.  On a terminal a tqdm bar also runs over each epoch's batches.
    """

    def __init__(self, stream: Any = None, lines: int = 12, every_s: float = 30.0) -> None:
        self.stream = stream
        self.lines, self.every_s = lines, every_s
        self._bar = None
        self._cadence: Cadence | None = None
        self._table = _EpochTable()

    def _tty(self) -> bool:
        return is_tty(self.stream)

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        if self._cadence is None:
            self._cadence = Cadence(trainer.epochs, self.lines, self.every_s)
            self._cadence.start(epoch)
        if self._tty():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            total = trainer.batches_per_epoch()
            self._bar = tqdm(total=total, desc=f"epoch {epoch + 1}/{trainer.epochs}", leave=False)

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4g}", refresh=False)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        cadence = self._cadence or Cadence(trainer.epochs, self.lines, self.every_s)
        cadence.total = trainer.epochs  # a resume may extend the run
        if not cadence.due(epoch):
            return
        rate, left = cadence.rate_and_eta(epoch)
        extra = {"epochs/s": f"{rate:.3g}", "ETA": eta_text(left)[4:]}
        for line in self._table.lines(epoch, trainer.epochs, logs, extra):
            print(line, file=self.stream or sys.stdout, flush=True)
