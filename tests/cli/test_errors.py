"""Error paths: exit status 2 and a one-line `deepgrad: error: ...`, never a traceback."""

from __future__ import annotations

import pytest


def assert_one_line_error(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepgrad: error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for word in words:
        assert word in lines[0], lines[0]


def test_unknown_recipe_lists_the_valid_ones(run_cli, tmp_path):
    proc = run_cli("train", "spirall", "--out", str(tmp_path / "r"))
    assert_one_line_error(proc, "unknown recipe 'spirall'", "spiral", "mnist-mlp", "init-compare")


@pytest.mark.parametrize(
    "args,words",
    [
        (["--epochs", "-3"], ["epochs must be >= 1"]),
        (["--lr", "abc"], ["lr must be a number"]),
        (["--lr", "0"], ["lr must be > 0"]),
        (["--batch-size", "2.5"], ["batch_size must be an integer"]),
        (["--optimizer", "magic"], ["unknown optimizer 'magic'", "adam"]),
        (["--set", "nope=1"], ["no setting 'nope'"]),
        (["--set", "noise"], ["KEY=VALUE"]),
    ],
)
def test_bad_values_exit_2(run_cli, tmp_path, args, words):
    assert_one_line_error(run_cli("train", "spiral", "--out", str(tmp_path / "r"), *args), *words)


def test_unwritable_out(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_cli("train", "spiral", "--quick", "--out", str(blocker / "run"))
    assert_one_line_error(proc, "cannot write to --out")


def test_resume_of_a_missing_run(run_cli, tmp_path):
    assert_one_line_error(run_cli("train", "--resume", str(tmp_path / "none")), "not a run folder")


def test_resume_of_a_run_without_checkpoint(run_cli, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"recipe": "spiral"}')
    assert_one_line_error(run_cli("train", "--resume", str(run)), "no checkpoint")


def test_unknown_command_and_missing_recipe(run_cli):
    assert_one_line_error(run_cli("bogus"), "invalid choice")
    assert_one_line_error(run_cli("train"), "needs a RECIPE")


def test_config_files_json_and_toml(run_cli, tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"epochs": "many"}')
    assert_one_line_error(run_cli("train", "spiral", "--config", str(bad)), "epochs")
    toml = tmp_path / "c.toml"
    toml.write_text("epochs = 0\n")
    assert_one_line_error(run_cli("train", "spiral", "--config", str(toml)), "epochs must be")
    assert_one_line_error(run_cli("train", "spiral", "--config", str(tmp_path / "x.yaml")))


def test_missing_mnist_says_where_to_put_the_files(run_cli, tmp_path):
    proc = run_cli("train", "mnist-mlp", "--quick", "--data", str(tmp_path / "empty"),
                   "--out", str(tmp_path / "r"))  # fmt: skip
    assert_one_line_error(proc, "MNIST files not found", "train-images-idx3-ubyte.gz", "--data")


def test_experiments_cannot_be_evaluated(run_cli, tmp_path):
    assert_one_line_error(run_cli("eval", str(tmp_path)), "not a run folder")
    assert_one_line_error(run_cli("lr-find", "init-compare"), "needs a training recipe")


def test_a_run_that_fails_before_training_leaves_no_folder(run_cli, tmp_path):
    out = tmp_path / "never"
    proc = run_cli(
        "train", "mnist-mlp", "--data", str(tmp_path / "no-mnist-here"), "--out", str(out)
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    proc = run_cli("train", "mnist-mlp", "--data", str(tmp_path / "no-mnist-here"), "--out",
                   str(kept), "--force")  # fmt: skip
    assert proc.returncode == 2 and (kept / "notes.txt").read_text() == "mine"
