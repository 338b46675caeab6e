"""Per-primitive profile of the CNN training steps: each forward and each VJP rule, timed.

Every registered primitive's forward and VJP rules are wrapped in a timer (CPU time by
default, `--wall` for wall clock).  Time is charged to the outermost timed region only: a
VJP rule that calls other primitives (conv's input gradient is a conv_transpose) is charged
as that VJP, so the rows add up to the step.  "(outside primitives)" is the rest of the step:
Python dispatch, graph bookkeeping, the optimizer update.

Run: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
python bench/profile_cnn.py [lenet|resnet18|resnet18-cifar ...] [--steps N] [--wall]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cnn import WORKLOADS

from deepgrad.core.primitive import REGISTRY

_clock = time.process_time
_totals: dict[str, float] = defaultdict(float)
_counts: dict[str, int] = defaultdict(int)
_depth = [0]


_BY_SHAPE: set[str] = set()  # primitives whose rows are split by input shapes


def _shapes(name: str, args, vjp: bool) -> str:
    """ " x (shape) w (shape)" of a conv call (a VJP rule's args start with g, ans)."""
    if name not in _BY_SHAPE:
        return ""
    xs = [a for a in args[2 if vjp else 0 :] if hasattr(a, "shape")][:2]
    return " " + " ".join(str(tuple(a.shape)) for a in xs)


def _timed(label: str, fn, name: str = "", vjp: bool = False):
    """fn, charging its time to `label` when it is the outermost timed call."""

    def wrapper(*args, **kwargs):
        if _depth[0]:
            return fn(*args, **kwargs)
        _depth[0] += 1
        t0 = _clock()
        try:
            return fn(*args, **kwargs)
        finally:
            key = label + _shapes(name, args, vjp)
            _totals[key] += _clock() - t0
            _counts[key] += 1
            _depth[0] -= 1

    return wrapper


def instrument() -> None:
    """Wrap every registered primitive's forward and VJP rules (idempotent per process)."""
    for name, prim in REGISTRY.items():
        if getattr(prim.forward, "_profiled", False):
            continue
        prim.forward = _timed(f"{name} fwd", prim.forward, name)
        prim.forward._profiled = True
        if not isinstance(prim.vjp, tuple):
            continue
        vjps = []
        for i, rule in enumerate(prim.vjp):
            vjps.append(None if rule is None else _timed(f"{name} vjp[{i}]", rule, name, True))
        prim.vjp = tuple(vjps)


def profile(step, steps: int) -> tuple[float, list[tuple[str, float, int]]]:
    """(ms per step, rows (label, ms per step, calls per step)) sorted by time."""
    for _ in range(3):
        step()
    _totals.clear()
    _counts.clear()
    t0 = _clock()
    for _ in range(steps):
        step()
    total = (_clock() - t0) * 1e3 / steps
    rows = [(k, v * 1e3 / steps, _counts[k] // steps) for k, v in _totals.items()]
    rows.sort(key=lambda r: -r[1])
    rows.append(("(outside primitives)", total - sum(r[1] for r in rows), 0))
    return total, rows


def table(name: str, total: float, rows, top: int = 25) -> str:
    lines = [f"## {name}: {total:.2f} ms per step", "", "| region | ms/step | share | calls |"]
    lines.append("|---|---:|---:|---:|")
    for label, ms, calls in rows[:top] + ([rows[-1]] if len(rows) > top else []):
        lines.append(f"| {label} | {ms:.3f} | {100 * ms / total:.1f}% | {calls} |")
    return "\n".join(lines)


def main() -> None:
    global _clock
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=["lenet", "resnet18"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--wall", action="store_true", help="wall clock instead of CPU time")
    parser.add_argument("--by-shape", action="store_true", help="conv rows split by shapes")
    args = parser.parse_args()
    if args.by_shape:
        _BY_SHAPE.update({"conv", "conv_bias"})
    if args.wall:
        _clock = time.perf_counter
    instrument()
    rng = np.random.default_rng(0)
    for name in args.which:
        data_fn, ours, _, _ = WORKLOADS[name]
        step = ours(data_fn(rng))
        total, rows = profile(step, args.steps)
        print(table(name, total, rows, args.top), end="\n\n")


if __name__ == "__main__":
    main()
