"""Every workload of issue 20, side by side with PyTorch: times, ratios, GFLOP/s, memory.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/suite.py [--threads N]
        [--cpu-time] [--quick] [--only NAME ...] [--no-torch] [--no-memory]
        [--out bench/results/latest.json] [--write-readme]

`make bench` runs it as above.  For each workload (bench/workloads.py) both
frameworks' steps are built in this process and timed in alternating blocks
(bench/_timing.side_by_side), with as many steps as fit in about `--seconds` per
framework; the ratio is deepgrad / PyTorch (lower is faster).  Each workload's
FLOPs are counted analytically (bench/flops.py), so its achieved GFLOP/s can be
read against the float32 2048x2048 matrix-product peak measured at the start of
the same run, next to the BLAS kernel in use (bench/machine.py), and where deepgrad's
time goes, per primitive forward and backward (bench/primitive_profile.py).  Then each
training workload runs once more per framework in a fresh process for its peak
memory (bench/rss.py).  The results go to a JSON file and, as a markdown table
(bench/readme_table.py), to the terminal and with `--write-readme` into README.md.

`--cpu-time`: one thread each and CPU time per step (`time.process_time`) instead
of wall time: the steadier choice on a machine shared with other jobs.
`--quick`: one timed step per framework and workload, no memory runs, a smaller
peak product: a smoke test of the harness, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine
import primitive_profile
import readme_table
import rss
import workloads
from _timing import report, side_by_side, try_torch

DEFAULT_OUT = HERE / "results" / "latest.json"
SCHEMA = 1
PROFILE_TOP = 10  # primitives kept per workload profile in the JSON


def plan(step_ms: float, seconds: float, quick: bool, cpu_time: bool) -> dict:
    """side_by_side's arguments for a step of about `step_ms`: blocks of up to half a
    second (at most 10 steps), about `seconds` of timed steps per framework (3 to 200
    steps), untimed settling steps only where thread wake-up is a noticeable share of
    a step."""
    if quick:
        return {"repeat": 1, "block": 1, "warmup": 0, "settle": 0, "pause": 0.0}
    step_ms = max(step_ms, 1e-3)
    block = max(1, min(10, round(500 / step_ms)))
    repeat = max(3 * block, min(200, round(seconds * 1e3 / step_ms)))
    settle = 0 if step_ms > 100 else (1 if step_ms > 20 else 3)
    return {
        "repeat": repeat,
        "block": block,
        "warmup": 0,
        "settle": settle,
        "pause": 0.0 if cpu_time else 0.15,
    }


def _probe_ms(step, clock) -> float:
    step()  # first call: allocation, caches, lazy initialisation
    t0 = clock()
    step()
    return (clock() - t0) * 1e3


def time_workload(w: workloads.Workload, torch, args) -> dict:
    """Build and time one workload; its row of the results."""
    clock = time.process_time if args.cpu_time else time.perf_counter
    ours = w.ours()
    theirs = w.theirs(torch) if torch is not None else None
    probe = max(_probe_ms(ours, clock), _probe_ms(theirs, clock) if theirs else 0.0)
    ms, theirs_ms = side_by_side(
        ours, theirs, clock=clock, **plan(probe, args.seconds, args.quick, args.cpu_time)
    )
    row = {"deepgrad_ms": ms, "torch_ms": theirs_ms}
    row["ratio"] = ms / theirs_ms if theirs_ms else None
    count = w.flops()
    row["flops"] = count
    if count is not None:
        row["deepgrad_gflops"] = count / ms / 1e6
        row["torch_gflops"] = count / theirs_ms / 1e6 if theirs_ms else None
    print(report(w.name, ms, theirs_ms), flush=True)
    if args.profile and w.group == "main" and not args.quick:
        prof = primitive_profile.profile_step(ours, steps=3)
        prof["primitives"] = prof["primitives"][:PROFILE_TOP]
        row["profile"] = prof
        print(primitive_profile.format_profile(w.name, prof, PROFILE_TOP), flush=True)
    return row


def memory_row(w: workloads.Workload, threads: int, with_torch: bool, steps: int) -> dict:
    """Peak memory growth of `w`'s process for each framework, and their ratio."""
    out = {"deepgrad": rss.measure(w.name, "deepgrad", threads, steps)}
    if with_torch:
        out["torch"] = rss.measure(w.name, "torch", threads, steps)
        ours, theirs = out["deepgrad"].get("growth_mb"), out["torch"].get("growth_mb")
        out["ratio"] = ours / theirs if ours is not None and theirs else None
    print(f"{w.name:<28} peak memory growth: {_mem_text(out)}", flush=True)
    for framework, got in out.items():
        if isinstance(got, dict) and "error" in got:
            print(f"{w.name} ({framework}) memory run failed:\n{got['error']}", file=sys.stderr)
    return out


def _mem_text(mem: dict) -> str:
    parts = [f"{k} {v['growth_mb']:.1f} MB" if "growth_mb" in v else f"{k} failed"
             for k, v in mem.items() if isinstance(v, dict)]  # fmt: skip
    if mem.get("ratio") is not None:
        parts.append(f"ratio {mem['ratio']:.2f}x")
    return ", ".join(parts)


def header(args, torch) -> dict:
    """Everything about the run except the workloads: when, where, kernel, peak."""
    n = 1024 if args.quick else 2048
    reps = 2 if args.quick else 7
    clock = time.process_time if args.cpu_time else time.perf_counter
    info = {
        "schema": SCHEMA,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.machine(),
        "threads": args.threads,
        "timing": "cpu" if args.cpu_time else "wall",
        "quick": args.quick,
        "note": args.note,
        "kernel": machine.kernel(),
        "torch": None,
        "peak": {"n": n, "deepgrad_gflops": machine.matmul_gflops(n, reps, clock=clock)},
    }
    if torch is not None:
        info["torch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
        info["peak"]["torch_gflops"] = machine.matmul_gflops(n, reps, torch, clock=clock)
    return info


def select(only: list[str] | None, groups: list[str]) -> list[workloads.Workload]:
    """The workloads named in `only` (any of their group), else all of `groups`."""
    every = workloads.all_workloads()
    if only:
        known = {w.name: w for w in every}
        unknown = [n for n in only if n not in known]
        if unknown:
            raise SystemExit(f"bench/suite.py: unknown workload(s) {unknown}; known: {list(known)}")
        return [known[n] for n in only]
    return [w for w in every if w.group in groups or (w.sweep and "sweep" in groups)]


def run(args) -> dict:
    """Measure the selected workloads; the results dictionary (also written to args.out)."""
    torch = None if args.no_torch else try_torch()
    limiter = machine.set_threads(args.threads, torch)  # noqa: F841 (keeps the limit)
    results = header(args, torch)
    _warn_environment(results)
    chosen = select(args.only, args.group)
    rows = []
    for w in chosen:
        row = {"name": w.name, "label": w.label, "group": w.group, "batch": w.batch,
               "sweep": w.sweep, "training": w.training, "target": w.target}  # fmt: skip
        try:
            row.update(time_workload(w, torch, args))
        except Exception as exc:  # noqa: BLE001 (one broken workload must not lose the others')
            row["error"] = f"{type(exc).__name__}: {exc}"
            print(f"{w.name:<28} FAILED: {row['error']}", flush=True)
        rows.append(row)
    results["workloads"] = rows
    if not (args.no_memory or args.quick):
        for w, row in zip(chosen, rows):
            if w.memory and "error" not in row:
                row["memory"] = memory_row(w, args.threads, torch is not None, args.memory_steps)
    return results


def _warn_environment(results: dict) -> None:
    guards = {k: v for k, v in results["kernel"]["environment"].items() if v is not None}
    if guards:
        print(f"warning: {guards} set: this run measures the kernel those force, not what a "
              "user gets (run `make bench`, or `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`)",
              file=sys.stderr)  # fmt: skip
    blas = results["kernel"].get("blas") or {}
    print(f"kernel: NumPy {results['kernel']['numpy']}, {blas}; threads {results['threads']}; "
          f"float32 {results['peak']['n']}^2 matmul peak "
          f"{results['peak']['deepgrad_gflops']:.0f} GFLOP/s", flush=True)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and PyTorch (default: usable cores; "
                             "1 with --cpu-time)")  # fmt: skip
    parser.add_argument("--cpu-time", action="store_true", help="one thread, CPU time per step")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="timed seconds per framework and workload (about)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="smoke test: one step each")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="these workloads only")
    parser.add_argument("--group", nargs="+", default=["main", "sweep"],
                        choices=["main", "sweep"])  # fmt: skip
    parser.add_argument("--no-torch", action="store_true", help="deepgrad alone")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--no-profile", dest="profile", action="store_false",
                        help="skip deepgrad's per-primitive profiles")  # fmt: skip
    parser.add_argument("--memory-steps", type=int, default=5)
    parser.add_argument("--note", default=None,
                        help="a remark printed with the table (a busy machine, say)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON results file")
    parser.add_argument("--write-readme", nargs="?", const=readme_table.README, type=Path,
                        default=None, metavar="README",
                        help="regenerate README.md's speed table (or this file's)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = 1 if args.cpu_time else machine.cores()
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nresults: {args.out}\n\n{readme_table.render(results)}")
    if args.write_readme is not None:
        readme_table.write_readme(results, args.write_readme)
        print(f"\nspeed table regenerated in {args.write_readme}")


if __name__ == "__main__":
    main()
