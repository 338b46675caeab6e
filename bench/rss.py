"""Peak memory of a training process: one fresh process per framework per workload.

The figure is the growth of the process's peak resident set size (VmHWM, or
ru_maxrss where /proc is absent) from just after the imports (NumPy, the framework,
the benchmark modules) to after a few steps: the memory the model, its data, the
activations, gradients and optimizer state take at their high point, without the
libraries' code, which a user pays once.  PyTorch's process runs with deepgrad's
malloc tuning off (DEEPGRAD_MALLOC_TUNING=0): it is deepgrad's choice, not PyTorch's.

    python bench/rss.py WORKLOAD deepgrad|torch [--threads N] [--steps S]
prints one JSON line: {"baseline_mb": ..., "peak_mb": ..., "growth_mb": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """The process's peak resident set size so far, in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 1024  # bytes vs kB


def child(name: str, framework: str, threads: int, steps: int) -> dict:
    """In this (fresh) process: import, note the baseline, build and run `steps` steps."""
    torch = None
    if framework == "torch":
        import torch
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import workloads
    from machine import set_threads

    limiter = set_threads(threads, torch)  # noqa: F841 (keeps the limit)
    workload = {w.name: w for w in workloads.all_workloads()}[name]
    baseline = peak_rss_mb()
    step = workload.ours() if torch is None else workload.theirs(torch)
    for _ in range(steps):
        step()
    peak = peak_rss_mb()
    return {"baseline_mb": baseline, "peak_mb": peak, "growth_mb": peak - baseline}


def measure(name: str, framework: str, threads: int, steps: int = 5) -> dict:
    """Run `child` in a fresh interpreter; its result, or {"error": stderr's tail}."""
    env = dict(os.environ)
    if framework == "torch":
        env["DEEPGRAD_MALLOC_TUNING"] = "0"
    cmd = [sys.executable, __file__, name, framework, f"--threads={threads}", f"--steps={steps}"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload")
    parser.add_argument("framework", choices=("deepgrad", "torch"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(child(args.workload, args.framework, args.threads, args.steps)))


if __name__ == "__main__":
    main()
