"""`fit`: the training loop, with callbacks, metrics, clipping, checkpoints and exact resume.

One epoch: `model.train()`, then for each batch zero_grad -> forward -> loss ->
backward -> clip -> optimizer step -> (scheduler step); then validation under
`model.eval()` and no_grad; then the epoch-end callbacks; then the checkpoint.

Resume is exact: a checkpoint stores the model, optimizer, scheduler, RNG
states, the loaders' seeds, every callback's state, the history, the epoch and
the number of batches already done in it.  The loader's batch order is a pure
function of (seed, epoch), so a run resumed mid-epoch skips the batches it has
seen and ends with weights bitwise equal to an uninterrupted run's.

`fit` never sees the test split: evaluate on it once, with `evaluate`, after
model selection is done.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.core.random import manual_seed
from deepgrad.core.tensor import Tensor

from .callback_list import CallbackList
from .callbacks import Callback, LRSchedulerCallback, ProgressBar
from .checkpoint_policy import CheckpointPolicy, resume_trainer
from .evaluate import MetricSpec, batch_size_of, evaluate, make_metrics, split_batch
from .history import History
from .metrics import Mean
from .probe import isolated


def clip_grad_value(parameters: Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into [-clip_value, clip_value], in place."""
    for p in parameters:
        if p.grad is not None:
            np.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)


def clip_grad_norm(parameters: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients by min(1, max_norm / ||g||_2) (Pascanu et al. 2013); return ||g||_2.

    Uses `deepgrad.nn.utils.clip_grad_norm_` when it exists.
    """
    params = [p for p in parameters if p.grad is not None]
    try:
        from deepgrad.nn.utils import clip_grad_norm_
    except ImportError:
        clip_grad_norm_ = None
    if clip_grad_norm_ is not None:
        return float(clip_grad_norm_(params, max_norm))
    total = math.sqrt(sum(float(np.sum(np.square(p.grad._data, dtype=np.float64))) for p in params))
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in params:
            p.grad._data *= np.asarray(scale, dtype=p.grad._data.dtype)
    return total


# The strategy `distributed=True` selects.  `deepgrad.distributed` (above this package,
# never imported here) registers its MPI strategy on import.
_DISTRIBUTED: list[Any] = []


def register_distributed(factory: Any) -> None:
    """Make `factory()` the strategy behind `Trainer(distributed=True)`.

    A strategy has `is_main`, `setup(trainer)`, `reduce_gradients(params)` and
    `reduce_record(record)` (see `deepgrad.distributed.strategy`).
    """
    _DISTRIBUTED[:] = [factory]


def _strategy(distributed: Any) -> Any:
    if distributed is False or distributed is None:
        return None
    if distributed is True:
        if not _DISTRIBUTED:
            raise RuntimeError(
                "fit: distributed=True needs deepgrad.distributed (import it; it needs the "
                "optional mpi extra: pip install 'deepgrad[mpi]')"
            )
        return _DISTRIBUTED[0]()
    return distributed


def _limited(n: int, limit: float | None) -> int:
    """`n` capped by `limit`: a count (int) or a fraction of `n` (float, at least one batch)."""
    if limit is None:
        return n
    if isinstance(limit, bool) or limit <= 0:
        raise ValueError(f"fit: limit_batches must be a positive int or fraction, got {limit!r}")
    return min(n, int(limit) if isinstance(limit, int) else max(1, int(n * limit)))


class Trainer:
    """Holds one training run's state; `fit()` runs it.  Callbacks see this object.

    Attributes callbacks may read: `model`, `optimizer`, `scheduler`, `epoch` (the running
    epoch; the next one once `on_epoch_end` is called),
    `global_step`, `history`, `epochs`.  Every stop goes through `stop_training` plus a
    `stop_reason` (callbacks set both; `request_stop` does it for the loop, max_steps and
    Ctrl-C), so `on_train_end` always runs.  One owner per concern: `checkpointing` (a
    `CheckpointPolicy`) writes every checkpoint, `callbacks` (a `CallbackList`) calls every
    hook, the seed is set once (in `fit`, not on resume), and probes run in `probe()`.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Any,
        optimizer: Any,
        *,
        callbacks: Sequence[Callback] = (),
        metrics: Sequence[MetricSpec] = ("loss",),
        scheduler: Any = None,
        scheduler_interval: str = "epoch",
        clip_grad_norm: float | None = None,
        clip_grad_value: float | None = None,
        max_steps: int | None = None,
        limit_batches: float | None = None,
        overfit_batches: int = 0,
        checkpoint_dir: str | os.PathLike | None = None,
        checkpoint_every_steps: int | None = None,
        verbose: int = 1,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        config: dict[str, Any] | None = None,
        checkpoint: CheckpointPolicy | None = None,
        distributed: Any = False,
    ) -> None:
        self.strategy = _strategy(distributed)
        if self.strategy is not None and not self.strategy.is_main:
            verbose = 0  # rank 0 prints progress
        self.model, self.loss_fn, self.optimizer, self.scheduler = (
            model,
            loss_fn,
            optimizer,
            scheduler,
        )
        self.metric_specs = list(metrics)
        self.clip_norm, self.clip_value = clip_grad_norm, clip_grad_value
        self.max_steps, self.limit_batches = max_steps, limit_batches
        self.overfit_batches = int(overfit_batches)
        if checkpoint is not None and checkpoint_dir is not None:
            raise ValueError("Trainer: pass checkpoint=CheckpointPolicy(...) or checkpoint_dir")
        self.checkpointing = checkpoint or CheckpointPolicy(
            checkpoint_dir, every_steps=checkpoint_every_steps
        )
        self.seed, self.generator, self.config = seed, generator, config
        self.user_callbacks = list(callbacks)
        self.callbacks = self._assemble(scheduler, scheduler_interval, verbose)
        self.history = History()
        self.epoch = self.global_step = self.batch_in_epoch = 0
        self.epochs = 0
        self.stop_training, self.resumed = False, False
        self.stop_reason: str | None = None
        self.stop_kind: str | None = None  # "final", "max_steps" or "interrupt"
        self.train_loader: Any = None
        self.val_loader: Any = None
        self._fixed_batches: list[Any] | None = None
        self._reset_epoch_metrics()

    # -- bookkeeping ------------------------------------------------------------------------
    def _assemble(self, scheduler: Any, interval: str, verbose: int) -> CallbackList:
        """The user's callbacks plus the scheduler and progress ones, stably sorted by order."""
        internal: list[Callback] = []
        if scheduler is not None:
            internal.append(LRSchedulerCallback(scheduler, interval, owns_state=False))
        if verbose and not any(isinstance(c, ProgressBar) for c in self.user_callbacks):
            internal.append(ProgressBar())
        return CallbackList([*internal, *self.user_callbacks])

    def request_stop(self, reason: str, kind: str = "final") -> None:
        """Stop after the current batch: `kind` "final" (early stopping, NaN), "max_steps" or
        "interrupt" (Ctrl-C; the epoch is left unfinished and resumes where it stopped)."""
        if kind not in ("final", "max_steps", "interrupt"):
            raise ValueError(
                f"Trainer.request_stop: kind must be 'final', 'max_steps' or 'interrupt', "
                f"got {kind!r}"
            )
        self.stop_training, self.stop_reason, self.stop_kind = True, reason, kind

    def probe(self) -> contextlib.AbstractContextManager[None]:
        """A context in which the doctor, the LR finder or any probe may use the live model:
        weights (in place), optimizer, scheduler, generators and loaders are restored on exit."""
        return isolated(
            self.model,
            self.optimizer,
            scheduler=self.scheduler,
            generators=[self.generator],
            loaders=[self.train_loader, self.val_loader],
        )

    def _reset_epoch_metrics(self) -> None:
        self.loss_mean = Mean("loss")
        self.train_metrics = make_metrics(self.metric_specs)
        self.epoch_time = 0.0

    def batches_per_epoch(self) -> int | None:
        """Training batches per epoch after `overfit_batches` and `limit_batches`."""
        if self.overfit_batches:
            return self.overfit_batches
        try:
            n = len(self.train_loader)
        except TypeError:
            return None
        return _limited(n, self.limit_batches)

    def current_lr(self) -> float | None:
        """The first parameter group's learning rate."""
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else None

    # -- checkpoints ----------------------------------------------------------------------
    def save_checkpoint(self, dirpath: str | os.PathLike) -> Path:
        """Write a resumable checkpoint of the run as it stands now (through the policy; rank 0
        only when distributed: every rank holds the same state)."""
        return self.checkpointing.save(self, dirpath)

    # -- the loop -------------------------------------------------------------------------
    def _train_batches(self, epoch: int, skip: int) -> Iterable[Any]:
        """Epoch `epoch`'s training batches, the first `skip` consumed and dropped."""
        if self.overfit_batches:
            if self._fixed_batches is None:
                if hasattr(self.train_loader, "set_epoch"):
                    self.train_loader.set_epoch(0)
                self._fixed_batches = list(
                    itertools.islice(self.train_loader, self.overfit_batches)
                )
            return self._fixed_batches[skip:]
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(epoch)
        return itertools.islice(self.train_loader, skip, self.batches_per_epoch())

    def _train_step(self, batch: Any) -> dict[str, float]:
        """One optimizer step on `batch`; returns the batch logs."""
        x, y = split_batch(batch)
        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.loss_fn(out) if y is None else self.loss_fn(out, y)
        loss.backward()
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        if self.strategy is not None:
            self.strategy.reduce_gradients(params)
        if self.clip_value is not None:
            clip_grad_value(params, self.clip_value)
        if self.clip_norm is not None:
            clip_grad_norm(params, self.clip_norm)
        self.optimizer.step()
        value = float(loss._data)
        self.loss_mean.update(value, batch_size_of(x))
        if self.train_metrics and y is not None:
            pred = out._data if isinstance(out, Tensor) else np.asarray(out)
            for metric in self.train_metrics:
                metric.update(pred, y._data)
        return {"loss": value}

    def _run_epoch(self, epoch: int) -> None:
        """Train one epoch (from `batch_in_epoch`), validate, call the epoch-end callbacks.

        An interrupt leaves the epoch unfinished (no record, no validation): the checkpoint
        written for it resumes at the next batch, as if nothing had happened.
        """
        self.epoch = epoch
        if self.batch_in_epoch == 0:
            self._reset_epoch_metrics()
        self.callbacks.on_epoch_begin(self, epoch)
        self.model.train()
        start = time.perf_counter()
        for batch in self._train_batches(epoch, self.batch_in_epoch):
            self.callbacks.on_batch_begin(self, self.global_step)
            logs = self._train_step(batch)
            self.global_step += 1
            self.batch_in_epoch += 1
            self.callbacks.on_batch_end(self, self.global_step, logs)
            if self._out_of_steps() and not self.stop_training:
                self.request_stop(f"max_steps={self.max_steps} reached", "max_steps")
            self.epoch_time += time.perf_counter() - start
            if self.stop_training:
                break
            self.checkpointing.after_batch(self)
            start = time.perf_counter()
        else:
            self.epoch_time += time.perf_counter() - start
        if self.stop_kind != "interrupt":
            self._end_epoch(epoch)

    def _end_epoch(self, epoch: int) -> None:
        """Validate, record the epoch, run callbacks, then let the policy checkpoint it."""
        record: dict[str, Any] = {"epoch": epoch, "loss": self.loss_mean.compute()}
        record.update({m.name: m.compute() for m in self.train_metrics})
        if self.val_loader is not None:
            if hasattr(self.val_loader, "set_epoch"):
                self.val_loader.set_epoch(epoch)
            limit = None
            if self.limit_batches is not None and hasattr(self.val_loader, "__len__"):
                limit = _limited(len(self.val_loader), self.limit_batches)
            val = evaluate(self.model, self.val_loader, self.loss_fn, self.metric_specs, limit)
            record.update({f"val_{k}": v for k, v in val.items()})
        record["lr"] = self.current_lr()
        record["time"] = self.epoch_time
        if self.strategy is not None:
            record = self.strategy.reduce_record(record)
        self.history.records.append(record)
        # NOTE: the epoch counts as done before its callbacks run, so a checkpoint written by
        # one (ModelCheckpoint) resumes at the next epoch instead of replaying this one.
        self.epoch, self.batch_in_epoch = epoch + 1, 0
        self.callbacks.on_epoch_end(self, epoch, record)
        if self.stop_training and self.stop_kind is None:  # a callback set only the flag
            self.stop_kind = "final"
            self.stop_reason = self.stop_reason or "stop_training set by a callback"
        self.checkpointing.after_epoch(self)

    def fit(
        self,
        train_loader: Iterable[Any],
        val_loader: Iterable[Any] | None = None,
        epochs: int = 1,
        resume_from: str | os.PathLike | None = None,
    ) -> History:
        """Train for `epochs` epochs (counted from 0, including resumed ones); return the history.

        The seed is set here, once per run (a resumed run restores generator states instead);
        whatever stops training, `on_train_end` runs after the policy's last checkpoint.
        """
        if epochs < 0:
            raise ValueError(f"fit: epochs must be >= 0, got {epochs}")
        self.train_loader, self.val_loader, self.epochs = train_loader, val_loader, int(epochs)
        if resume_from is not None:
            resume_trainer(self, resume_from)
        elif self.seed is not None:
            manual_seed(self.seed)
        if self.strategy is not None:
            self.strategy.setup(self)
        self.callbacks.on_train_begin(self)
        while self.epoch < self.epochs and not self.stop_training and not self._out_of_steps():
            self._run_epoch(self.epoch)
        self.checkpointing.at_end(self)
        self.callbacks.on_train_end(self)
        return self.history

    def _out_of_steps(self) -> bool:
        return self.max_steps is not None and self.global_step >= self.max_steps


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    epochs: int = 1,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[MetricSpec] = ("loss",),
    scheduler: Any = None,
    scheduler_interval: str = "epoch",
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
    max_steps: int | None = None,
    limit_batches: float | None = None,
    overfit_batches: int = 0,
    resume_from: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every_steps: int | None = None,
    verbose: int = 1,
    seed: int | None = None,
    generator: np.random.Generator | None = None,
    config: dict[str, Any] | None = None,
    checkpoint: CheckpointPolicy | None = None,
    distributed: Any = False,
) -> History:
    """Train `model` to minimise `loss_fn(model(x), y)` over `train_loader`; return a `History`.

    Each epoch's record holds `epoch`, `loss` and the `metrics` on the training
    batches (as the weights moved), the same prefixed `val_` on `val_loader`
    (eval mode, no_grad), `lr` and `time`.  `scheduler` steps per "epoch" or
    "step" (ReduceLROnPlateau gets `val_loss`, else `loss`).  `clip_grad_value`
    then `clip_grad_norm` clip before each step.  `max_steps` caps optimizer steps,
    `limit_batches` caps batches per epoch (an int, or a fraction of the loader),
    `overfit_batches=N` trains every epoch on the same first N batches (a
    memorisation check; validation still uses `val_loader`).  A stop by
    `max_steps` ends the epoch early and records it.  `checkpoint_dir` gets a resumable checkpoint `last`
    after each epoch (and every `checkpoint_every_steps` steps);
    `resume_from=<checkpoint or checkpoint_dir>` continues a run exactly.
    `checkpoint=CheckpointPolicy(dir, every_s=..., keep_last=...)` instead of
    `checkpoint_dir` chooses when checkpoints are written.
    `seed` reseeds deepgrad's default generator (not on resume, where RNG states
    are restored); `generator`, a run generator of your own, is checkpointed too.  The test split is never an argument: use `evaluate` on it once.
    `distributed=True` trains data-parallel over MPI ranks (`deepgrad.distributed`):
    gradients averaged every step, rank 0 logging and checkpointing.
    """
    trainer = Trainer(
        model, loss_fn, optimizer, callbacks=callbacks, metrics=metrics, scheduler=scheduler,
        scheduler_interval=scheduler_interval, clip_grad_norm=clip_grad_norm,
        clip_grad_value=clip_grad_value, max_steps=max_steps, limit_batches=limit_batches,
        overfit_batches=overfit_batches, checkpoint_dir=checkpoint_dir,
        checkpoint_every_steps=checkpoint_every_steps, verbose=verbose, seed=seed,
        generator=generator, config=config, checkpoint=checkpoint, distributed=distributed,
    )  # fmt: skip
    return trainer.fit(train_loader, val_loader, epochs, resume_from)
