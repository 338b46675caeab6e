"""The doctor: the standard advice for debugging a network, turned into checks.

Each check returns a `Finding`: a status (ok / warn / fail / skip), a plain-language
finding and a suggested fix.  The checks follow Karpathy's "A Recipe for
Training Neural Networks" (2019) and the CS231n notes:

- the loss at initialisation should be log(C) for C balanced classes;
- a model that cannot overfit one tiny batch has a bug;
- per-layer gradient norms and update/weight ratios (about 1e-3 is healthy)
  name vanishing or exploding gradients by layer (Glorot & Bengio 2010);
- dead ReLUs and saturated tanh/sigmoid units, per layer;
- the first op that produced a NaN or Inf (`deepgrad.detect_anomaly`);
- a verdict on the learning curves: underfitting, overfitting (with the epoch
  to stop at), good fit, validation better than training, learning rate too
  high (divergence, oscillation) or too low (flat start).

`diagnose(...)` runs them all and returns a `Report`; `Doctor` does the same as
a `fit` callback (pre-training checks on the first batch, the curve verdict
at the end).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from deepgrad.core.primitive import AnomalyError
from deepgrad.core.state import detect_anomaly, no_grad
from deepgrad.core.tensor import Tensor

from .callbacks import Callback
from .evaluate import split_batch
from .probe import isolated

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer

ICON = {"ok": "ok", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
HEALTHY_RATIO = 1e-3  # update/weight ratio per step (CS231n, Karpathy)


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
def _as_tensor(x: Any) -> Any:
    return x if isinstance(x, Tensor) or not isinstance(x, np.ndarray) else Tensor(x)


def _loss(model, loss_fn, x, y) -> Tensor:
    return loss_fn(model(_as_tensor(x)), y)


def initial_loss(model: Any, loss_fn: Callable, x: Any, y: Any, num_classes: int) -> Finding:
    """`check_initial_loss` on the model's loss for one batch, without recording a graph."""
    with no_grad():
        loss = float(_loss(model, loss_fn, x, y).item())
    return check_initial_loss(loss, num_classes)


def overfit_batch(
    model: Any,
    loss_fn: Callable,
    x: Any,
    y: Any,
    make_optimizer: Callable[[list], Any],
    steps: int = 200,
    threshold: float = 0.1,
) -> Finding:
    """Train on one tiny batch: a correct model and loss drive its loss near zero.

    Runs inside `isolated(model)`: weights, gradients and generators are restored in place.
    """
    opt = make_optimizer(list(model.parameters()))
    losses = []
    with isolated(model):
        model.eval()  # dropout off: the question is whether the net *can* memorise
        for _ in range(steps):
            opt.zero_grad()
            loss = _loss(model, loss_fn, x, y)
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
            if losses[-1] < threshold or not math.isfinite(losses[-1]):
                break
    n = len(x)
    data = {"losses": losses, "steps": len(losses)}
    if losses and losses[-1] < threshold:
        msg = f"loss {losses[-1]:.3g} on a batch of {n} after {len(losses)} steps"
        return Finding("overfit a tiny batch", "ok", msg, data=data)
    msg = f"loss still {losses[-1]:.3g} on a batch of {n} after {len(losses)} steps"
    fix = "a net that cannot memorise a few samples has a bug: check the labels, the loss"
    fix += " input (logits), the learning rate, and that every layer gets a gradient"
    return Finding("overfit a tiny batch", "fail", msg, fix, data)


def _label(row: dict[str, Any]) -> str:
    """A layer as people read it: "2 (Linear)"."""
    kind = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}.get(row["kind"], row["kind"])
    return f"{row['layer']} ({kind})" if kind else row["layer"]


def _layer_of(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else "(root)"


def gradient_stats(
    model: Any, loss_fn: Callable, x: Any, y: Any, make_optimizer: Callable[[list], Any]
) -> list[dict[str, Any]]:
    """Per weight matrix: its layer, gradient norm, weight norm and the update/weight ratio.

    One optimizer step is taken on a fresh optimizer to measure the update, then
    the weights are put back.
    """
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad and p.ndim >= 2]
    kinds = {name or "(root)": type(m).__name__ for name, m in model.named_modules()}
    with isolated(model):
        model.zero_grad()
        _loss(model, loss_fn, x, y).backward()
        grads = {n: None if p.grad is None else np.array(p.grad.data) for n, p in params}
        before = {n: p.data.copy() for n, p in params}
        make_optimizer(list(model.parameters())).step()
        rows = []
        for n, p in params:
            g = grads[n]
            w = float(np.linalg.norm(before[n]))
            upd = float(np.linalg.norm(p.data - before[n]))
            ratio = upd / w if w > 0 else (0.0 if upd == 0 else math.inf)
            gnorm = 0.0 if g is None else float(np.linalg.norm(g))
            layer = _layer_of(n)
            rows.append({"layer": layer, "kind": kinds.get(layer, ""), "param": n,
                         "grad_norm": gnorm, "weight_norm": w, "ratio": ratio})  # fmt: skip
    return rows


def gradient_findings(
    rows: list[dict[str, Any]], low: float = 1e-5, high: float = 0.1, explode: float = 1.0
) -> Finding:
    """Name the layers whose gradients vanish or explode (healthy update/weight ratio ~ 1e-3).

    A ratio below `low` is vanishing, above `high` a too-large step (warn), above
    `explode` (the update is bigger than the weights) exploding; a layer that gets
    no gradient at all fails.
    """
    if not rows:
        return Finding("gradients", "skip", "no weight matrices to inspect")
    table = ", ".join(f"{_label(r)} {r['ratio']:.1e}" for r in rows)
    table = f"update/weight per layer: {table} (~1e-3 is healthy)"
    dead = [r["layer"] for r in rows if r["grad_norm"] == 0.0]
    vanish = [r["layer"] for r in rows if r["ratio"] < low and r["grad_norm"] > 0]
    boom = [
        r["layer"] for r in rows if not r["ratio"] <= explode or not math.isfinite(r["grad_norm"])
    ]
    large = [r["layer"] for r in rows if high < r["ratio"] <= explode]
    data = {"rows": rows, "vanishing": dead + vanish, "exploding": boom, "large": large}
    names = {r["layer"]: _label(r) for r in rows}

    def said(layers: list[str]) -> str:
        return ", ".join(names[x] for x in layers)

    if boom:
        fix = (
            "lower the learning rate, clip gradients, use a scale-preserving init (Xavier/Kaiming)"
        )
        return Finding("gradients", "fail", f"exploding gradients in {said(boom)}; {table}",
                       fix, data)  # fmt: skip
    if dead or vanish:
        msg = f"vanishing gradients in {said(dead + vanish)}; {table}"
        if dead:
            msg += f"; no gradient at all reaches {said(dead)}"
        fix = "use Xavier (tanh) or Kaiming (ReLU) init instead of zeros or tiny weights"
        fix += " (Glorot & Bengio 2010), fewer saturating layers, or normalisation"
        return Finding("gradients", "fail" if dead else "warn", msg, fix, data)
    if large:
        msg = f"large steps in {said(large)}; {table}"
        fix = "lower the learning rate if the loss is noisy or rises"
        return Finding("gradients", "warn", msg, fix, data)
    return Finding("gradients", "ok", table, data=data)


_KINDS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}


def activation_stats(model: Any, x: Any) -> list[dict[str, Any]]:
    """Per ReLU/Tanh/Sigmoid module: dead-unit fraction (ReLU) or saturated fraction."""
    rows: list[dict[str, Any]] = []
    handles = []

    def hook(name, kind):
        def fn(module, inputs, out):
            a = np.asarray(out.data, dtype=float).reshape(len(out.data), -1)
            if kind == "relu":
                frac = float(np.mean(np.all(a <= 0, axis=0)))
            elif kind == "tanh":
                frac = float(np.mean(np.abs(a) > 0.97))
            else:
                frac = float(np.mean((a < 0.03) | (a > 0.97)))
            rows.append({"layer": name, "kind": kind, "fraction": frac, "values": a})

        return fn

    for name, m in model.named_modules():
        kind = _KINDS.get(type(m).__name__)
        if kind:
            handles.append(m.register_forward_hook(hook(name or "(root)", kind)))
    try:
        with no_grad():
            model(_as_tensor(x))
    finally:
        for h in handles:
            h.remove()
    return rows


def activation_findings(
    rows: list[dict[str, Any]], warn: float = 0.2, fail: float = 0.5
) -> Finding:
    """Dead ReLUs (zero for every sample of the batch) and saturated tanh/sigmoid units."""
    if not rows:
        return Finding("activations", "skip", "no ReLU/Tanh/Sigmoid modules to inspect")
    what = {"relu": "dead", "tanh": "saturated", "sigmoid": "saturated"}
    table = ", ".join(f"{_label(r)} {r['fraction']:.0%} {what[r['kind']]}" for r in rows)
    worst = max(rows, key=lambda r: r["fraction"])
    data = {"rows": [{k: v for k, v in r.items() if k != "values"} for r in rows]}
    if worst["fraction"] <= warn:
        return Finding("activations", "ok", table, data=data)
    if worst["kind"] == "relu":
        fix = "lower the learning rate, use Kaiming init with small positive biases, or LeakyReLU"
    else:
        fix = "scale the init down (Xavier), normalise the inputs, or use batch normalisation"
    status = "fail" if worst["fraction"] > fail else "warn"
    return Finding("activations", status, table, fix, data)


def nan_check(model: Any, loss_fn: Callable, x: Any, y: Any) -> Finding:
    """Forward and backward under `detect_anomaly()`: name the first op that made a NaN/Inf."""
    bad = [n for n, p in model.named_parameters() if not np.all(np.isfinite(p.data))]
    if bad:
        msg = f"non-finite weights in {', '.join(bad)}"
        return Finding(
            "NaN/Inf", "fail", msg, "restart from a checkpoint with a lower learning rate"
        )
    try:
        with detect_anomaly():
            model.zero_grad()
            _loss(model, loss_fn, x, y).backward()
    except AnomalyError as e:
        fix = "look at that op's inputs: log of 0, division by 0, exp overflow (use the fused"
        fix += " log-softmax/cross-entropy), or a learning rate that blew the weights up"
        return Finding("NaN/Inf", "fail", str(e), fix)
    finally:
        model.zero_grad()
    return Finding("NaN/Inf", "ok", "forward and backward passes are finite")


def diagnose(
    model: Any,
    loss_fn: Callable,
    x: Any,
    y: Any,
    num_classes: int | None = None,
    make_optimizer: Callable[[list], Any] | None = None,
    history: Any = None,
    overfit_steps: int = 200,
) -> Report:
    """Run every check on a batch `(x, y)`; with `history`, add the learning-curve verdict.

    `make_optimizer(params)` builds the optimizer whose first step measures the
    update/weight ratios (default: Adam, lr 1e-2).
    """
    make = make_optimizer or _default_optimizer
    findings = pre_training_checks(model, loss_fn, x, y, num_classes, make, overfit_steps)
    if history is not None:
        findings.append(history_verdict(history))
    return Report(findings)


def _default_optimizer(params: list) -> Any:
    from deepgrad.optim.adaptive import Adam

    return Adam(params, lr=1e-2)


def history_verdict(history: Any, patience: int = 3, initial: float | None = None) -> Finding:
    """`curve_verdict` on a `History` (or a list of per-epoch records)."""
    records = list(history)
    train = [r.get("loss") for r in records]
    val = [r.get("val_loss") for r in records]
    epochs = [int(r.get("epoch", i)) + 1 for i, r in enumerate(records)]
    has_val = all(v is not None for v in val) and bool(val)
    val = val if has_val else None
    return curve_verdict(train, val, epochs, patience=patience, initial=initial)


def _same_optimizer(optimizer: Any) -> Callable[[list], Any]:
    """A factory for a fresh optimizer of `optimizer`'s class and hyperparameters."""

    def make(params: list) -> Any:
        try:
            return type(optimizer)(params, **optimizer.defaults)
        except (TypeError, AttributeError):
            from deepgrad.optim.sgd import SGD

            return SGD(params, lr=optimizer.param_groups[0]["lr"])

    return make


def pre_training_checks(
    model: Any, loss_fn: Callable, x: Any, y: Any, num_classes: int | None,
    make_optimizer: Callable[[list], Any], overfit_steps: int = 100,
) -> list[Finding]:  # fmt: skip
    """The checks that need only a model and one batch (everything but the curves)."""
    found = [nan_check(model, loss_fn, x, y)]
    if found[0].status == "fail":
        return found
    if num_classes:
        found.append(initial_loss(model, loss_fn, x, y, num_classes))
    if overfit_steps:
        found.append(
            overfit_batch(model, loss_fn, x[:16], y[:16], _default_optimizer, overfit_steps)
        )
    found.append(gradient_findings(gradient_stats(model, loss_fn, x, y, make_optimizer)))
    found.append(activation_findings(activation_stats(model, x)))
    return found


class Doctor(Callback):
    """The doctor as a `fit` callback: model checks on the first batch, curve verdict at the end.

    After training, `doctor.report` holds the `Report`; `verbose` prints it.
    """

    order = 50

    def __init__(self, num_classes: int | None = None, patience: int = 3, checks: bool = True,
                 overfit_steps: int = 100, verbose: bool = False) -> None:  # fmt: skip
        self.num_classes, self.patience, self.checks = num_classes, patience, checks
        self.overfit_steps, self.verbose = overfit_steps, verbose
        self.before: list[Finding] = []
        self.report: Report | None = None

    def on_train_begin(self, trainer: Trainer) -> None:
        if not self.checks or self.before or getattr(trainer, "resumed", False):
            return
        with trainer.probe():  # drawing a batch may move a loader or a generator
            batch = next(iter(trainer.train_loader), None)
        if batch is None:
            return
        x, y = split_batch(batch)
        make = _same_optimizer(trainer.optimizer)
        with trainer.probe():
            self.before = pre_training_checks(trainer.model, trainer.loss_fn, x, y,
                                              self.num_classes, make, self.overfit_steps)  # fmt: skip

    def on_train_end(self, trainer: Trainer) -> None:
        first = next((f for f in self.before if f.check == "initial loss"), None)
        initial = None if first is None else first.data.get("loss")
        verdict = history_verdict(trainer.history, self.patience, initial)
        self.report = Report([*self.before, verdict])
        if self.verbose:
            print(self.report)

    def state_dict(self) -> dict[str, Any]:
        keep = ("check", "status", "message", "fix")
        before = [{k: getattr(f, k) for k in keep} for f in self.before]
        for saved, f in zip(before, self.before):
            if f.check == "initial loss":
                saved["data"] = {"loss": f.data.get("loss")}
        return {"before": before}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.before = [Finding(**f) for f in state.get("before", [])]
