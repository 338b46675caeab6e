"""The shared `train` command for training recipes: run folder, Ctrl-C, resume, summary.

`train_recipe` builds the recipe's `Setup`, trains it with `deepgrad.train.Trainer`
and writes the run folder:

    config.json      the resolved config (and the recipe's name)
    metrics.jsonl    one JSON object per epoch       metrics.csv   the same as CSV
    checkpoint/last  a resumable checkpoint (every epoch, and on Ctrl-C)
    *.png            learning curves and the recipe's own plots
    summary.md       final metrics, time, parameter count, the doctor's verdict

Ctrl-C (SIGINT) sets a flag; training stops after the current batch, the
checkpoint is written and `Interrupted` is raised (the CLI exits 130).  A second
Ctrl-C stops at once (the last epoch's checkpoint is still valid).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.core.random import manual_seed
from deepgrad.train import CSVLogger, JSONLinesLogger, Trainer, evaluate
from deepgrad.train.callbacks import Callback
from deepgrad.train.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from deepgrad.train.doctor import Doctor

from . import Recipe
from . import get as get_recipe
from ._common import CHECKPOINT, RecipeError, Setup, loader, read_config, write_json


class Interrupted(Exception):
    """Training stopped by Ctrl-C after a checkpoint was written."""

    def __init__(self, message: str, run_dir: Path) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class _StopOnSignal(Callback):
    """Raise `_Stop` at the end of the batch during which SIGINT arrived."""

    def __init__(self) -> None:
        self.requested = False

    def on_batch_end(self, trainer: Any, step: int, logs: dict[str, Any]) -> None:
        if self.requested:
            raise _Stop


class _Stop(Exception):
    pass


class _ThrottledCheckpoint(Callback):
    """Let the trainer write `checkpoint/last` at most every `every_s` seconds (and at the end).

    The Trainer checkpoints after an epoch's callbacks when `checkpoint_dir` is set;
    this callback sets it only when a save is due, so a fast run is not dominated
    by fsyncs.  Ctrl-C always saves (see `train_recipe`).
    """

    order = 1000  # after every other epoch-end callback

    def __init__(self, dirpath: Path, every_s: float = 5.0) -> None:
        self.dirpath, self.every_s = dirpath, every_s
        self.last_save = time.monotonic()

    def on_epoch_end(self, trainer: Any, epoch: int, logs: dict[str, Any]) -> None:
        now = time.monotonic()
        final = epoch + 1 >= trainer.epochs or trainer.stop_training
        due = final or now - self.last_save >= self.every_s
        trainer.checkpoint_dir = self.dirpath if due else None
        if due:
            self.last_save = now


@contextlib.contextmanager
def _sigint_sets(stopper: _StopOnSignal) -> Iterator[None]:
    """First Ctrl-C: ask the loop to stop after this batch; second: KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stopper.requested:
            raise KeyboardInterrupt
        stopper.requested = True
        print("\nCtrl-C: stopping after this batch and saving a checkpoint...", file=sys.stderr)

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def check_writable(out_dir: Path) -> None:
    """Create `out_dir` or raise RecipeError saying why it cannot be written."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".deepgrad-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RecipeError(f"cannot write to --out {out_dir}: {e.strerror or e}") from e


def build(recipe: Recipe, config: dict[str, Any]) -> tuple[Setup, np.random.Generator]:
    """Seed everything from `config["seed"]` and build the recipe's Setup."""
    seed = int(config.get("seed", 0))
    manual_seed(seed)
    rng = np.random.default_rng(seed)
    return recipe.module.build(config, rng), rng


def loaders(setup: Setup, config: dict[str, Any], distributed: bool = False) -> tuple[Any, Any]:
    seed, bs = int(config.get("seed", 0)), int(config["batch_size"])
    if distributed:  # batch_size per rank; validation: the whole split on every rank
        from deepgrad.data import TensorDataset
        from deepgrad.distributed import DistributedDataLoader

        train = DistributedDataLoader(TensorDataset(*setup.train), bs, shuffle=True, seed=seed,
                                      transform=setup.transform)  # fmt: skip
    else:
        train = loader(setup.train, bs, seed, shuffle=True, transform=setup.transform)
    val = None if setup.val is None else loader(setup.val, max(bs, 256), seed, shuffle=False)
    return train, val


def _trainer(setup: Setup, config: dict[str, Any], out: Path, rng, verbose: int,
             distributed: bool = False):  # fmt: skip
    stopper = _StopOnSignal()
    doctor = Doctor(num_classes=setup.num_classes)
    callbacks = [JSONLinesLogger(out / "metrics.jsonl"), CSVLogger(out / "metrics.csv"), doctor,
                 stopper, _ThrottledCheckpoint(out / CHECKPOINT)]  # fmt: skip
    trainer = Trainer(
        setup.model, setup.loss_fn, setup.optimizer, callbacks=callbacks,
        metrics=list(setup.metrics), scheduler=setup.scheduler, checkpoint_dir=None,
        verbose=verbose, seed=int(config.get("seed", 0)), generator=rng, config=config,
        distributed=distributed,
    )  # fmt: skip
    return trainer, stopper, doctor


def train_recipe(
    recipe: Recipe, config: dict[str, Any], out_dir: str | Path, resume: bool = False,
    verbose: int = 1, distributed: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Train a training recipe into `out_dir` (continuing its checkpoint when `resume`).

    `distributed`: one of N MPI ranks (`deepgrad.distributed`); rank 0 writes the run
    folder, the others run the same loop and callbacks writing into a scratch folder."""
    if distributed:
        from deepgrad.recipes._distributed import scratch_unless_main

        out_dir = scratch_unless_main(out_dir)
    out = Path(out_dir)
    check_writable(out)
    config = {**config, "recipe": recipe.name}
    last = out / CHECKPOINT / "last"
    if resume and not last.exists():
        raise RecipeError(f"cannot resume {out}: it has no checkpoint ({last} is missing)")
    write_json(out / "config.json", config)
    setup, rng = build(recipe, config)
    train_loader, val_loader = loaders(setup, config, distributed)
    trainer, stopper, doctor = _trainer(setup, config, out, rng, verbose, distributed)
    start = time.perf_counter()
    try:
        with _sigint_sets(stopper):
            trainer.fit(train_loader, val_loader, int(config["epochs"]),
                        resume_from=last if resume else None)  # fmt: skip
    except _Stop:
        trainer.save_checkpoint(last)
        msg = (f"interrupted at epoch {trainer.epoch + 1}, step {trainer.global_step}; checkpoint"
               f" saved to {last}\nresume with: deepgrad train --resume {out}")  # fmt: skip
        raise Interrupted(msg, out) from None
    except CheckpointError as e:
        raise RecipeError(str(e)) from e
    wall = time.perf_counter() - start
    return finish(recipe, setup, config, trainer, doctor, out, wall)


def finish(recipe, setup, config, trainer, doctor, out: Path, wall: float) -> dict[str, Any]:
    """Plots and summary.md after training; returns the summary numbers."""
    records = trainer.history.to_records()
    files = []
    if plots.have_matplotlib() and records:
        files.append(plots.learning_curves(records, out / "learning_curves.png",
                                           f"{recipe.name}: learning curves"))  # fmt: skip
        after = getattr(recipe.module, "after_fit", None)
        if after is not None:
            files += list(after(setup, trainer.history, out) or [])
    summary = {
        "recipe": recipe.name,
        "epochs": len(records),
        "final": {k: v for k, v in (records[-1] if records else {}).items() if k != "epoch"},
        "train_time_s": float(sum(r.get("time", 0.0) for r in records)),
        "wall_time_s": wall,
        "parameters": int(setup.model.num_parameters()),
        "verdict": doctor.report.verdict if doctor.report else "n/a",
        "plots": [p.name for p in files],
    }
    write_summary(out, recipe, config, summary, doctor)
    return summary


def write_summary(out: Path, recipe: Recipe, config: dict, summary: dict, doctor: Doctor) -> None:
    """summary.md: what ran, the final metrics, time, size and the doctor's report."""
    final = summary["final"]
    lines = [f"# {recipe.name}", "", recipe.description, "", "## Result", ""]
    lines += ["| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4g} |" for k, v in final.items()
              if isinstance(v, float) and k not in ("lr", "time")]  # fmt: skip
    lines += [
        "", f"- epochs: {summary['epochs']}",
        f"- training time: {summary['train_time_s']:.1f} s (wall {summary['wall_time_s']:.1f} s)",
        f"- parameters: {summary['parameters']:,}",
        f"- the doctor's verdict: **{summary['verdict']}**", "",
        "## The doctor", "", doctor.report.to_markdown() if doctor.report else "(no report)", "",
        "## Config", "", "```json", _json(config), "```", "",
        "## Files", "", "config.json, metrics.jsonl, metrics.csv, checkpoint/last, "
        + ", ".join(summary["plots"]), "",
    ]  # fmt: skip
    from deepgrad.fileio import atomic_write

    atomic_write(out / "summary.md", "\n".join(lines))


def _json(obj: Any) -> str:
    import json

    return json.dumps(obj, indent=2)


def load_run(run_dir: str | Path, which: str = "last") -> tuple[Recipe, dict[str, Any], Setup]:
    """Rebuild a run's recipe from its config.json and load the checkpoint's weights."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    recipe = get_recipe(config["recipe"])
    if not recipe.trainable:
        raise RecipeError(f"{run_dir} is a {recipe.name!r} experiment run, not a trained model")
    path = run_dir / CHECKPOINT / which
    if not path.exists():
        raise RecipeError(f"{run_dir} has no checkpoint ({path} is missing)")
    setup, _ = build(recipe, config)
    try:
        load_checkpoint(resolve_checkpoint(path), setup.model)
    except CheckpointError as e:
        raise RecipeError(str(e)) from e
    setup.model.eval()
    return recipe, config, setup


def evaluate_run(run_dir: str | Path, split: str = "test") -> dict[str, float]:
    """Loss and metrics of a trained run on one split."""
    _, _, setup = load_run(run_dir)
    data = setup.split(split)
    return evaluate(setup.model, loader(data, 256, 0, shuffle=False), setup.loss_fn,
                    list(setup.metrics))  # fmt: skip


def predict_run(run_dir: str | Path, inputs: np.ndarray) -> np.ndarray:
    """The trained model's outputs (logits) for `inputs`."""
    from deepgrad.train import predict

    _, _, setup = load_run(run_dir)
    expected = setup.train[0].shape[1:]
    if tuple(inputs.shape[1:]) != tuple(expected):
        if tuple(inputs.shape) == tuple(expected):
            inputs = inputs[None]
        else:
            raise RecipeError(f"inputs of shape {inputs.shape} do not fit: expected (N, "
                              f"{', '.join(map(str, expected))})")  # fmt: skip
    return predict(setup.model, inputs.astype(setup.train[0].dtype))
