"""bench/suite.py and its pieces: the workload list, the timing plan, the peak-memory
reading, and a quick smoke run of one tiny workload (its figures are not checked: no
timing in tests, only that the harness produces a well-formed result)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
import suite
import workloads


def test_the_suite_covers_every_workload_of_issue_20():
    names = [w.name for w in workloads.main_workloads()]
    assert names == ["mlp-b128", "overhead", "lenet-b64", "resnet18-b8-64", "resnet18-b32-32",
                     "resnet18-b8-64-infer", "lstm", "gru", "transformer"]  # fmt: skip
    sweep = [(w.label.split(",")[0], w.batch) for w in workloads.all_workloads() if w.sweep]
    for model in ("MLP 784-512-256-10", "LeNet-5"):
        assert sorted(b for m, b in sweep if m == model) == [1, 4, 16, 64, 256, 512]
    every = [w.name for w in workloads.all_workloads()]
    assert len(every) == len(set(every))  # LeNet-5 at 64 is measured once, for both tables
    by_name = {w.name: w for w in workloads.main_workloads()}
    infer, train = by_name["resnet18-b8-64-infer"], by_name["resnet18-b8-64"]
    assert not infer.training and 2.9 < train.flops() / infer.flops() < 3  # the stem: 2x
    assert by_name["overhead"].flops() is None


def test_targets_are_the_issues():
    targets = {w.name: w.target for w in workloads.main_workloads()}
    assert targets["mlp-b128"] == 0.7 and targets["overhead"] == 0.8
    assert targets["lenet-b64"] == targets["resnet18-b8-64"] == targets["lstm"] == 1.0
    assert targets["gru"] == targets["transformer"] == 1.0


def test_plan_fits_the_step_length():
    fast = suite.plan(0.5, seconds=3.0, quick=False, cpu_time=False)
    assert fast["block"] == 10 and fast["repeat"] == 200 and fast["settle"] == 3
    slow = suite.plan(2000.0, seconds=3.0, quick=False, cpu_time=True)
    assert slow["block"] == 1 and slow["repeat"] == 3 and slow["settle"] == 0
    assert slow["pause"] == 0.0 and fast["pause"] > 0
    assert suite.plan(5.0, 3.0, quick=True, cpu_time=False)["repeat"] == 1


def test_unknown_workload_names_are_refused_with_the_known_ones():
    with pytest.raises(SystemExit, match=r"unknown workload\(s\) \['nope'\].*mlp-b128"):
        suite.select(["nope"], ["main"])
    assert [w.name for w in suite.select(["gru", "mlp-b4"], ["main"])] == ["gru", "mlp-b4"]


def test_bad_thread_count_is_refused():
    with pytest.raises(SystemExit):
        suite.parse_args(["--threads", "0"])
    assert suite.parse_args(["--cpu-time"]).threads == 1


def test_peak_rss_rises_when_memory_is_touched():
    """In a fresh process: this one's peak is already set by the tests that ran before."""
    code = (
        "import numpy as np, rss; before = rss.peak_rss_mb(); "
        "block = np.ones(64 * 2**20 // 8); after = rss.peak_rss_mb(); "
        "print(before, after, block[-1])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "bench")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=60, check=True)  # fmt: skip
    before, after, last = (float(v) for v in done.stdout.split())
    assert last == 1.0 and before > 0 and after - before >= 32


def test_quick_run_of_one_tiny_workload_writes_a_well_formed_result(tmp_path):
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, str(REPO / "bench" / "suite.py"), "--quick", "--only", "mlp-b1",
           "--no-torch", "--threads", "1", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["threads"] == 1 and result["torch"] is None and result["quick"]
    (row,) = result["workloads"]
    assert row["name"] == "mlp-b1" and row["deepgrad_ms"] > 0 and row["ratio"] is None
    assert row["flops"] == 2_407_424  # 2*784*512*2 + 2*512*256*3 + 2*256*10*3
    assert row["deepgrad_gflops"] == pytest.approx(row["flops"] / row["deepgrad_ms"] / 1e6)
    assert result["peak"]["deepgrad_gflops"] > 0
    assert "| MLP 784-512-256-10 |" in done.stdout  # the markdown table is printed


def test_without_threadpoolctl_the_kernel_is_reported_unknown(monkeypatch):
    import machine

    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now raises ImportError
    assert "threadpoolctl" in machine.kernel()["blas"]["note"]
    assert machine.set_threads(1) is None


def test_a_run_under_the_openblas_guard_warns(capsys):
    results = {"kernel": {"environment": {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_L2_SIZE": None},
                          "numpy": "2", "blas": None},
               "threads": 1, "peak": {"n": 8, "deepgrad_gflops": 1.0}}  # fmt: skip
    suite._warn_environment(results)
    err = capsys.readouterr().err
    assert "{'OPENBLAS_CORETYPE': 'Haswell'}" in err and "env -u OPENBLAS_CORETYPE" in err
