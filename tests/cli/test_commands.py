"""The commands end to end on the spiral recipe (reduced with --quick)."""

from __future__ import annotations

import json
import re

import numpy as np


def test_train_writes_the_run_folder(spiral_run):
    out, proc = spiral_run
    for name in ["config.json", "metrics.jsonl", "metrics.csv", "summary.md",
                 "learning_curves.png", "decision_regions.png"]:  # fmt: skip
        assert (out / name).is_file(), name
    assert (out / "checkpoint" / "last" / "manifest.json").is_file()
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"] == "spiral" and config["epochs"] == 30 and config["quick"]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 30 and "val_accuracy" in json.loads(lines[-1])
    summary = (out / "summary.md").read_text()
    for word in ["parameters", "training time", "the doctor's verdict", "val_accuracy"]:
        assert word in summary
    assert "epoch 30/30" in proc.stdout and "plots:" in proc.stdout


def test_list_shows_every_recipe_with_one_line(run_cli):
    proc = run_cli("list")
    assert proc.returncode == 0
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    expected = {"spiral", "mnist-mlp", "init-compare", "regularization-compare",
                "optimizer-compare", "lr-schedules"}  # fmt: skip
    assert expected <= set(names)


def test_eval_and_predict(run_cli, spiral_run, tmp_path):
    out, _ = spiral_run
    proc = run_cli("eval", str(out), "--split", "val")
    assert proc.returncode == 0 and proc.stdout.startswith("val (")
    proc = run_cli("eval", str(out))  # spiral has no test split: the default falls back to val
    assert proc.returncode == 0, proc.stderr
    m = re.match(r"val \((\d+) examples\): loss [0-9.]+, accuracy [0-9.]+", proc.stdout)
    assert m, proc.stdout
    cfg = json.loads((out / "config.json").read_text())
    assert int(m.group(1)) == round(3 * cfg["n_per_class"] * cfg["val_fraction"])
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]], dtype=np.float32))
    proc = run_cli("predict", str(out), str(inputs), "--output", str(tmp_path / "logits.npy"))
    assert proc.returncode == 0, proc.stderr
    assert [int(c) for c in proc.stdout.split()] == list(np.load(tmp_path / "logits.npy").argmax(1))
    proc = run_cli("predict", str(out), str(inputs.with_name("missing.npy")))
    assert proc.returncode == 2


def test_doctor_on_a_recipe_and_on_a_run(run_cli, spiral_run):
    proc = run_cli("doctor", "spiral", "--quick", "--epochs", "8")
    assert proc.returncode == 0, proc.stderr
    for check in ["initial loss", "overfit a tiny batch", "gradients", "activations",
                  "NaN/Inf", "learning curves", "verdict:"]:  # fmt: skip
        assert check in proc.stdout
    stages = [line for line in proc.stdout.splitlines() if line.startswith("doctor spiral [")]
    assert len(stages) == 12 and stages[-1].startswith("doctor spiral [6/6] training 8 epochs")
    last_epoch = r"^epoch 8/8 .* 0s$"  # progress as in a log: a table row ending in the ETA
    assert re.search(last_epoch, proc.stdout, re.MULTILINE)
    proc = run_cli("doctor", str(spiral_run[0]))
    assert proc.returncode == 0 and "learning curves" in proc.stdout


def test_search_grid_with_kfold_prints_and_saves_a_sorted_table(run_cli, tmp_path):
    proc = run_cli("search", "spiral", "--quick", "--epochs", "3", "--grid", "lr=0.1,0.001",
                   "--kfold", "2", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "| rank | lr |" in proc.stdout
    trials = [line for line in proc.stdout.splitlines() if line.startswith("search spiral [")]
    assert trials[0] == "search spiral [1/2] trial lr=0.1 ..." and len(trials) == 4
    assert re.match(r"search spiral \[2/2\] trial lr=0.001: val_loss [0-9.]+; best so far "
                    r"[0-9.]+ \(lr=0\.1", trials[3]), trials  # fmt: skip
    rows = (tmp_path / "search.csv").read_text().splitlines()
    assert rows[0].startswith("rank,lr") and len(rows) == 3
    assert (tmp_path / "search.md").is_file()


def test_search_random(run_cli, tmp_path):
    proc = run_cli("search", "spiral", "--quick", "--epochs", "2", "--random", "2", "--space",
                   "lr=log:1e-3:1e-1", "hidden=16,32", "--out", str(tmp_path))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len((tmp_path / "search.csv").read_text().splitlines()) == 3
    before = (tmp_path / "search.csv").read_bytes()
    again = ["search", "spiral", "--quick", "--epochs", "2", "--random", "1", "--space",
             "lr=log:1e-3:1e-1", "--out", str(tmp_path)]  # fmt: skip
    proc = run_cli(*again)  # an earlier search is not overwritten without --force
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert (tmp_path / "search.csv").read_bytes() == before
    proc = run_cli(*again, "--force")
    assert proc.returncode == 0 and len((tmp_path / "search.csv").read_text().splitlines()) == 2


def test_lr_find_writes_its_plot(run_cli, tmp_path):
    proc = run_cli("lr-find", "spiral", "--quick", "--num-iter", "30", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "suggested learning rate" in proc.stdout or "no suggestion" in proc.stdout
    line = r"^lr-find spiral: (\d+)/30 steps - lr .* steps/s - ETA"
    steps = re.findall(line, proc.stdout, re.MULTILINE)
    assert steps[0] == "1" and len(steps) >= 3, proc.stdout  # progress lines in a log
    assert (tmp_path / "lr_find.png").is_file()


def test_gradcheck_quick_prints_a_table(run_cli):
    proc = run_cli("gradcheck", "--quick", "--only", "a")
    assert proc.returncode == 0, proc.stdout[-2000:]
    lines = proc.stdout.splitlines()
    assert re.match(r"gradcheck: 1/\d+ checks - .* ETA", lines[0])  # progress in a log
    head = next(line for line in lines if not line.startswith("gradcheck:")).split()
    assert head[:3] == ["kind", "name", "cases"]
    assert "passed" in proc.stdout and "primitive" in proc.stdout and "layer" in proc.stdout


def test_gradcheck_of_a_layer_with_nested_outputs(run_cli):
    proc = run_cli("gradcheck", "--quick", "--only", "LSTM")  # LSTM returns (out, (h, c))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(r"^layer\s+LSTM\s+1\s+\S+\s+ok", proc.stdout, re.MULTILINE), proc.stdout


def test_version(run_cli):
    from deepgrad import __version__

    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"deepgrad {__version__}"


def test_resuming_a_finished_run_says_how_to_extend_it(run_cli, spiral_run):
    out, _ = spiral_run
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    proc = run_cli("train", "--resume", str(out), "--epochs", "30")
    assert proc.returncode == 0, proc.stderr
    assert "already trained all its 30 epochs" in proc.stdout
    assert f"deepgrad train --resume {out} --epochs 60" in proc.stdout
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_list_into_a_pipe_that_closes_early_is_quiet():
    import subprocess
    import sys

    cmd = f"{sys.executable} -m deepgrad list | head -1"
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120, check=False)
    assert proc.stdout.count("\n") == 1 and "error" not in proc.stderr, proc.stderr
