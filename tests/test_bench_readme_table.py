"""bench/readme_table.py: a given results JSON becomes the README's table, written only
between the markers (no timing here: the results are written out by hand)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import readme_table as rt

RESULTS = {
    "schema": 1,
    "date": "2026-12-02 01:00 UTC",
    "machine": {"cpu": "AMD EPYC 9R14", "cores": 2, "system": "Linux 6.1", "python": "3.11"},
    "threads": 2,
    "timing": "wall",
    "quick": False,
    "kernel": {
        "numpy": "2.4.0",
        "blas": {"library": "openblas", "version": "0.3.31", "core_type": "SkylakeX", "threads": 2},
        "environment": {"OPENBLAS_CORETYPE": None, "OPENBLAS_L2_SIZE": None},
    },
    "torch": {"version": "2.13.0", "threads": 2},
    "peak": {"n": 2048, "deepgrad_gflops": 410.4, "torch_gflops": 180.2},
    "workloads": [
        {
            "name": "mlp-b128", "label": "MLP 784-512-256-10, batch 128", "group": "main",
            "batch": 128, "training": True, "target": 0.7, "deepgrad_ms": 2.5, "torch_ms": 5.0,
            "ratio": 0.5, "flops": 10**8, "deepgrad_gflops": 40.0, "torch_gflops": 20.0,
            "memory": {"deepgrad": {"growth_mb": 12.4}, "torch": {"growth_mb": 90.0},
                       "ratio": 12.4 / 90.0},
        },
        {
            "name": "overhead", "label": "per-op overhead", "group": "main", "batch": None,
            "training": True, "target": 0.8, "deepgrad_ms": 12.25, "torch_ms": 14.0,
            "ratio": 0.875, "flops": None,
        },
        {"name": "lstm", "label": "LSTM", "group": "main", "batch": None, "training": True,
         "target": 1.0, "error": "RuntimeError: boom"},
        {"name": "mlp-b1", "label": "MLP 784-512-256-10, batch 1", "group": "sweep", "batch": 1,
         "sweep": True, "training": True, "target": None, "deepgrad_ms": 0.4, "torch_ms": 0.2,
         "ratio": 2.0, "flops": 1, "deepgrad_gflops": 1.0, "torch_gflops": 1.0},
        {"name": "mlp-b512", "label": "MLP 784-512-256-10, batch 512", "group": "main",
         "sweep": True, "batch": 512, "training": True, "target": None, "deepgrad_ms": 150.0,
         "torch_ms": 200.0, "ratio": 0.75, "flops": 1, "deepgrad_gflops": 1.0, "torch_gflops": 1.0},
        {"name": "lenet-b1", "label": "LeNet-5, batch 1", "group": "sweep", "batch": 1,
         "sweep": True, "training": True, "target": None, "deepgrad_ms": 1.0, "torch_ms": 1.0,
         "ratio": 1.0, "flops": 1, "deepgrad_gflops": 1.0, "torch_gflops": 1.0},
    ],
}  # fmt: skip


def test_summary_states_date_machine_threads_kernel_and_peak():
    text = rt.summary(RESULTS)
    parts = ("2026-12-02 01:00 UTC", "AMD EPYC 9R14 (2 cores", "2 threads;", "wall-clock",
             "openblas 0.3.31 (SkylakeX kernel, 2 threads)",
             "2048x2048 matrix product 410 GFLOP/s", "PyTorch 2.13.0: 180 GFLOP/s")  # fmt: skip
    for part in parts:
        assert part in text
    assert "not the kernel a user gets" not in text


def test_main_table_rows():
    lines = rt.main_table(RESULTS)
    assert lines[0].startswith("| workload") and lines[1].startswith("|---|")
    assert lines[2] == (
        "| MLP 784-512-256-10, batch 128 | 2.50 | 5.00 | 0.50x | <= 0.7 | 40 / 20 "
        "| 12 / 90 MB (0.14x) |"
    )
    assert lines[3] == "| per-op overhead | 12.2 | 14.0 | 0.88x | <= 0.8 | – | – |"
    assert lines[4].startswith("| LSTM | failed: RuntimeError: boom |")
    # a main workload that is also a sweep column; sweep-only rows stay out
    assert lines[5:] == [
        "| MLP 784-512-256-10, batch 512 | 150 | 200 | 0.75x | – | 1.0 / 1.0 | – |"
    ]


def test_sweep_table_has_one_column_per_batch_main_rows_included_dashes_where_unmeasured():
    assert rt.sweep_table(RESULTS) == [
        "| training step, batch size | 1 | 512 |",
        "|---|---:|---:|",
        "| MLP 784-512-256-10 | 2.00x | 0.75x |",
        "| LeNet-5 | 1.00x | – |",
    ]


def test_without_pytorch_the_table_shows_deepgrad_alone():
    alone = copy.deepcopy(RESULTS)
    alone["torch"] = None
    del alone["peak"]["torch_gflops"]
    for row in alone["workloads"]:
        if "error" not in row:
            row.update(torch_ms=None, ratio=None, torch_gflops=None)
        row.pop("memory", None)
    assert "PyTorch not installed" in rt.summary(alone)
    assert rt.main_table(alone)[2] == (
        "| MLP 784-512-256-10, batch 128 | 2.50 | – | – | <= 0.7 | 40 / – | – |"
    )
    assert rt.sweep_table(alone)[2] == "| MLP 784-512-256-10 | 0.40 ms | 150 ms |"


def test_a_guarded_kernel_and_a_quick_run_are_flagged():
    odd = copy.deepcopy(RESULTS)
    odd["kernel"]["environment"]["OPENBLAS_CORETYPE"] = "Haswell"
    odd["quick"] = True
    odd["timing"] = "cpu"
    odd["note"] = "a busy machine."
    text = rt.summary(odd)
    assert "Note: a busy machine." in text
    assert "'OPENBLAS_CORETYPE': 'Haswell'" in text and "not the kernel a user gets" in text
    assert "not a measurement" in text and "CPU time per step, one thread each" in text


def test_profiles_render_per_primitive_rows_and_the_outside_share():
    prof = copy.deepcopy(RESULTS)
    prof["workloads"][0]["profile"] = {
        "step_ms": 4.0, "outside_ms": 1.0,
        "primitives": [{"name": "linear", "calls": 3, "forward_ms": 1.0, "backward_ms": 2.0}],
    }  # fmt: skip
    assert rt.profiles(prof).splitlines() == [
        "MLP 784-512-256-10, batch 128: 4.00 ms CPU per step",
        "",
        "| primitive | calls | forward ms | backward ms | share |",
        "|---|---:|---:|---:|---:|",
        "| linear | 3 | 1.00 | 2.00 | 75% |",
        "| outside primitives | | 1.00 | | 25% |",
    ]
    assert rt.profiles(RESULTS) == ""


def test_replace_between_markers_keeps_everything_outside_them():
    text = f"# title\n\nbefore\n{rt.START}\nold table\nold line\n{rt.END}\nafter\n"
    out = rt.replace_between_markers(text, "NEW")
    assert out == f"# title\n\nbefore\n{rt.START}\nNEW\n{rt.END}\nafter\n"
    assert rt.replace_between_markers(out, "NEW") == out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no markers at all", "exactly one"),
        (f"{rt.START}\n{rt.START}\n{rt.END}", "exactly one"),
        (f"{rt.END}\nx\n{rt.START}", "comes before"),
    ],
)
def test_replace_between_markers_refuses_missing_repeated_or_reversed_markers(text, message):
    with pytest.raises(ValueError, match=message):
        rt.replace_between_markers(text, "NEW", "X.md")


def test_write_readme_rewrites_only_the_table(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{rt.START}\nstale\n{rt.END}\noutro\n")
    rt.write_readme(RESULTS, readme)
    text = readme.read_text()
    assert text.startswith(f"intro\n{rt.START}\nMeasured 2026-12-02") and "stale" not in text
    assert text.endswith(f"| LeNet-5 | 1.00x | – |\n{rt.END}\noutro\n")
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]  # no temporary file left


def test_the_repository_readme_has_the_markers():
    text = (REPO / "README.md").read_text()
    assert text.count(rt.START) == 1 and text.count(rt.END) == 1
    assert text.index(rt.START) < text.index(rt.END)
