"""Compiled (`dg.compile`) vs eager training steps: CPU time per step, one thread.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        PYTHONPATH=src python bench/compile.py [mlp] [lenet] [lstm] [chain] [--rounds N] [--memory]

Workloads (issue 20): the MLP 784-512-256-10 at batch 16 (where per-op overhead
matters most among them), LeNet-5 at batch 64 (1x28x28), the LSTM (input 64, hidden
256, 35 steps, batch 32, a linear head on the last state) and, to show the per-op
overhead alone, 1,000 chained adds of a 16x10 parameter (`chain`).  Each step is
zero_grad, forward, cross-entropy, backward, SGD with momentum.  Both sides are the
same model and optimizer; the compiled side is `dg.compile(step)` after its two
traced calls, and a third column runs it with `in_place=False` (no elementwise kernel
writes into a dead buffer).  Timings are medians of the process's CPU time
(`time.process_time`) over interleaved blocks, so other processes on a shared machine
count less than in wall time (they still share caches and memory bandwidth).  Prints
`compiled/eager` (lower is faster) and the speedup eager/compiled; `--memory` adds
tracemalloc's peak per step.  numba is not used: the fused chains are NumPy ufuncs
with `out=`.
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import deepgrad as dg
from deepgrad.core.allocator import tune_allocator

nn = dg.nn


class _LastState(nn.Module):
    """An LSTM over the sequence and a linear head on the last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(64, 256, batch_first=True)
        self.head = nn.Linear(256, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


class _Chain(nn.Module):
    """Per-op overhead: logits = w + w + ... (1,000 adds of a 16x10 parameter)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(dg.zeros(16, 10))

    def forward(self, x):
        y = self.w
        for _ in range(1000):
            y = y + self.w
        return y


def _workload(name: str) -> tuple[nn.Module, tuple[int, ...], int]:
    if name == "mlp":
        model = nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        return model, (16, 784), 16
    if name == "lenet":
        return dg.models.LeNet5(), (64, 1, 28, 28), 64
    if name == "chain":
        return _Chain(), (16, 1), 16
    return _LastState(), (32, 35, 64), 32


def _step(model: nn.Module) -> Callable:
    opt = dg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def measure(name: str, rounds: int) -> tuple[float, float, float, str]:
    """(eager ms, compiled ms, compiled without in-place kernels ms, the plan) for one
    workload."""
    rng = np.random.default_rng(0)
    dg.manual_seed(0)
    eager_model, shape, n = _workload(name)
    dg.manual_seed(0)
    compiled_model, _, _ = _workload(name)
    x = dg.tensor(rng.standard_normal(shape).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, n))
    dg.manual_seed(0)
    plain_model, _, _ = _workload(name)
    eager = _step(eager_model)
    compiled = dg.compile(_step(compiled_model))
    plain = dg.compile(_step(plain_model), in_place=False)
    steps = (eager, compiled, plain)
    for _ in range(3):  # two traced calls, then replays
        for fn in steps:
            fn(x, y)
    times: tuple[list[float], ...] = ([], [], [])
    block = 3 if name in ("lstm", "chain") else 10
    for _ in range(rounds):
        for fn, acc in zip(steps, times):
            for _ in range(block):
                t0 = time.process_time()
                fn(x, y)
                acc.append((time.process_time() - t0) * 1e3)
    status = compiled.explain().splitlines()[1]
    return (*(statistics.median(t) for t in times), status)


def peak_memory(name: str) -> tuple[float, float, float]:
    """Peak MiB that NumPy allocates during three steps, above what is held before them
    (tracemalloc), for eager, compiled and compiled without in-place kernels."""
    peaks = []
    for mode in ("eager", True, False):
        dg.manual_seed(0)
        model, shape, n = _workload(name)
        rng = np.random.default_rng(0)
        x = dg.tensor(rng.standard_normal(shape).astype(np.float32))
        y = dg.tensor(rng.integers(0, 10, n))
        step = _step(model)
        fn = step if mode == "eager" else dg.compile(step, in_place=mode)
        for _ in range(3):
            fn(x, y)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            fn(x, y)
        peaks.append((tracemalloc.get_traced_memory()[1] - base) / 2**20)
        tracemalloc.stop()
    return peaks[0], peaks[1], peaks[2]


def main(argv: list[str]) -> None:
    tune_allocator()
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 8
    every = ["mlp", "lenet", "lstm", "chain"]
    names = [w for w in every if w in argv] or every
    print("dg.compile: CPU ms per training step, one thread, medians of interleaved blocks")
    labels = {
        "mlp": "MLP 784-512-256-10 b16",
        "lenet": "LeNet-5 b64",
        "lstm": "LSTM 64->256 T35 b32",
        "chain": "1,000 chained adds",
    }
    for name in names:
        e, c, p, status = measure(name, rounds)
        print(
            f"{labels[name]:<24} eager {e:8.3f} ms   compiled {c:8.3f} ms   "
            f"compiled/eager {c / e:5.2f}   speedup {e / c:5.2f}x   "
            f"(without in-place kernels {p:8.3f} ms, {p / e:5.2f})"
        )
        print(f"    {status}")
        if "--memory" in argv:
            e, c, p = peak_memory(name)
            print(
                f"    peak MiB per step: eager {e:.1f}, compiled {c:.1f}, without in-place {p:.1f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
