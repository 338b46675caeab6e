"""Crash and resume: SIGKILL a training process at a random step, resume it, and get the
bitwise-identical weights and the same metric lines as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

SCRIPT = """
import sys, time
from pathlib import Path
import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset, spiral
from deepgrad.train import Callback, EarlyStopping, JSONLinesLogger, CSVLogger, fit
from safetensors.numpy import save_file

run = Path(sys.argv[1])
slow = float(sys.argv[2])

class Progress(Callback):
    def on_batch_end(self, trainer, step, logs):
        (run / "progress.tmp").write_text(str(step))
        (run / "progress.tmp").replace(run / "progress")
        time.sleep(slow)

dg.manual_seed(0)
X, y = spiral(50, 3, noise=0.1, seed=0)
model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
opt = optim.Adam(model.parameters(), lr=1e-2)
sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
train = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True)  # seed from dg's RNG
val = DataLoader(TensorDataset(X, y), batch_size=64)
ckpt = run / "ckpt"
fit(
    model, nn.CrossEntropyLoss(), opt, train, val, epochs=6, metrics=["accuracy"],
    scheduler=sched, checkpoint_dir=ckpt, checkpoint_every_steps=3, verbose=0,
    resume_from=ckpt if (ckpt / "last").exists() else None,
    callbacks=[
        JSONLinesLogger(run / "metrics.jsonl", exclude=("time",)),
        CSVLogger(run / "metrics.csv"),
        EarlyStopping(patience=10, restore_best_weights=True),
        Progress(),
    ],
)
save_file(model.state_dict(), str(run / "final.safetensors"))
"""


def _start(script: Path, run: Path, slow: float) -> subprocess.Popen:
    run.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen([sys.executable, str(script), str(run), str(slow)], env=env)


def _step(run: Path) -> int:
    try:
        return int((run / "progress").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _kill_at(script: Path, run: Path, step: int) -> None:
    """Start (or resume) the run and SIGKILL it once it has passed `step`."""
    (run / "progress").unlink(missing_ok=True)
    proc = _start(script, run, slow=0.01)
    deadline = time.time() + 60
    while _step(run) < step and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run ended before it was killed"
    assert _step(run) >= step


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_sigkill_and_resume_match_an_uninterrupted_run(tmp_path, seed):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    reference, crashed = tmp_path / "reference", tmp_path / "crashed"
    assert _start(script, reference, slow=0.0).wait(timeout=120) == 0

    kills = sorted(np.random.default_rng(seed).integers(1, 56, size=2).tolist())
    for step in kills:  # killed twice, the second time after a resume
        _kill_at(script, crashed, step)
    assert not (crashed / "final.safetensors").exists(), "the kill came too late"
    assert _start(script, crashed, slow=0.0).wait(timeout=120) == 0

    a = load_file(str(reference / "final.safetensors"))
    b = load_file(str(crashed / "final.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), f"{key} differs after kills at {kills}"
    for log in ("metrics.jsonl", "metrics.csv"):
        lines_a = (reference / log).read_text().splitlines()
        lines_b = (crashed / log).read_text().splitlines()
        if log.endswith(".csv"):  # the time column differs between any two runs
            lines_a, lines_b = ([ln.rsplit(",", 1)[0] for ln in x] for x in (lines_a, lines_b))
        assert lines_a == lines_b, f"{log} differs after kills at {kills}"
    assert len((reference / "metrics.jsonl").read_text().splitlines()) == 6
