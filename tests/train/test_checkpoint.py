"""Checkpoints: exact round trip, SHA-256 verification, no pickle, atomic publication."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from train_helpers import mlp, trained

from deepgrad import nn, optim
from deepgrad.train import CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from deepgrad.train import checkpoint as C


def _weights(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k, value in a.items():
        assert np.array_equal(value, b[k]), k


def _fresh():
    model = mlp(seed=1)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    return model, opt, optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def test_round_trip_is_exact(tmp_path):
    model, opt, sched = trained()
    rng = np.random.default_rng(5)
    save_checkpoint(
        tmp_path / "last", model, opt, sched, epoch=4, step=17, config={"lr": 0.01},
        rng=C.capture_rng(rng), extra={"note": (1, 2), "arr": np.arange(3)},
    )  # fmt: skip
    model2, opt2, sched2 = _fresh()
    ckpt = load_checkpoint(tmp_path / "last", model2, opt2, sched2)
    _assert_same(_weights(model), _weights(model2))
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i, state in s1["state"].items():
        for k, v in state.items():
            assert np.array_equal(v, s2["state"][i][k]) and type(v) is type(s2["state"][i][k])
    assert sched.state_dict() == sched2.state_dict()
    assert (ckpt.epoch, ckpt.step, ckpt.config) == (4, 17, {"lr": 0.01})
    assert ckpt.extra["note"] == (1, 2) and ckpt.extra["arr"].tolist() == [0, 1, 2]
    other = np.random.default_rng(0)
    C.restore_rng(ckpt.rng, other)
    assert other.random() == rng.random()


def test_layout_manifest_and_no_pickle(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    folder = tmp_path / "ck"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*C.PARTS, "manifest.json"])
    manifest = json.loads((folder / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert not data.startswith(b"\x80")  # no pickle protocol header anywhere
    assert os.path.islink(folder)  # `ck` is a symlink to a complete snapshot


def test_corrupted_file_is_named_and_nothing_loads(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    target = tmp_path / "ck" / "model.safetensors"
    data = bytearray(target.read_bytes())
    data[-3] ^= 0xFF
    target.write_bytes(bytes(data))
    model2, opt2, _ = _fresh()
    before = _weights(model2)
    with pytest.raises(
        CheckpointError, match=r"model.safetensors \(model weights\).*SHA-256.*corrupted"
    ):
        load_checkpoint(tmp_path / "ck", model2, opt2)
    _assert_same(before, _weights(model2))


def test_truncated_file_is_named(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    target = tmp_path / "ck" / "optimizer.safetensors"
    target.write_bytes(target.read_bytes()[:50])
    with pytest.raises(
        CheckpointError, match=r"optimizer.safetensors \(optimizer arrays\).*truncated"
    ):
        load_checkpoint(tmp_path / "ck", *_fresh())


class _Payload:
    """Unpickling this would create a marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("victim", ["model.safetensors", "optimizer.safetensors", "state.json"])
def test_pickle_payload_is_rejected_and_never_runs(tmp_path, victim):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)))
    folder = tmp_path / "ck"
    (folder / victim).write_bytes(payload)
    # a careful attacker also fixes the manifest, so the digest check passes
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][victim].update(sha256=hashlib.sha256(payload).hexdigest(), bytes=len(payload))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    model2, opt2, sched2 = _fresh()
    before = _weights(model2)
    with pytest.raises(CheckpointError, match=victim.replace(".", r"\.")):
        load_checkpoint(folder, model2, opt2, sched2)
    assert not marker.exists()
    _assert_same(before, _weights(model2))


def test_folder_of_pickles_is_not_a_checkpoint(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(pickle.dumps(_Payload(str(tmp_path / "m"))))
    with pytest.raises(CheckpointError, match="no manifest.json"):
        load_checkpoint(tmp_path, mlp())
    assert not (tmp_path / "m").exists()


def test_different_model_names_the_tensors(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    other = mlp(sizes=(2, 8, 3, 3))
    before = _weights(other)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "ck", other)
    msg = str(err.value)
    assert "0.weight checkpoint (16, 2) vs model (8, 2)" in msg
    assert "missing from the checkpoint: ['4.bias', '4.weight']" in msg
    assert "Nothing was loaded" in msg
    _assert_same(before, _weights(other))


def test_failed_optimizer_load_rolls_the_model_back(tmp_path):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "ck", model, opt, sched)
    model2 = mlp(seed=3)
    before = _weights(model2)
    two_groups = optim.SGD([{"params": [p]} for p in model2.parameters()], lr=0.1)
    with pytest.raises(CheckpointError, match="nothing loaded"):
        load_checkpoint(tmp_path / "ck", model2, two_groups)
    _assert_same(before, _weights(model2))


def test_strict_false_loads_the_common_tensors(tmp_path):
    model, _, _ = trained()
    save_checkpoint(tmp_path / "ck", model)
    bigger = nn.Sequential(*mlp(seed=2), nn.ReLU(), nn.Linear(3, 3))
    load_checkpoint(tmp_path / "ck", bigger, strict=False)
    assert np.array_equal(bigger.state_dict()["0.weight"], model.state_dict()["0.weight"])


def test_write_killed_midway_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "last", model, opt, sched, step=1)
    first = _weights(model)
    real_write = C._write_file
    calls = []

    def dying_write(path, data):
        calls.append(path)
        if len(calls) == 3:  # half of the third file, then the "crash"
            Path(path).write_bytes(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(C, "_write_file", dying_write)
    model2, opt2, sched2 = trained(steps=5)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(tmp_path / "last", model2, opt2, sched2, step=2)
    monkeypatch.undo()
    fresh, *_ = _fresh()
    ckpt = load_checkpoint(tmp_path / "last", fresh)
    assert ckpt.step == 1
    _assert_same(first, _weights(fresh))
    assert sorted(p.name for p in tmp_path.iterdir()) == [os.readlink(tmp_path / "last"), "last"]


def test_crash_at_the_swap_keeps_previous_checkpoint(tmp_path, monkeypatch):
    model, opt, sched = trained()
    save_checkpoint(tmp_path / "last", model, opt, sched, step=1)

    def no_replace(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(C.os, "replace", no_replace)
    with pytest.raises(CheckpointError):
        save_checkpoint(tmp_path / "last", *trained(steps=4), step=2)
    monkeypatch.undo()
    assert read_checkpoint(tmp_path / "last").step == 1


def test_unwritable_folder_is_a_clear_error_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(CheckpointError, match="cannot write to .*file"):
        save_checkpoint(blocker / "run" / "last", mlp())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_is_a_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="cannot write to"):
            save_checkpoint(folder / "last", mlp())
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_replacing_keeps_one_snapshot_and_loads_the_newest(tmp_path):
    for step in range(3):
        model, opt, sched = trained(steps=step + 1)
        save_checkpoint(tmp_path / "last", model, opt, sched, step=step)
    assert read_checkpoint(tmp_path / "last").step == 2
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".last")]) == 1
    assert read_checkpoint(tmp_path).step == 2  # a run folder resolves to its `last`


def test_missing_checkpoint_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope", mlp())


_SAVER = """
import sys, numpy as np
from pathlib import Path
from deepgrad import nn
from deepgrad.train import save_checkpoint
model = nn.Linear(1000, 1500)
progress = Path(sys.argv[2])
for k in range(10_000):
    for p in model.parameters():
        p.data[...] = k
    save_checkpoint(sys.argv[1], model, step=k)
    progress.write_text(str(k))
"""


@pytest.mark.slow
def test_sigkill_during_large_saves_leaves_a_loadable_checkpoint(tmp_path):
    script = tmp_path / "saver.py"
    script.write_text(textwrap.dedent(_SAVER))
    progress = tmp_path / "progress"
    target = tmp_path / "ck" / "last"
    rng = np.random.default_rng()
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, str(script), str(target), str(progress)])
        deadline = time.time() + 60
        while not progress.exists() and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.4))  # lands inside some save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        model = nn.Linear(1000, 1500)
        ckpt = load_checkpoint(target, model)
        assert np.all(model.weight.numpy() == ckpt.step)
        progress.unlink()


def test_refuses_to_replace_a_folder_that_is_not_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a checkpoint; refusing"):
        save_checkpoint(run, mlp())
    assert (run / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_copied_plain_folder_checkpoint_is_replaced(tmp_path):
    import shutil

    save_checkpoint(tmp_path / "a", mlp(seed=0), step=1)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # a real folder, not a symlink
    save_checkpoint(tmp_path / "b", mlp(seed=1), step=2)
    assert os.path.islink(tmp_path / "b") and read_checkpoint(tmp_path / "b").step == 2
    assert len([p for p in tmp_path.iterdir() if p.name.startswith(".b")]) == 1
