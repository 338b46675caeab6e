"""Timing helpers shared by the benchmarks: medians of alternating blocks after warm-up.

The step builders work for deepgrad and PyTorch alike (same method names).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from deepgrad.core.allocator import tune_allocator

tune_allocator()  # as the CLI does: recycle large temporaries (opt-in, see core/allocator.py)


def side_by_side(
    ours: Callable[[], object],
    theirs: Callable[[], object] | None,
    repeat: int = 50,
    block: int = 10,
    warmup: int = 5,
    settle: int = 3,
    pause: float = 0.15,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, float | None]:
    """Median wall times (ms) of `ours()` and `theirs()`, timed in alternating blocks.

    The machine's speed drifts by 5-10% over seconds, so timing all of one framework
    and then all of the other turns drift into the ratio.  Alternating blocks of
    `block` calls puts both under the same conditions.  Before each block the
    process sleeps `pause` seconds, so the other framework's worker threads (OpenMP
    for PyTorch, OpenBLAS for NumPy), which spin for a while after their last task,
    are asleep and not competing for the two cores; the first `settle` calls of each
    block (thread wake-up, caches) are not timed.  `clock` is wall time by default;
    `time.process_time` gives CPU time (steadier on a shared machine, with one thread).
    """
    for _ in range(warmup):
        ours()
        if theirs is not None:
            theirs()
    a: list[float] = []
    b: list[float] = []
    while len(a) < repeat:
        a += _block(ours, block, settle, pause, clock)
        if theirs is not None:
            b += _block(theirs, block, settle, pause, clock)
    return statistics.median(a), (statistics.median(b) if b else None)


def cpu_side_by_side(
    ours: Callable[[], object],
    theirs: Callable[[], object] | None,
    repeat: int,
    block: int = 1,
    warmup: int = 2,
) -> tuple[float, float | None]:
    """Median CPU milliseconds per call (`time.process_time`), in alternating blocks of
    `block` calls, with no pause and no untimed calls per block: for one-thread runs,
    where CPU time is what a call costs and is far steadier than wall time on a shared
    machine (the load still changes from second to second; alternation evens it out)."""
    return side_by_side(
        ours, theirs, repeat, block, warmup, settle=0, pause=0.0, clock=time.process_time
    )


def _block(
    fn: Callable[[], object], n: int, settle: int, pause: float, clock: Callable[[], float]
) -> list[float]:
    time.sleep(pause)
    for _ in range(settle):
        fn()
    times = []
    for _ in range(n):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
    return times


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
