"""Data-parallel training under real `mpiexec` subprocesses (2 and 4 ranks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mpi4py", reason="MPI tests need the optional mpi extra (mpi4py)")

HERE = Path(__file__).resolve().parent
WORKER = HERE / "mpi_worker.py"
_LOCAL = Path(sys.executable).parent / "mpiexec"
MPIEXEC = str(_LOCAL) if _LOCAL.exists() else shutil.which("mpiexec")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec on PATH or beside python")


def _launch(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run `cmd`; a job still running after `timeout` s is reported as status -9 with its
    output so far (a hang then fails the test with the ranks' messages, not a bare timeout)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    src = str(HERE.parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              check=False)  # fmt: skip
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or ""
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else e.stderr or ""
        return subprocess.CompletedProcess(cmd, -9, out, f"TIMEOUT after {timeout} s\n{err}")


def mpirun(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`mpiexec -n N python mpi_worker.py ARGS` (MPICH runs more ranks than cores as is)."""
    return _launch([MPIEXEC, "-n", str(n), sys.executable, str(WORKER), *args], timeout)


@pytest.mark.parametrize("n", [2, 4])
def test_averaged_gradient_equals_global_batch_gradient(n, tmp_path):
    proc = mpirun(n, "grad", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "grad.ok").read_text() == "ok"


@pytest.mark.parametrize("n", [2, 4])
def test_parameters_identical_on_every_rank_after_100_steps(n, tmp_path):
    proc = mpirun(n, "steps", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = [np.load(tmp_path / f"params_rank{r}.npz") for r in range(n)]
    assert int(states[0]["1.num_batches_tracked"]) == 100
    for r in range(1, n):
        assert states[r].files == states[0].files
        for k in states[0].files:
            np.testing.assert_array_equal(states[r][k], states[0][k], err_msg=f"rank {r}: {k}")


def test_resumed_distributed_run_is_bitwise_the_uninterrupted_one(tmp_path):
    proc = mpirun(2, "resume", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "resume.ok").read_text() == "ok"


@pytest.mark.parametrize("n", [2, 3])
def test_search_trials_are_spread_over_ranks(n, tmp_path):
    proc = mpirun(n, "search", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "search.ok").read_text() == "ok"


def test_a_failing_rank_ends_the_job_naming_it(tmp_path):
    start = time.monotonic()
    proc = mpirun(2, "fail", str(tmp_path), timeout=60)
    elapsed = time.monotonic() - start
    assert proc.returncode != 0
    assert elapsed < 30, f"the job took {elapsed:.1f} s to end"
    assert "deepgrad.distributed: rank 1 failed: RuntimeError: boom on purpose" in proc.stderr


def test_cli_train_distributed_writes_one_run_folder(tmp_path):
    out = tmp_path / "spiral"
    cmd = [MPIEXEC, "-n", "2", sys.executable, "-m", "deepgrad", "train", "spiral", "--quick",
           "--epochs", "3", "--out", str(out), "--distributed"]  # fmt: skip
    proc = _launch(cmd, 120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.count("deepgrad: training spiral") == 1  # rank 0 reports alone
    assert proc.stdout.count("epoch 3/3") == 1
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert (out / "checkpoint" / "last").exists()


def test_cli_search_distributed(tmp_path):
    out = tmp_path / "search"
    cmd = [MPIEXEC, "-n", "2", sys.executable, "-m", "deepgrad", "search", "spiral", "--quick",
           "--epochs", "2", "--grid", "lr=0.01,0.1,0.3", "--out", str(out), "--distributed"]  # fmt: skip
    proc = _launch(cmd, 120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert proc.stdout.count("best:") == 1  # rank 0 reports alone
    rows = (out / "search.csv").read_text().splitlines()
    assert len(rows) == 4  # header and three trials
