"""Where a deepgrad step's time goes: per primitive, forward and backward.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/primitive_profile.py \
        WORKLOAD [...] [--steps N]

While profiling, every registered primitive's forward and each of its VJP rules is
wrapped by a timer (CPU time, `time.process_time`, so other jobs on the machine do
not count).  A VJP rule's time includes the primitives it calls (a matmul rule runs
two matmuls): those are charged to the rule, not counted again as forwards.  What no
primitive accounts for ("outside primitives") is Python: the modules, the autodiff
engine's bookkeeping, the optimizer update, and the forwards of elementwise binary
ops taken on their hot path (`ops._base.fast_binary` calls the forward it captured
at import, which no wrapper reaches).  The wrappers are removed afterwards,
and their own cost (two clock reads per call) is a small part of "outside".
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepgrad.core.primitive import REGISTRY

CLOCK = time.process_time


class _Rules:
    """A primitive's VJP rules, each wrapped by `wrap` when looked up (index access, as
    the engine does), for a tuple of rules or an `each` factory alike."""

    def __init__(self, rules, wrap) -> None:
        self.rules, self.wrap = rules, wrap

    def __len__(self) -> int:
        return len(self.rules)

    def __getitem__(self, i: int):
        rule = self.rules[i]
        return None if rule is None else self.wrap(rule)


@contextmanager
def timed_primitives():
    """Yield {name: [calls, forward s, backward s]}, filled while the block runs."""
    stats: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    in_rule = [0]  # > 0 while a VJP rule runs: its inner primitives are charged to it

    def forward_timer(name, forward):
        def timed(*args, **kwargs):
            if in_rule[0]:
                return forward(*args, **kwargs)
            t0 = CLOCK()
            try:
                return forward(*args, **kwargs)
            finally:
                row = stats[name]
                row[0] += 1
                row[1] += CLOCK() - t0

        return timed

    def rule_timer(name):
        def wrap(rule):
            def timed(*args, **kwargs):
                in_rule[0] += 1
                t0 = CLOCK()
                try:
                    return rule(*args, **kwargs)
                finally:
                    in_rule[0] -= 1
                    if not in_rule[0]:
                        stats[name][2] += CLOCK() - t0

            return timed

        return wrap

    saved = {name: (p.forward, p.vjp) for name, p in REGISTRY.items()}
    try:
        for name, p in REGISTRY.items():
            p.forward = forward_timer(name, p.forward)
            p.vjp = _Rules(p.vjp, rule_timer(name))
        yield stats
    finally:
        for name, (forward, vjp) in saved.items():
            REGISTRY[name].forward, REGISTRY[name].vjp = forward, vjp


def profile_step(step, steps: int = 5) -> dict:
    """Run `step` (once untimed, then `steps` times) under the timers; per step, in ms:
    {"step_ms", "outside_ms", "primitives": [{name, calls, forward_ms, backward_ms}]}
    sorted by total time, largest first."""
    step()
    with timed_primitives() as stats:
        t0 = CLOCK()
        for _ in range(steps):
            step()
        total = CLOCK() - t0
    rows = [
        {"name": name, "calls": calls / steps, "forward_ms": fwd / steps * 1e3,
         "backward_ms": bwd / steps * 1e3}
        for name, (calls, fwd, bwd) in stats.items()
    ]  # fmt: skip
    rows.sort(key=lambda r: r["forward_ms"] + r["backward_ms"], reverse=True)
    inside = sum(r["forward_ms"] + r["backward_ms"] for r in rows)
    step_ms = total / steps * 1e3
    return {"step_ms": step_ms, "outside_ms": step_ms - inside, "primitives": rows}


def format_profile(name: str, prof: dict, top: int = 12) -> str:
    """A plain-text table: the `top` primitives, the rest summed, and the outside share."""
    step = prof["step_ms"]
    lines = [f"{name}: {step:.2f} ms CPU per step",
             f"  {'primitive':<24}{'calls':>7}{'fwd ms':>9}{'bwd ms':>9}{'share':>8}"]  # fmt: skip
    rows = prof["primitives"]
    for r in rows[:top]:
        share = (r["forward_ms"] + r["backward_ms"]) / step
        lines.append(f"  {r['name']:<24}{r['calls']:>7.0f}{r['forward_ms']:>9.2f}"
                     f"{r['backward_ms']:>9.2f}{share:>8.0%}")  # fmt: skip
    rest = rows[top:]
    if rest:
        fwd = sum(r["forward_ms"] for r in rest)
        bwd = sum(r["backward_ms"] for r in rest)
        label = f"({len(rest)} others)"
        lines.append(f"  {label:<24}{'':>7}{fwd:>9.2f}{bwd:>9.2f}{(fwd + bwd) / step:>8.0%}")
    out = prof["outside_ms"]
    lines.append(f"  {'outside primitives':<24}{'':>7}{out:>9.2f}{'':>9}{out / step:>8.0%}")
    return "\n".join(lines)


def main() -> None:
    import workloads

    known = {w.name: w for w in workloads.all_workloads()}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="+", choices=sorted(known))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for name in args.workload:
        print(format_profile(name, profile_step(known[name].ours(), args.steps), args.top))


if __name__ == "__main__":
    main()
