"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates for Training Neural Networks").

Train for `num_iter` batches while the learning rate sweeps from `start_lr` to `end_lr`,

    lr_i = start_lr * (end_lr / start_lr)^(i / (num_iter - 1))     ("exp"; "linear" interpolates),

record the exponentially smoothed loss L_i = f * loss_i + (1 - f) L_{i-1}, stop once
L_i > diverge_th * min_j L_j, and suggest the lr where L falls fastest (most negative
dL / d log lr) *below the lr of the minimum*: past the minimum the loss is already
rising, and a steep fall there is the recovery from a spike, not a safe rate.  The
model and optimizer are restored afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..optim import SGD, Optimizer
from .probe import isolated


@dataclass
class LRFinderResult:
    """lrs tried, smoothed and raw losses, and the suggested lr (steepest smoothed descent)."""

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    suggestion: float | None
    diverged: bool = False
    best_lr: float | None = field(default=None)

    def plot(self, path: str | Path | None = None, ax: Any = None) -> Any:
        """Loss against lr (log x axis) with the suggestion marked; saved as PNG when `path`."""
        try:
            import matplotlib

            if ax is None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - matplotlib is optional
            raise ImportError(
                "LRFinderResult.plot needs matplotlib (pip install matplotlib)"
            ) from exc
        fig = None
        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.raw_losses, alpha=0.3, label="raw loss")
        ax.plot(self.lrs, self.losses, label="smoothed loss")
        if self.suggestion is not None:
            ax.axvline(
                self.suggestion,
                color="red",
                linestyle="--",
                label=f"suggestion {self.suggestion:.2e}",
            )
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("Learning-rate range test (Smith 2015)")
        ax.legend()
        if fig is not None and path is not None:
            fig.tight_layout()
            fig.savefig(path, dpi=100)
            plt.close(fig)
        return ax


def _lr_at(i: int, n: int, start: float, end: float, mode: str) -> float:
    frac = i / max(n - 1, 1)
    if mode == "exp":
        return start * (end / start) ** frac
    return start + (end - start) * frac


def _batches(loader: Iterable[Any]):
    """Cycle over `loader`, starting it again when it is exhausted."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader yielded no batches")


def suggest_lr(lrs: list[float], losses: list[float], skip_start: int = 1, skip_end: int = 1):
    """The lr where the smoothed loss has its most negative slope in log(lr), looking only at
    lrs up to the one with the lowest loss (None if too short)."""
    losses = list(losses)
    end = int(np.argmin(losses)) + 1  # nothing after the minimum: it is rising from there
    lrs, losses = list(lrs)[:end], losses[:end]
    lo, hi = skip_start, len(losses) - skip_end
    if hi - lo < 3:
        lo, hi = 0, len(losses)
    if hi - lo < 2:
        return None
    slope = np.gradient(np.asarray(losses[lo:hi]), np.log(np.asarray(lrs[lo:hi])))
    return float(lrs[lo + int(np.argmin(slope))])


def lr_find(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    loader: Iterable[Any],
    optimizer: Optimizer | None = None,
    start_lr: float = 1e-7,
    end_lr: float = 10,
    num_iter: int = 100,
    step_mode: str = "exp",
    smooth_f: float = 0.05,
    diverge_th: float = 5,
    plot: str | Path | None = None,
    on_step: Callable[[int, float, float], None] | None = None,
) -> LRFinderResult:
    """Run the LR range test on `model` and restore it; returns an `LRFinderResult`.

    `loader` yields (x, y) batches (cycled); `loss_fn(model(x), y)` is the loss;
    the default optimizer is SGD. `plot`: a path to save the loss-vs-lr figure.
    `on_step(i, lr, smoothed_loss)`, if given, is called after each step (progress).
    """
    if not 0 < start_lr < end_lr or not math.isfinite(end_lr):
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr!r}, {end_lr!r}")
    if step_mode not in ("exp", "linear"):
        raise ValueError(f"lr_find: step_mode must be 'exp' or 'linear', got {step_mode!r}")
    if not isinstance(num_iter, int) or num_iter < 2:
        raise ValueError(f"lr_find: num_iter must be an integer >= 2, got {num_iter!r}")
    if not 0 < smooth_f <= 1:
        raise ValueError(f"lr_find: smooth_f must be in (0, 1], got {smooth_f!r}")
    if optimizer is None:
        optimizer = SGD(model.parameters(), lr=start_lr)
    # NOTE: a probe: weights (in place), optimizer state and generators are all restored
    with isolated(model, optimizer):
        lrs, raw, smooth, diverged = _sweep(
            model, loss_fn, loader, optimizer, start_lr, end_lr, num_iter, step_mode, smooth_f,
            diverge_th, on_step,
        )  # fmt: skip
    stop = len(smooth) - 1 if diverged else len(smooth)  # the diverged point is not a candidate
    best = int(np.argmin(smooth)) if smooth else None
    result = LRFinderResult(
        lrs=lrs,
        losses=smooth,
        raw_losses=raw,
        suggestion=suggest_lr(lrs[:stop], smooth[:stop]),
        diverged=diverged,
        best_lr=None if best is None else lrs[best],
    )
    if plot is not None:
        result.plot(plot)
    return result


def _sweep(
    model, loss_fn, loader, optimizer, start_lr, end_lr, num_iter, mode, smooth_f, th, on_step=None
):
    lrs: list[float] = []
    raw: list[float] = []
    smooth: list[float] = []
    best = math.inf
    batches = _batches(loader)
    for i in range(num_iter):
        lr = _lr_at(i, num_iter, start_lr, end_lr, mode)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        value = float(loss)
        lrs.append(lr)
        raw.append(value)
        smoothed = value if not smooth else smooth_f * value + (1 - smooth_f) * smooth[-1]
        smooth.append(smoothed)
        best = min(best, smoothed)
        if on_step is not None:
            on_step(i, lr, smoothed)
        if not math.isfinite(smoothed) or smoothed > th * best:
            return lrs, raw, smooth, True
    return lrs, raw, smooth, False
