"""Ctrl-C (SIGINT) mid-run leaves a valid checkpoint that `--resume` continues."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepgrad.train import read_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_saves_a_checkpoint_and_resume_finishes(run_cli, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "deepgrad", "train", "spiral", "--quick", "--epochs", "100000",
         "--out", str(out), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    metrics = out / "metrics.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (metrics.exists() and metrics.read_text().strip()):
        time.sleep(0.05)
    assert metrics.exists(), "training never logged an epoch"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "deepgrad train --resume" in stderr
    ckpt = read_checkpoint(out / "checkpoint" / "last")  # verifies every digest
    done = len(metrics.read_text().splitlines())
    assert ckpt.step > 0 and done >= 1
    # continue it, now with a reachable number of epochs
    target = ckpt.epoch + 3
    proc2 = run_cli("train", "--resume", str(out), "--epochs", str(target), "-q")
    assert proc2.returncode == 0, proc2.stderr
    records = [json.loads(line) for line in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in records] == list(range(target))
