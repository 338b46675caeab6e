"""The README's speed table, written from bench/suite.py's JSON results.

    python bench/readme_table.py [--json bench/results/latest.json] [--readme README.md]

replaces what lies between the README's two markers (`<!-- bench:start -->` and
`<!-- bench:end -->`) with the table and leaves every other line as it was.  The
table states when and where it was measured: the date, the machine, the thread
count, the timing mode, the BLAS kernel and the matrix-product peak of that run.
`--profiles` prints the per-primitive profiles of the same results as markdown.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RESULTS = REPO / "bench" / "results" / "latest.json"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
MEMORY_TARGET = 0.3
NONE = "–"


def _ms(x: float | None) -> str:
    if x is None:
        return NONE
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _rate(x: float | None) -> str:
    if x is None:
        return NONE
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    return NONE if x is None else f"{x:.2f}x"


def _threads(n: int) -> str:
    return f"{n} thread" + ("" if n == 1 else "s")


def summary(results: dict) -> str:
    """One paragraph: date, machine, threads, timing mode, kernel, matrix-product peak."""
    m, k, peak, torch = results["machine"], results["kernel"], results["peak"], results["torch"]
    blas = k.get("blas") or {}
    if "library" in blas:
        kernel = (f"{blas['library']} {blas['version']} ({blas['core_type']} kernel, "
                  f"{_threads(blas['threads'])})")  # fmt: skip
    else:
        kernel = "BLAS kernel unknown (threadpoolctl not installed)"
    timing = ("CPU time per step, one thread each" if results["timing"] == "cpu"
              else "wall-clock time per step")  # fmt: skip
    n = peak["n"]
    text = (
        f"Measured {results['date']} on {m['cpu']} ({m['cores']} cores, {m['system']}), "
        f"{_threads(results['threads'])}; {timing}, medians of alternating blocks. "
        f"NumPy {k['numpy']} with {kernel}: float32 {n}x{n} matrix product "
        f"{_rate(peak['deepgrad_gflops'])} GFLOP/s"
    )
    if torch is not None:
        text += f"; PyTorch {torch['version']}: {_rate(peak.get('torch_gflops'))} GFLOP/s."
    else:
        text += ". PyTorch not installed: deepgrad's figures alone."
    guards = {name: v for name, v in k.get("environment", {}).items() if v is not None}
    if guards:
        text += f" Measured with {guards} set: not the kernel a user gets."
    if results.get("note"):
        text += f" Note: {results['note']}"
    if results.get("quick"):
        text += " Quick smoke run (one step each): not a measurement."
    return text


def _memory(mem: dict | None) -> str:
    if not mem:
        return NONE
    ours, theirs = mem.get("deepgrad", {}), mem.get("torch") or {}
    if "growth_mb" not in ours:
        return "failed"
    if "growth_mb" not in theirs:
        return f"{ours['growth_mb']:.0f} MB"
    return f"{ours['growth_mb']:.0f} / {theirs['growth_mb']:.0f} MB ({_ratio(mem.get('ratio'))})"


def main_table(results: dict) -> list[str]:
    """The issue's workloads: times, ratio, target, GFLOP/s, peak memory growth."""
    lines = [
        (
            "| workload (training step unless said) | deepgrad ms | PyTorch ms | ratio | target "
            f"| GFLOP/s deepgrad / PyTorch | peak memory growth (target <= {MEMORY_TARGET}x) |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["workloads"]:
        if row["group"] != "main":
            continue
        if "error" in row:
            lines.append(f"| {row['label']} | failed: {row['error'][:80]} | | | | | |")
            continue
        target = NONE if row.get("target") is None else f"<= {row['target']}"
        rates = NONE
        if row.get("flops") is not None:
            rates = f"{_rate(row['deepgrad_gflops'])} / {_rate(row.get('torch_gflops'))}"
        lines.append(
            f"| {row['label']} | {_ms(row['deepgrad_ms'])} | {_ms(row['torch_ms'])} "
            f"| {_ratio(row['ratio'])} | {target} | {rates} | {_memory(row.get('memory'))} |"
        )
    return lines


def sweep_table(results: dict) -> list[str]:
    """The batch-size sweep (the rows marked "sweep", main ones included): one row per
    model, one column per batch size; each cell the ratio (deepgrad's time when PyTorch
    is absent)."""
    rows: dict[str, dict[int, str]] = {}
    # sweep-only rows first (stable sort), so models keep the sweep's order
    for row in sorted(results["workloads"], key=lambda r: r["group"] != "sweep"):
        if not row.get("sweep"):
            continue
        model = row["label"].rsplit(", batch", 1)[0]
        cell = "failed" if "error" in row else (
            _ratio(row["ratio"]) if row["ratio"] is not None else f"{_ms(row['deepgrad_ms'])} ms"
        )  # fmt: skip
        rows.setdefault(model, {})[row["batch"]] = cell
    if not rows:
        return []
    batches = sorted({b for cells in rows.values() for b in cells})
    lines = [
        "| training step, batch size | " + " | ".join(str(b) for b in batches) + " |",
        "|---|" + "---:|" * len(batches),
    ]
    for model, cells in rows.items():
        lines.append(f"| {model} | " + " | ".join(cells.get(b, NONE) for b in batches) + " |")
    return lines


def render(results: dict) -> str:
    """The whole generated block: the summary, the main table, the batch-size sweep."""
    parts = [summary(results), "", *main_table(results)]
    sweep = sweep_table(results)
    if sweep:
        parts += ["", "Batch-size sweep (deepgrad / PyTorch, lower is faster):", "", *sweep]
    return "\n".join(parts)


def profiles(results: dict) -> str:
    """Markdown: for each profiled workload, where deepgrad's step time goes, per
    primitive forward and backward (for an issue's closing note; not in the README)."""
    parts = []
    for row in results["workloads"]:
        prof = row.get("profile")
        if not prof:
            continue
        step = prof["step_ms"]
        parts += [f"{row['label']}: {_ms(step)} ms CPU per step", "",
                  "| primitive | calls | forward ms | backward ms | share |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        for p in prof["primitives"]:
            share = (p["forward_ms"] + p["backward_ms"]) / step
            parts.append(f"| {p['name']} | {p['calls']:.0f} | {_ms(p['forward_ms'])} "
                         f"| {_ms(p['backward_ms'])} | {share:.0%} |")  # fmt: skip
        outside = prof["outside_ms"]
        parts += [f"| outside primitives | | {_ms(outside)} | | {outside / step:.0%} |", ""]
    return "\n".join(parts)


def replace_between_markers(text: str, block: str, where: str = "README.md") -> str:
    """`text` with everything between START and END replaced by `block`, the markers kept."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise ValueError(
            f"bench/readme_table.py: {where} must hold exactly one {START} and one {END} "
            f"(found {text.count(START)} and {text.count(END)})"
        )
    head, rest = text.split(START)
    if END not in rest:
        raise ValueError(f"bench/readme_table.py: in {where} {END} comes before {START}")
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def write_readme(results: dict, readme: Path = README) -> None:
    """Regenerate the table in `readme` (written to a temporary file, then renamed)."""
    text = replace_between_markers(readme.read_text(), render(results), str(readme))
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, readme)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--profiles", action="store_true",
                        help="print the per-primitive profiles as markdown instead")  # fmt: skip
    args = parser.parse_args()
    if args.profiles:
        print(profiles(json.loads(args.json.read_text())))
        return
    write_readme(json.loads(args.json.read_text()), args.readme)
    print(f"speed table in {args.readme} regenerated from {args.json}")


if __name__ == "__main__":
    main()
