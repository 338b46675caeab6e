"""`kill -9` a `deepgrad train` run several times after its first periodic checkpoint, resume it
each time with `--resume`, and get the weights (`np.array_equal`) and metric lines of a run that
was never interrupted."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deepgrad.train import read_checkpoint

# NOTE: `make test` runs slow tests too; the long fault-injection runs are opt-in so the
# default suite stays in budget (it runs a sample of the same cases)
FULL_ONLY = pytest.mark.skipif(
    not os.environ.get("DEEPGRAD_FAULTS_FULL"),
    reason="the long fault-injection run: set DEEPGRAD_FAULTS_FULL=1",
)
REPO = Path(__file__).resolve().parents[2]
MNIST = REPO.parent / "shared" / "data" / "mnist"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
ENV.pop("DEEPGRAD_DEBUG", None)
CMD = [sys.executable, "-m", "deepgrad", "train"]


def _lines(run: Path) -> list[dict]:
    """The metric lines without the wall-clock time (the one value that may differ)."""
    text = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "time"} for line in text]


def _count(run: Path) -> int:
    try:
        return len((run / "metrics.jsonl").read_bytes().splitlines())
    except FileNotFoundError:
        return 0


def _killed_run(run: Path, first: list[str], kills: int, seed: int) -> int:
    """Train with `first` args, SIGKILL it `kills` times at random points after it has logged
    two more epochs (so after a periodic checkpoint), resume each time; return resumes done."""
    rng = random.Random(seed)
    args, done = first, 0
    while True:
        start = _count(run)
        proc = subprocess.Popen(CMD + args, env=ENV, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        if done == kills:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            return done
        deadline = time.monotonic() + 120
        while _count(run) < start + 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.2))
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            assert proc.returncode == 0, proc.stderr.read()
            return done
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        done += 1
        read_checkpoint(run / "checkpoint" / "last")  # the one left behind always verifies
        args = ["--resume", str(run), "-q", "--save-every", "0.02"]


def _compare(tmp_path: Path, recipe: list[str], kills: int, seed: int) -> None:
    full, killed = tmp_path / "full", tmp_path / "killed"
    out = subprocess.run(CMD + [*recipe, "--out", str(full), "-q"], env=ENV, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert out.returncode == 0, out.stderr
    first = [*recipe, "--out", str(killed), "-q", "--save-every", "0.02"]
    resumes = _killed_run(killed, first, kills, seed)
    assert resumes >= 1, "the run finished before it could be killed once"
    a = read_checkpoint(full / "checkpoint" / "last").model
    b = read_checkpoint(killed / "checkpoint" / "last").model
    assert all(np.array_equal(a[k], b[k]) for k in a), f"weights differ after {resumes} resumes"
    assert _lines(full) == _lines(killed)
    csv_full = (full / "metrics.csv").read_text().splitlines()
    assert len(csv_full) == len((killed / "metrics.csv").read_text().splitlines())


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_spiral_killed_twice_resumes_bitwise(tmp_path):
    # cosine schedule, Adam, shuffled loader; a few hundred milliseconds between kills
    _compare(tmp_path, ["spiral", "--quick", "--epochs", "80"], kills=2, seed=0)


@pytest.mark.slow
@FULL_ONLY
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    "recipe",
    [["spiral", "--quick", "--epochs", "400"],
     ["spiral", "--quick", "--epochs", "300", "--optimizer", "rmsprop", "--set", "cosine=false"],
     ["spiral", "--quick", "--epochs", "300", "--optimizer", "nesterov", "--set", "depth=3"]],
)  # fmt: skip
def test_spiral_variants_killed_often_resume_bitwise(tmp_path, recipe):
    _compare(tmp_path, recipe, kills=5, seed=len(recipe))


@pytest.mark.slow
@FULL_ONLY
@pytest.mark.skipif(not MNIST.is_dir(), reason="needs the MNIST files in ../shared/data/mnist")
@pytest.mark.parametrize(
    "recipe",
    [["mnist-mlp", "--set", "subset=1200", "--epochs", "6"],
     ["mnist-lenet", "--set", "subset=400", "--epochs", "4"]],
)  # fmt: skip
def test_mnist_recipes_killed_resume_bitwise(tmp_path, recipe):
    _compare(tmp_path, [*recipe, "--data", str(MNIST)], kills=3, seed=1)
