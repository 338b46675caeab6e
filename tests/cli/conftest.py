"""Run the `deepgrad` command in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def deepgrad(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m deepgrad ARGS` with one BLAS thread (tests share the machine's cores)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("DEEPGRAD_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "deepgrad", *args], check=False, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=REPO)  # fmt: skip


@pytest.fixture(scope="session")
def run_cli():
    return deepgrad


@pytest.fixture(scope="session")
def spiral_run(tmp_path_factory, run_cli):
    """A quick spiral run (30 epochs) shared by the CLI tests: (run folder, its process)."""
    out = tmp_path_factory.mktemp("runs") / "spiral"
    proc = run_cli("train", "spiral", "--quick", "--out", str(out), "--epochs", "30")
    assert proc.returncode == 0, proc.stderr
    return out, proc
