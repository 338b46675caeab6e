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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from deepgrad.core.primitive import AnomalyError
from deepgrad.core.state import detect_anomaly, no_grad
from deepgrad.core.tensor import Tensor

from .callbacks import Callback
from .curves import Finding, Report, check_initial_loss, history_verdict
from .evaluate import split_batch
from .probe import isolated

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer

HEALTHY_RATIO = 1e-3  # update/weight ratio per step (CS231n, Karpathy)


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
        grads = {n: None if p.grad is None else np.array(p.grad._data) for n, p in params}
        before = {n: p._data.copy() for n, p in params}
        make_optimizer(list(model.parameters())).step()
        rows = []
        for n, p in params:
            g = grads[n]
            w = float(np.linalg.norm(before[n]))
            upd = float(np.linalg.norm(p._data - before[n]))
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
            a = np.asarray(out._data, dtype=float).reshape(len(out._data), -1)
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
    bad = [n for n, p in model.named_parameters() if not np.all(np.isfinite(p._data))]
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
    stage: Callable[[str], Any] | None = None,
) -> Report:
    """Run every check on a batch `(x, y)`; with `history`, add the learning-curve verdict.

    `make_optimizer(params)` builds the optimizer whose first step measures the
    update/weight ratios (default: Adam, lr 1e-2).  `stage(name)`: a context manager
    around each check (progress; see `pre_training_checks`).
    """
    make = make_optimizer or _default_optimizer
    findings = pre_training_checks(model, loss_fn, x, y, num_classes, make, overfit_steps,
                                   stage)  # fmt: skip
    if history is not None:
        findings.append(history_verdict(history))
    return Report(findings)


def _default_optimizer(params: list) -> Any:
    from deepgrad.optim.adaptive import Adam

    return Adam(params, lr=1e-2)


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
    stage: Callable[[str], Any] | None = None,
) -> list[Finding]:  # fmt: skip
    """The checks that need only a model and one batch (everything but the curves).

    `stage(name)`, if given, is a context manager around each check (e.g.
    `deepgrad.train.progress.Stages.stage`, which announces it); its `result` is set to
    the finding's status and message."""
    run = _staged(stage)
    found = [run("NaN/Inf", lambda: nan_check(model, loss_fn, x, y))]
    if found[0].status == "fail":
        return found
    if num_classes:
        found.append(run("initial loss", lambda: initial_loss(model, loss_fn, x, y, num_classes)))
    if overfit_steps:
        found.append(run(f"overfit a tiny batch (up to {overfit_steps} steps)", lambda:
                         overfit_batch(model, loss_fn, x[:16], y[:16], _default_optimizer,
                                       overfit_steps)))  # fmt: skip
    found.append(run("gradients", lambda: gradient_findings(
        gradient_stats(model, loss_fn, x, y, make_optimizer))))  # fmt: skip
    found.append(run("activations", lambda: activation_findings(activation_stats(model, x))))
    return found


def count_checks(num_classes: int | None, overfit_steps: int) -> int:
    """How many checks `pre_training_checks` runs when none fails at once."""
    return 3 + bool(num_classes) + bool(overfit_steps)


def _staged(stage: Callable[[str], Any] | None) -> Callable[[str, Callable[[], Finding]], Finding]:
    def run(name: str, check: Callable[[], Finding]) -> Finding:
        if stage is None:
            return check()
        with stage(name) as s:
            finding = check()
            s.result = f"{finding.status}: {finding.message}"
        return finding

    return run


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
