"""Every documented option with a bad value: exit status 2, one line, nothing written.

Run in-process through `deepgrad.cli.main` (a subprocess per case would cost seconds each).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from deepgrad.cli import main


def refused(capsys, argv: list[str], *words: str) -> str:
    """Run the CLI; assert exit 2 and one `deepgrad: error:` line holding `words`."""
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse's own usage errors
        status = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2, (argv, err)
    assert len(err) == 1 and err[0].startswith("deepgrad: error:"), err
    for word in words:
        assert word in err[0], err[0]
    return err[0]


SET_CASES = [
    ("depth=-1", "depth must be >= 1"), ("depth=0", "depth must be >= 1"),
    ("noise=-0.1", "noise must be >= 0"), ("hidden=0", "hidden must be >= 1"),
    ("hidden=2.5", "hidden must be an integer"), ("lr=-1", "lr must be > 0"),
    ("lr=nan", "lr must be a number"), ("lr=inf", "lr must be finite"),
    ("epochs=0", "epochs must be >= 1"), ("batch_size=0", "batch_size must be >= 1"),
    ("seed=-1", "seed must be in [0"), ("val_fraction=1", "val_fraction must be in [0, 1)"),
    ("val_fraction=-0.5", "val_fraction"), ("n_per_class=0", "n_per_class must be >= 1"),
    ("weight_decay=-1", "weight_decay must be >= 0"), ("activation=swish", "unknown activation"),
    ("optimizer=magic", "unknown optimizer"), ("cosine=maybe", "cosine must be true or false"),
    ("nope=1", "no setting 'nope'"), ("=3", "KEY=VALUE"), ("depth", "KEY=VALUE"),
]  # fmt: skip


@pytest.mark.parametrize(("assignment", "words"), SET_CASES)
def test_every_set_value_is_checked_against_the_schema(capsys, tmp_path, assignment, words):
    out = tmp_path / "run"
    refused(capsys, ["train", "spiral", "--out", str(out), "--set", assignment], words)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [("--epochs", "abc", "epochs must be an integer"), ("--lr", "0", "lr must be > 0"),
     ("--batch-size", "-4", "batch_size must be >= 1"), ("--seed", "1.5", "seed must be an integer"),
     ("--optimizer", "lbfgs2", "unknown optimizer"), ("--save-every", "0", "positive number"),
     ("--save-every", "nan", "positive number"), ("--config", "missing.json", "does not exist")],
)  # fmt: skip
def test_every_train_option_with_a_bad_value(capsys, tmp_path, option, value, words):
    refused(capsys, ["train", "spiral", "--out", str(tmp_path / "r"), option, value], words)


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [("list.json", "[1, 2]", "table of settings"), ("scalar.json", "5", "table of settings"),
     ("inner.json", '{"config": 5}', "must be a table"), ("bad.json", "{", "not valid JSON"),
     ("conf.yaml", "a: 1", "must end in .json or .toml"),
     ("bad.toml", "depth = -2", "depth must be >= 1"), ("key.toml", "colour = 1", "no setting")],
)  # fmt: skip
def test_config_files_that_are_not_a_table_of_valid_settings(capsys, tmp_path, name, text, words):
    path = tmp_path / name
    path.write_text(text)
    refused(capsys, ["train", "spiral", "--out", str(tmp_path / "r"), "--config", str(path)], words)


@pytest.mark.parametrize(
    ("args", "words"),
    [(["--grid", "hidden=0,32"], "hidden must be >= 1"), (["--grid", "bogus=1"], "no setting"),
     (["--grid", "lr="], "KEY=V1,V2"), (["--random", "2", "--space", "lr=log:-1:0.1"], "lo=-1.0"),
        (["--random", "2", "--space", "lr=0:1"], "lr must be > 0"),
     (["--random", "2", "--space", "depth=0:3"], "depth must be >= 1"),
     (["--random", "2", "--space", "activation=relu,gelu"], "unknown activation"),
     (["--random", "2", "--space", "lr"], "KEY=SPEC"), (["--random", "0", "--space", "lr=0.1:1"], "N >= 1"),
     (["--grid", "lr=0.1", "--monitor", "val_bogus"], "--monitor 'val_bogus'"),
     (["--grid", "lr=0.1", "--kfold", "1"], "--kfold must be >= 2")],
)  # fmt: skip
def test_search_spaces_and_monitor_are_checked_before_the_search(capsys, tmp_path, args, words):
    out = tmp_path / "search"
    refused(capsys, ["search", "spiral", "--quick", "--out", str(out), *args], words)
    assert not out.exists()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 2-epoch spiral run."""
    run = tmp_path_factory.mktemp("runs") / "spiral"
    assert main(["train", "spiral", "--quick", "--epochs", "2", "--out", str(run), "-q"]) == 0
    return run


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.parametrize(
    ("values", "words"),
    [(np.array([[np.nan, 0.0]]), "NaN or infinite"), (np.array([[np.inf, 0.0]]), "NaN or infinite"),
     (np.array([[1 + 2j, 0.0]]), "complex128"), (np.array([["a", "b"]]), "predict needs real")],
)  # fmt: skip
def test_predict_refuses_nan_and_complex_inputs(capsys, tmp_path, finished, values, words):
    path = tmp_path / "x.npy"
    np.save(path, values)
    refused(capsys, ["predict", str(finished), str(path)], words)


def test_resume_with_fewer_epochs_says_so_and_changes_nothing(capsys, finished):
    before = _digest(finished)
    refused(capsys, ["train", "--resume", str(finished), "--epochs", "1"],
            "already trained 2 epochs", "--epochs >= 2")  # fmt: skip
    assert _digest(finished) == before


def test_out_into_a_folder_that_is_not_a_run(capsys, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8")
    refused(capsys, ["train", "spiral", "--out", str(folder)], "not a deepgrad run", "--force")
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]
    argv = ["train", "spiral", "--quick", "--epochs", "1", "--out", str(folder), "--force", "-q"]
    assert main(argv) == 0
    assert json.loads((folder / "config.json").read_text())["recipe"] == "spiral"
    assert (folder / "holiday.jpg").read_bytes() == b"\xff\xd8"


def test_eval_and_predict_on_a_folder_that_is_not_a_run(capsys, tmp_path):
    refused(capsys, ["eval", str(tmp_path)], "not a run folder")
    np.save(tmp_path / "x.npy", np.zeros((1, 2)))
    refused(capsys, ["predict", str(tmp_path), str(tmp_path / "x.npy")], "not a run folder")
