"""`CheckpointPolicy`: the one writer of a run's checkpoints, and what a checkpoint of a run holds.

The policy decides when `dirpath/last` is written (every `every_steps` optimizer
steps, every `every_s` seconds, after each epoch when no time interval is set,
on an interrupt, and once at the end), and how many snapshots stay on disk
(`keep_last`).  Nothing else in the loop calls `save_checkpoint`: the runner's
Ctrl-C path and `ModelCheckpoint` ask the policy to write.

A run checkpoint holds the model, optimizer and scheduler, every generator's
state, the loaders' seeds and epochs, every user callback's state, the history,
and the loop's own counters (epoch, step, batches done in the epoch, the
partial epoch's metric sums, why and how it stopped).  `resume_trainer` puts all
of it back, after `load_checkpoint` verified the files and the state checks in
`checkpoint_state` passed, so a refused resume changes nothing.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import (
    CheckpointError,
    capture_rng,
    load_checkpoint,
    resolve_checkpoint,
    restore_rng,
)
from .checkpoint import save_checkpoint as _save_checkpoint
from .checkpoint_state import check_trainer_state

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer


def _positive(name: str, value: Any, kinds: tuple[type, ...], what: str) -> Any:
    if value is None:
        return None
    ok = isinstance(value, kinds) and not isinstance(value, bool) and value > 0
    if not ok or (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"CheckpointPolicy: {name} must be a positive {what} or None, "
                         f"got {value!r}")  # fmt: skip
    return value


class CheckpointPolicy:
    """When and where a run's checkpoints are written; the only object that writes them.

    `dirpath/last` is written every `every_steps` optimizer steps, at a batch or epoch
    end once `every_s` seconds have passed since the last write, after every epoch
    when `every_s` is None, when training is interrupted (`on_interrupt`), and at the
    end of training.  `keep_last` snapshots stay on disk (the newest is `last`).
    `dirpath=None` writes nothing.
    """

    def __init__(
        self,
        dirpath: str | os.PathLike | None,
        *,
        every_s: float | None = None,
        every_steps: int | None = None,
        on_interrupt: bool = True,
        keep_last: int = 1,
    ) -> None:
        self.dirpath = None if dirpath is None else Path(dirpath)
        self.every_s = _positive("every_s", every_s, (int, float), "number of seconds")
        self.every_steps = _positive("every_steps", every_steps, (int,), "int")
        self.on_interrupt = bool(on_interrupt)
        self.keep_last = _positive("keep_last", keep_last, (int,), "int")
        if self.keep_last is None:
            raise ValueError("CheckpointPolicy: keep_last must be a positive int, got None")
        self._last_time = time.monotonic()
        self._last_step: int | None = None

    # -- the loop asks -------------------------------------------------------------------
    def _due_by_time(self) -> bool:
        return self.every_s is not None and time.monotonic() - self._last_time >= self.every_s

    def _due_by_steps(self, trainer: Trainer) -> bool:
        return self.every_steps is not None and trainer.global_step % self.every_steps == 0

    def after_batch(self, trainer: Trainer) -> None:
        """Write when `every_steps` divides the step count or `every_s` has passed (an epoch's
        last batch leaves it to `after_epoch`, so one state is never written twice)."""
        if self.dirpath is None or trainer.batch_in_epoch == trainer.batches_per_epoch():
            return
        if self._due_by_steps(trainer) or self._due_by_time():
            self.save(trainer)

    def after_epoch(self, trainer: Trainer) -> None:
        """Write after an epoch (every epoch without `every_s`; else once it is due)."""
        due = self.every_s is None or self._due_by_time() or self._due_by_steps(trainer)
        if self.dirpath is not None and due:
            self.save(trainer)

    def at_end(self, trainer: Trainer) -> None:
        """Write once training stops (interrupts only with `on_interrupt`), unless just written."""
        if self.dirpath is None or self._last_step == trainer.global_step:
            return
        if trainer.stop_kind == "interrupt" and not self.on_interrupt:
            return
        self.save(trainer)

    # -- writing -------------------------------------------------------------------------
    def save(self, trainer: Trainer, path: str | os.PathLike | None = None) -> Path:
        """Write a resumable checkpoint of `trainer` at `path` (default `dirpath/last`).

        In a distributed run only rank 0 writes (every rank holds the same state)."""
        strategy = getattr(trainer, "strategy", None)
        if strategy is not None and not strategy.is_main:
            return Path(path if path is not None else self.dirpath or ".")
        if path is None:
            if self.dirpath is None:
                raise ValueError("CheckpointPolicy.save: no dirpath and no path given")
            path = self.dirpath / "last"
        snapshot = write_trainer_checkpoint(trainer, path, self.keep_last)
        self._last_time, self._last_step = time.monotonic(), trainer.global_step
        return snapshot


def write_trainer_checkpoint(trainer: Trainer, path: str | os.PathLike, keep: int = 1) -> Path:
    """Everything `resume_trainer` needs, written atomically at `path`."""
    loop = {
        "batch_in_epoch": trainer.batch_in_epoch,
        "stop_training": trainer.stop_training,
        "stop_reason": trainer.stop_reason,
        "stop_kind": trainer.stop_kind,
        "loss_mean": trainer.loss_mean.state_dict(),
        "metrics": [m.state_dict() for m in trainer.train_metrics],
        "epoch_time": trainer.epoch_time,
    }
    callbacks = [
        {"class": type(c).__name__, "state": c.state_dict()} for c in trainer.user_callbacks
    ]
    loaders = {
        name: loader.state_dict()
        for name, loader in (("train", trainer.train_loader), ("val", trainer.val_loader))
        if hasattr(loader, "state_dict")
    }
    return _save_checkpoint(
        path, trainer.model, trainer.optimizer, trainer.scheduler,
        epoch=trainer.epoch, step=trainer.global_step, config=trainer.config,
        rng=capture_rng(trainer.generator), loader_state=loaders, callbacks_state=callbacks,
        history=trainer.history.to_records(), extra={"trainer": loop}, keep=keep,
    )  # fmt: skip


def resume_trainer(trainer: Trainer, path: str | os.PathLike) -> None:
    """Verify the checkpoint at `path` and every state in it, then restore `trainer` from it.

    Raises `CheckpointError` (nothing restored) when a file fails its digest, the
    weights do not fit the model, or a state is of the wrong type or out of range.
    """
    from .checkpoint import read_checkpoint

    ckpt = read_checkpoint(resolve_checkpoint(path))
    check_trainer_state(ckpt, trainer)  # everything checked before anything is changed
    load_checkpoint(ckpt.path, trainer.model, trainer.optimizer, trainer.scheduler)
    restore_rng(ckpt.rng, trainer.generator)
    for name, loader in (("train", trainer.train_loader), ("val", trainer.val_loader)):
        state = (ckpt.loader_state or {}).get(name)
        if state is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(state)
    for callback, entry in zip(trainer.user_callbacks, ckpt.callbacks_state or []):
        try:
            callback.load_state_dict(entry["state"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            name = type(callback).__name__
            raise CheckpointError(f"checkpoint {ckpt.path}: callback {name}'s state is "
                                  f"invalid ({type(exc).__name__}: {exc})") from exc  # fmt: skip
    trainer.history.load_state_dict({"records": ckpt.history or []})
    loop = (ckpt.extra or {}).get("trainer", {})
    trainer.epoch, trainer.global_step = ckpt.epoch, ckpt.step
    trainer.batch_in_epoch = int(loop.get("batch_in_epoch", 0))
    trainer.stop_reason = loop.get("stop_reason")
    trainer.stop_kind = loop.get("stop_kind")
    # NOTE: a stop by max_steps or by an interrupt is re-decided by this call; a callback's
    # stop (early stopping, NaN) is final, as it would have been in the uninterrupted run.
    final = trainer.stop_kind not in ("max_steps", "interrupt")
    trainer.stop_training = bool(loop.get("stop_training", False)) and final
    if not trainer.stop_training:
        trainer.stop_reason = trainer.stop_kind = None
    trainer.loss_mean.load_state_dict(loop.get("loss_mean", {}))
    for metric, state in zip(trainer.train_metrics, loop.get("metrics", [])):
        metric.load_state_dict(state)
    trainer.epoch_time = float(loop.get("epoch_time", 0.0))
    trainer.resumed = True
