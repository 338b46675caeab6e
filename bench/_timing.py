"""Timing helpers shared by the benchmarks: median of repeated runs after warm-up.

The step builders work for deepgrad and PyTorch alike (same method names).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(fn: Callable[[], object], repeat: int = 30, warmup: int = 5) -> float:
    """Median wall time of `fn()` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def train_step(model, loss_fn, opt, x, y, update: bool = True) -> Callable[[], None]:
    """One training step as a closure: zero_grad, forward, loss, backward, optimizer step
    (without the step when `update` is False: the forward+backward pass alone)."""

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        if update:
            opt.step()

    return step


def try_torch():
    """torch if installed (CPU, 2 threads as in BENCHMARKS.md), else None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(2)
    return torch


def report(name: str, ours: float, theirs: float | None) -> str:
    """One line: our time, PyTorch's and the ratio (lower is faster)."""
    if theirs is None:
        return f"{name:<28} deepgrad {ours:8.3f} ms   (PyTorch not installed)"
    return (
        f"{name:<28} deepgrad {ours:8.3f} ms   PyTorch {theirs:8.3f} ms   "
        f"ratio {ours / theirs:5.2f}x"
    )
