"""Fault injection: SIGKILL during checkpoint saves, and symbolic links planted in a run folder
for every file a run writes or reads (each refused, the link's target never touched)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepgrad.cli import main
from deepgrad.fileio import SymlinkError, atomic_write
from deepgrad.train import JSONLinesLogger, read_checkpoint

REPO = Path(__file__).resolve().parents[2]

SAVER = """
import sys
from pathlib import Path
import numpy as np
import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import save_checkpoint

out = Path(sys.argv[1])
dg.manual_seed(0)
model = nn.Sequential(nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 256))  # ~1 MB per save
opt = optim.Adam(model.parameters(), lr=1e-3)
for step in range(1, 10_000):
    for p in model.parameters():
        p.data += np.float32(1e-3)
    save_checkpoint(out / "last", model, opt, step=step)
    marker = Path(sys.argv[2])  # written atomically: a kill never leaves it half written
    marker.with_suffix(".tmp").write_text(str(step))
    marker.with_suffix(".tmp").replace(marker)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigkill_during_saves_leaves_a_checkpoint_that_verifies(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    out = tmp_path / "ck"
    out.mkdir()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    steps = []
    for delay in (0.013, 0.029, 0.047, 0.061, 0.083, 0.101):
        saved = tmp_path / "saved"
        proc = subprocess.Popen([sys.executable, str(script), str(out), str(saved)], env=env,
                                cwd=tmp_path)  # fmt: skip
        deadline = time.monotonic() + 60
        while not saved.exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)  # somewhere inside a later save
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        ckpt = read_checkpoint(out / "last")  # the previous or the new one: it verifies
        steps.append(ckpt.step)
        assert ckpt.step >= int(saved.read_text())
        saved.unlink()
    assert all(s >= 1 for s in steps)
    # one clean save collects every orphan a killed save left behind
    from deepgrad import nn
    from deepgrad.train import save_checkpoint

    save_checkpoint(out / "last", nn.Linear(2, 2), step=10**6)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["last", os.readlink(out / "last")]), names


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            p = Path(dirpath) / name
            key = str(p.relative_to(root))
            if p.is_symlink():
                out[key] = "->" + os.readlink(p)
            elif p.is_file():
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("links") / "run"
    assert main(["train", "spiral", "--quick", "--epochs", "2", "--out", str(run), "-q"]) == 0
    return run


RUN_FILES = ["config.json", "metrics.jsonl", "metrics.csv", "summary.md", "learning_curves.png",
             "decision_regions.png", "checkpoint", ".deepgrad-write-test"]  # fmt: skip


def _plant(run: Path, name: str, victim: Path) -> None:
    path = run / name
    if path.is_dir() and not path.is_symlink():
        import shutil

        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    path.symlink_to(victim)


@pytest.mark.parametrize("name", RUN_FILES)
@pytest.mark.parametrize("mode", ["train", "resume"])
def test_a_planted_link_is_refused_and_its_target_untouched(tmp_path, capsys, finished, name, mode):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    victim = tmp_path / "victim"
    victim.write_text("precious\n" * 100)
    _plant(run, name, victim)
    before, kept = _digest(run), victim.read_bytes()
    if mode == "train":
        argv = ["train", "spiral", "--quick", "--epochs", "3", "--out", str(run), "-q"]
    else:
        argv = ["train", "--resume", str(run), "--epochs", "3", "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "symbolic link" in err[0], err
    assert victim.read_bytes() == kept
    assert _digest(run) == before


def test_checkpoint_last_pointing_outside_is_refused(tmp_path, capsys, finished):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished, run, symlinks=True)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run / "checkpoint" / os.readlink(run / "checkpoint" / "last"), elsewhere)
    (run / "checkpoint" / "last").unlink()
    (run / "checkpoint" / "last").symlink_to(elsewhere)
    before = _digest(run)
    assert main(["train", "--resume", str(run), "--epochs", "3", "-q"]) == 2
    assert "not to one of its own snapshots" in capsys.readouterr().err
    assert _digest(run) == before


def test_library_writers_refuse_links(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep")
    link = tmp_path / "metrics.jsonl"
    link.symlink_to(victim)
    logger = JSONLinesLogger(link)
    with pytest.raises(SymlinkError, match="symbolic link"):
        logger.on_train_begin(type("T", (), {"resumed": False})())
    with pytest.raises(SymlinkError, match="symbolic link"):
        atomic_write(link, "new")
    assert victim.read_text() == "keep"
