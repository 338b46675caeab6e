"""The doctor's checks on numbers: the initial loss against log(C), and the verdict on
learning curves (underfitting, overfitting with the epoch to stop at, a good fit, a
learning rate too high or too low), with the `Finding` and `Report` every check returns.

`deepgrad.train.doctor` runs these next to the checks that need a live model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ICON", "Finding", "Report", "check_initial_loss", "curve_verdict", "history_verdict"]

ICON = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


@dataclass
class Finding:
    """The result of one check: what was seen, in plain words, and what to try."""

    check: str
    status: str  # "ok" | "warn" | "fail" | "skip"
    message: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        fix = f" Fix: {self.fix}" if self.fix and self.status in ("warn", "fail") else ""
        return f"[{ICON[self.status]:>4}] {self.check}: {self.message}{fix}"


@dataclass
class Report:
    """The doctor's findings, printable as text or Markdown."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status in ("ok", "skip") for f in self.findings)

    def get(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)

    @property
    def verdict(self) -> str:
        """One line: the learning-curve verdict if there is one, else the worst finding."""
        curve = self.get("learning curves")
        if curve is not None and curve.status != "skip":
            return curve.data.get("verdict", curve.message)
        bad = [f for f in self.findings if f.status == "fail"] or [
            f for f in self.findings if f.status == "warn"
        ]
        return f"{bad[0].check}: {bad[0].message}" if bad else "all checks passed"

    def __str__(self) -> str:
        return "\n".join(f.line() for f in self.findings)

    def to_markdown(self) -> str:
        rows = ["| check | status | finding | suggested fix |", "|---|---|---|---|"]
        for f in self.findings:
            fix = f.fix if f.status in ("warn", "fail") else ""
            rows.append(f"| {f.check} | {f.status} | {f.message} | {fix} |")
        return "\n".join(rows)


# -- checks on numbers (scripted curves and measured values) -----------------------------
def check_initial_loss(loss: float, num_classes: int, rtol: float = 0.25) -> Finding:
    """A C-class softmax classifier at initialisation should give loss ~ log(C).

    Much higher means confident wrong predictions (weights too large, a bug in
    the loss); much lower means the labels leak or the last layer is biased.
    """
    expected = math.log(num_classes)
    data = {"loss": loss, "expected": expected}
    if not math.isfinite(loss):
        return Finding(
            "initial loss", "fail", f"the initial loss is {loss}", "run the NaN check", data
        )
    msg = f"{loss:.3f} at initialisation vs log({num_classes}) = {expected:.3f}"
    if abs(loss - expected) <= rtol * expected:
        return Finding("initial loss", "ok", msg, data=data)
    if loss > expected:
        fix = "the first predictions are confidently wrong: scale the last layer's weights down"
        fix += " (Xavier/Kaiming init), and check that the loss takes logits, not probabilities"
    else:
        fix = "the loss is lower than chance before training: check for label leakage or a"
        fix += " biased last layer"
    return Finding("initial loss", "warn", msg, fix, data)


def _window(n: int) -> int:
    return max(2, n // 5)


def _finite(xs: Sequence[float] | None) -> np.ndarray | None:
    return None if xs is None or len(xs) == 0 else np.asarray(xs, dtype=float)


def _diverged(train: np.ndarray, ref: float, never_below: bool) -> Finding | None:
    data = {"verdict": "learning rate too high"}
    fix = "divide the learning rate by 10 (or run `deepgrad lr-find`); add gradient clipping"
    if not np.all(np.isfinite(train)):
        where = int(np.argmax(~np.isfinite(train)))
        msg = f"the training loss diverged (non-finite at epoch {where + 1})"
        return Finding("learning curves", "fail", msg, fix, data)
    if train[-1] > 1.5 * ref or train.max() > 5 * ref:
        msg = f"the training loss diverged (up to {train.max():.3g} from {ref:.3g})"
        return Finding("learning curves", "fail", msg, fix, data)
    if never_below and train.min() > 1.05 * ref:
        msg = f"the training loss never fell below its initial value {ref:.3g}"
        return Finding("learning curves", "fail", msg, fix, data)
    return None


def _oscillates(train: np.ndarray, ref: float) -> Finding | None:
    d = np.diff(train)
    ups = float(np.mean(d > 0))
    travel, net = float(np.abs(d).sum()), float(train[0] - train.min())
    stuck = train[-_window(len(train)) :].mean() > 0.5 * ref
    jumpy = np.abs(d).mean() > 0.1 * train.mean()
    if ups < 0.3 or travel < 3 * max(net, 1e-12) or not stuck or not jumpy:
        return None
    msg = f"the training loss oscillates (it rose in {ups:.0%} of epochs, going nowhere)"
    fix = "lower the learning rate (or use a schedule that decays it)"
    return Finding("learning curves", "fail", msg, fix, {"verdict": "learning rate too high"})


def _flat_start(train: np.ndarray, tol: float) -> Finding | None:
    w = _window(len(train))
    early = (train[0] - train[w]) / abs(train[0])
    total = (train[0] - train.min()) / abs(train[0])
    if early >= tol:
        return None
    flat = "for the whole run" if total < tol else f"for the first {w} epochs"
    msg = f"the training loss stays flat {flat} ({early:.1%} drop)"
    fix = "raise the learning rate (try x10, or run `deepgrad lr-find`); check that the"
    fix += " gradients reach every layer"
    return Finding("learning curves", "warn", msg, fix, {"verdict": "learning rate too low"})


def _overfits(train, val, epochs, patience, tol) -> Finding | None:
    best = int(np.argmin(val))
    rising = len(val) - 1 - best
    if rising < patience or val[-1] <= val[best] * (1 + tol) or train[-1] >= train[best]:
        return None
    stop = epochs[best]
    msg = (
        f"the validation loss has risen for {rising} epochs while the training loss kept falling;"
        f" stop at epoch {stop} (best validation loss {val[best]:.3g})"
    )
    fix = "use early stopping, more data or augmentation, weight decay or dropout, or a smaller net"
    data = {"verdict": "overfitting", "stop_epoch": stop}
    return Finding("learning curves", "warn", msg, fix, data)


def _still_falling(xs: np.ndarray, share: float = 0.1, rel: float = 0.01) -> bool:
    """The last window still holds `share` of the total drop, and a visible one (> `rel`)."""
    w = _window(len(xs))
    recent, total = xs[-w - 1] - xs[-1], xs[0] - xs[-1]
    return recent > share * max(total, 1e-12) and recent > rel * abs(xs[-1])


def curve_verdict(
    train_loss: Sequence[float],
    val_loss: Sequence[float] | None = None,
    epochs: Sequence[int] | None = None,
    patience: int = 3,
    high: float = 0.5,
    tol: float = 0.01,
    initial: float | None = None,
) -> Finding:
    """Read the learning curves the way the lecture notes do.

    In order: divergence or oscillation (learning rate too high), a flat start
    (too low), validation loss rising for `patience` epochs while training loss
    falls (overfitting: names the epoch to stop at), validation clearly better
    than training, both curves still falling or the training loss still above
    `high` times its start (underfitting), else a good fit.  `initial` is the loss
    at initialisation, when known: an epoch's mean loss never below it means the
    steps are too large.
    """
    train, val = _finite(train_loss), _finite(val_loss)
    if train is None or len(train) < 4:
        return Finding("learning curves", "skip", "too few epochs to judge (need 4)")
    epochs = list(epochs) if epochs is not None else list(range(1, len(train) + 1))
    ref = float(initial) if initial is not None and math.isfinite(initial) else float(train[0])
    found = _diverged(train, ref, initial is not None) or _oscillates(train, ref)
    found = found or _flat_start(train, tol)
    if found is None and val is not None and np.all(np.isfinite(val)):
        found = _overfits(train, val, epochs, patience, tol)
        w = _window(len(train))
        if found is None and val[-w:].mean() < 0.85 * train[-w:].mean():
            msg = "the validation loss is clearly below the training loss"
            fix = "check that the validation set is representative (same distribution, not a"
            fix += " subset of easy cases); dropout/augmentation only act in training"
            found = Finding("learning curves", "warn", msg, fix, {"verdict": "validation better"})
    return found or _under_or_good(train, val, high)


def _under_or_good(train: np.ndarray, val: np.ndarray | None, high: float) -> Finding:
    falling = _still_falling(train) and (val is None or _still_falling(val))
    if falling:
        msg = "both curves are still falling at the end: the model has not finished learning"
        fix = "train for more epochs or with a larger learning rate"
        return Finding("learning curves", "warn", msg, fix, {"verdict": "underfitting"})
    if train[-1] > high * train[0]:
        msg = (
            f"the training loss plateaued high ({train[-1]:.3g}, {train[-1] / train[0]:.0%} of"
            " its start): the model cannot fit the training data"
        )
        fix = "use a bigger model (more layers/units, nonlinearities), better features, less"
        fix += " regularisation"
        return Finding("learning curves", "warn", msg, fix, {"verdict": "underfitting"})
    gap = "" if val is None else f", validation {val[-1]:.3g}"
    msg = f"both curves flattened low (training loss {train[-1]:.3g}{gap})"
    return Finding("learning curves", "ok", msg, data={"verdict": "good fit"})


# -- checks on a model -----------------------------------------------------------------
def history_verdict(history: Any, patience: int = 3, initial: float | None = None) -> Finding:
    """`curve_verdict` on a `History` (or a list of per-epoch records)."""
    records = list(history)
    train = [r.get("loss") for r in records]
    val = [r.get("val_loss") for r in records]
    epochs = [int(r.get("epoch", i)) + 1 for i, r in enumerate(records)]
    has_val = all(v is not None for v in val) and bool(val)
    val = val if has_val else None
    return curve_verdict(train, val, epochs, patience=patience, initial=initial)
