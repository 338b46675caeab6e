"""The shared `train` command for training recipes: run folder, Ctrl-C, resume, summary.

`train_recipe` builds the recipe's `Setup`, trains it with `deepgrad.train.Trainer`
and writes the run folder:

    config.json      the resolved config (and the recipe's name)
    metrics.jsonl    one JSON object per epoch       metrics.csv   the same as CSV
    checkpoint/last  a resumable checkpoint (every epoch, and on Ctrl-C)
    *.png            learning curves and the recipe's own plots
    summary.md       final metrics, time, parameter count, the doctor's verdict

Ctrl-C (SIGINT) calls `trainer.request_stop(..., "interrupt")`: training stops
after the current batch, the trainer's `CheckpointPolicy` writes the unfinished
epoch, `on_train_end` runs, and `Interrupted` is raised (the CLI exits 130).  A
second Ctrl-C stops at once (the previous checkpoint is still valid).
"""

from __future__ import annotations

import contextlib
import os
import secrets
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
from deepgrad.fileio import NOFOLLOW
from deepgrad.train import CSVLogger, JSONLinesLogger, Trainer, evaluate
from deepgrad.train.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint
from deepgrad.train.checkpoint_policy import CheckpointPolicy
from deepgrad.train.doctor import Doctor

from . import Recipe
from . import get as get_recipe
from ._common import CHECKPOINT, RecipeError, Setup, loader, read_config, write_json


class Interrupted(Exception):
    """Training stopped by Ctrl-C after a checkpoint was written."""

    def __init__(self, message: str, run_dir: Path) -> None:
        super().__init__(message)
        self.run_dir = run_dir


class AlreadyTrained(Exception):
    """`--resume` of a run that has trained all its epochs: nothing to do (the CLI says how
    to train further and exits 0)."""


@contextlib.contextmanager
def _sigint_stops(trainer: Trainer) -> Iterator[None]:
    """First Ctrl-C: `trainer.request_stop(..., "interrupt")`, so the loop stops after this
    batch, the checkpoint policy writes the unfinished epoch and `on_train_end` runs; a
    second Ctrl-C raises KeyboardInterrupt at once (the previous checkpoint stays valid)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if trainer.stop_kind == "interrupt":
            raise KeyboardInterrupt
        trainer.request_stop("interrupted by Ctrl-C (SIGINT)", "interrupt")
        print("\nCtrl-C: stopping after this batch and saving a checkpoint...", file=sys.stderr)

    old = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def refuse_links(out_dir: Path) -> None:
    """Refuse a run folder holding a symbolic link deepgrad did not make: a planted link
    (metrics.jsonl -> ~/.bashrc, a plot -> elsewhere) would be read or written through.
    Checkpoint links must name their own hidden snapshot (`checkpoint/last` -> `.last.ckpt-*`)."""
    from deepgrad.train.checkpoint import _own_link

    if not out_dir.is_dir():
        return
    for entry in out_dir.iterdir():
        if entry.is_symlink():
            raise RecipeError(f"run folder {out_dir}: {entry.name} is a symbolic link; deepgrad "
                              "never follows links in run folders (remove it)")  # fmt: skip
    ckpt = out_dir / CHECKPOINT
    if ckpt.is_dir():
        for entry in ckpt.iterdir():
            if entry.is_symlink():
                try:
                    _own_link(entry)
                except CheckpointError as e:
                    raise RecipeError(str(e)) from None


def check_writable(out_dir: Path) -> None:
    """Create `out_dir` or raise RecipeError saying why it cannot be written.

    A run folder that is a symbolic link is refused; the write probe is created with
    O_CREAT | O_EXCL | O_NOFOLLOW under a random name, so it is never written through a link.
    """
    if out_dir.is_symlink():
        raise RecipeError(f"--out {out_dir} is a symbolic link; deepgrad does not follow links "
                          "in run folders (pass the real folder)")  # fmt: skip
    refuse_links(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".deepgrad-write-test-{secrets.token_hex(6)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise RecipeError(f"cannot write to --out {out_dir}: {e.strerror or e}") from e


def check_out_folder(out: Path, force: bool = False) -> None:
    """Refuse `--out` when it exists and is not a deepgrad run (nor empty) unless `force`:
    a run overwrites config.json, metrics and plots, so a folder of other files is not one."""
    if os.path.islink(out):
        raise RecipeError(f"--out {out} is a symbolic link; pass the real folder")
    if not os.path.lexists(out):
        return
    if not out.is_dir():
        raise RecipeError(f"--out {out} exists and is not a folder")
    refuse_links(out)
    if force or not any(out.iterdir()):
        return
    try:
        read_config(out)
    except RecipeError:
        raise RecipeError(
            f"--out {out} is a folder that is not a deepgrad run (no valid "
            "config.json); pass --force to write into it anyway"
        ) from None


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
             every_s: float, distributed: bool = False) -> tuple[Trainer, Doctor]:  # fmt: skip
    doctor = Doctor(num_classes=setup.num_classes)
    callbacks = [JSONLinesLogger(out / "metrics.jsonl"), CSVLogger(out / "metrics.csv"), doctor]
    policy = CheckpointPolicy(out / CHECKPOINT, every_s=every_s, on_interrupt=True)
    # NOTE: seed=None: `build` seeded the run once, before the model was initialised
    trainer = Trainer(
        setup.model, setup.loss_fn, setup.optimizer, callbacks=callbacks,
        metrics=list(setup.metrics), scheduler=setup.scheduler, checkpoint=policy,
        verbose=verbose, seed=None, generator=rng, config=config, distributed=distributed,
    )  # fmt: skip
    return trainer, doctor


def _check_resume(trainer: Trainer, last: Path, epochs: int) -> None:
    """Verify the checkpoint and every state in it against this run before anything is
    written; refuse a resume to fewer epochs than the run has already trained."""
    from deepgrad.train.checkpoint import read_checkpoint
    from deepgrad.train.checkpoint_state import check_trainer_state

    ckpt = read_checkpoint(resolve_checkpoint(last))
    check_trainer_state(ckpt, trainer)
    saved = {k: v for k, v in (ckpt.config or {}).items() if k != "epochs"}
    if saved != {k: v for k, v in (trainer.config or {}).items() if k != "epochs"}:
        raise RecipeError(f"cannot resume {last.parent.parent}: config.json differs from the "
                          "config its checkpoint was trained with")  # fmt: skip
    if ckpt.epoch > epochs:
        raise RecipeError(f"cannot resume to --epochs {epochs}: {last.parent.parent} has already "
                          f"trained {ckpt.epoch} epochs (pass --epochs >= {ckpt.epoch})")  # fmt: skip
    if ckpt.epoch == epochs and not (ckpt.extra or {}).get("trainer", {}).get("batch_in_epoch"):
        run = last.parent.parent
        raise AlreadyTrained(f"{run} has already trained all its {epochs} epochs: nothing to do. "
                             f"To train further: deepgrad train --resume {run} --epochs "
                             f"{epochs * 2}")  # fmt: skip


def train_recipe(
    recipe: Recipe, config: dict[str, Any], out_dir: str | Path, resume: bool = False,
    verbose: int = 1, every_s: float = 5.0, distributed: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Train a training recipe into `out_dir` (continuing its checkpoint when `resume`).

    `every_s`: seconds between periodic checkpoints (one is also written at the end and on
    Ctrl-C).  On resume every file and state is verified before anything in the folder
    changes, so a refused resume leaves the folder byte-identical.  `distributed`: one of N
    MPI ranks (`deepgrad.distributed`); rank 0 writes the run folder, the others run the
    same loop and callbacks writing into a scratch folder.
    """
    if distributed:
        from deepgrad.recipes._distributed import scratch_unless_main

        out_dir = scratch_unless_main(out_dir)
    out = Path(out_dir)
    check_writable(out)
    config = {**config, "recipe": recipe.name}
    last = out / CHECKPOINT / "last"
    if resume and not os.path.lexists(last):
        raise RecipeError(f"cannot resume {out}: it has no checkpoint ({last} is missing)")
    setup, rng = build(recipe, config)
    train_loader, val_loader = loaders(setup, config, distributed)
    trainer, doctor = _trainer(setup, config, out, rng, verbose, every_s, distributed)
    trainer.train_loader, trainer.val_loader = train_loader, val_loader
    try:
        if resume:
            _check_resume(trainer, last, int(config["epochs"]))
        write_json(out / "config.json", config)
        start = time.perf_counter()
        with _sigint_stops(trainer):
            trainer.fit(train_loader, val_loader, int(config["epochs"]),
                        resume_from=last if resume else None)  # fmt: skip
    except CheckpointError as e:
        raise RecipeError(str(e)) from e
    if trainer.stop_kind == "interrupt":
        msg = (f"interrupted at epoch {trainer.epoch + 1}, step {trainer.global_step}; checkpoint"
               f" saved to {last}\nresume with: deepgrad train --resume {out}")  # fmt: skip
        raise Interrupted(msg, out)
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
        "verdict_note": _verdict_note(doctor),
        "plots": [p.name for p in files],
    }
    write_summary(out, recipe, config, summary, doctor)
    return summary


def _verdict_note(doctor: Doctor) -> str:
    """What the learning-curve verdict saw, and what to try when it warns."""
    curves = doctor.report.get("learning curves") if doctor.report else None
    if curves is None or curves.status == "skip":
        return ""
    fix = f"; try: {curves.fix}" if curves.fix and curves.status != "ok" else ""
    return curves.message + fix


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
    if not os.path.lexists(path):
        raise RecipeError(f"{run_dir} has no checkpoint ({path} is missing)")
    from deepgrad.train.checkpoint import read_checkpoint
    from deepgrad.train.checkpoint_state import check_weights

    refuse_links(run_dir)
    setup, _ = build(recipe, config)
    try:
        check_weights(read_checkpoint(path), setup.model)  # names, shapes and dtypes first
        load_checkpoint(resolve_checkpoint(path), setup.model)
    except CheckpointError as e:
        raise RecipeError(str(e)) from e
    setup.model.eval()
    return recipe, config, setup


def evaluate_run(
    run_dir: str | Path, split: str | None = None
) -> tuple[str, int, dict[str, float]]:
    """Loss and metrics of a trained run on one split: (split, number of examples, results).

    With no split, the held-out one the recipe has: test, else val, else train."""
    _, _, setup = load_run(run_dir)
    if split is None:
        split = next(s for s in ("test", "val", "train") if getattr(setup, s) is not None)
    data = setup.split(split)
    results = evaluate(setup.model, loader(data, 256, 0, shuffle=False), setup.loss_fn,
                       list(setup.metrics))  # fmt: skip
    return split, len(data[1]), results


def predict_run(run_dir: str | Path, inputs: np.ndarray) -> np.ndarray:
    """The trained model's outputs (logits) for raw `inputs`: the recipe's preprocessing
    (its `Setup.inputs`, e.g. the spiral's std scaling, MNIST's pixel standardisation) is
    applied first, so inputs are given as a user has them (see `deepgrad predict --help`)."""
    from deepgrad.train import predict

    recipe, _, setup = load_run(run_dir)
    if setup.inputs is not None:
        return predict(setup.model, setup.inputs(recipe.name, inputs))
    expected = setup.train[0].shape[1:]
    if tuple(inputs.shape[1:]) != tuple(expected):
        if tuple(inputs.shape) == tuple(expected):
            inputs = inputs[None]
        else:
            raise RecipeError(f"inputs of shape {inputs.shape} do not fit: expected (N, "
                              f"{', '.join(map(str, expected))})")  # fmt: skip
    return predict(setup.model, inputs.astype(setup.train[0].dtype))


def input_help() -> str:
    """What `predict` takes for each training recipe (each module's `INPUT`), for `--help`."""
    import textwrap

    from . import available

    lines = [textwrap.fill(f"{name}: {r.module.INPUT}", 88, initial_indent="  ",
                           subsequent_indent="    ")
             for name, r in available().items() if r.trainable and hasattr(r.module, "INPUT")]  # fmt: skip
    return "\n".join(["inputs by recipe (raw, before the recipe's preprocessing):", *lines])
