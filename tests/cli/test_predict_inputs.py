"""`predict` takes raw inputs and applies the recipe's preprocessing, as the evaluation did."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deepgrad.data import spiral
from deepgrad.recipes._runner import load_run
from deepgrad.train import predict


@pytest.fixture
def spiral_dir(spiral_run):
    return spiral_run[0]  # the CLI tests' shared quick spiral run (conftest.py)


def test_predict_on_raw_points_gives_the_classes_of_the_evaluation_path(run_cli, spiral_dir,
                                                                        tmp_path):  # fmt: skip
    cfg = json.loads((spiral_dir / "config.json").read_text())
    raw_all, _ = spiral(cfg["n_per_class"], 3, cfg["noise"], seed=cfg["seed"])
    std = raw_all.std(axis=0)  # the recipe trains on raw points / std
    _, _, setup = load_run(spiral_dir)
    x_val, _ = setup.val
    expected = predict(setup.model, x_val).argmax(axis=1)  # the evaluation path's classes
    raw = tmp_path / "raw.npy"
    np.save(raw, (x_val * std).astype(np.float32))
    proc = run_cli("predict", str(spiral_dir), str(raw))
    assert proc.returncode == 0, proc.stderr
    assert [int(c) for c in proc.stdout.split()] == expected.tolist()
    assert len(set(expected.tolist())) == 3  # a real test: all three classes occur


def test_predict_names_the_expected_input_on_a_wrong_shape(run_cli, spiral_dir, tmp_path):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 3), dtype=np.float32))
    proc = run_cli("predict", str(spiral_dir), str(bad))
    assert proc.returncode == 2
    assert "inputs of shape (4, 3) do not fit spiral: expected (N, 2) points" in proc.stderr


def test_predict_help_says_what_each_recipe_expects(run_cli):
    proc = run_cli("predict", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "spiral: (N, 2) points" in text
    assert (
        "mnist-mlp: raw 28x28 digits, (N, 28, 28), (N, 784) or (N, 1, 28, 28), pixel values 0-255"
        in text
    )


@pytest.mark.slow
def test_mnist_predict_on_raw_pixels_matches_the_evaluation(run_cli, mnist_dir, tmp_path):
    from deepgrad.data import MNIST

    out = tmp_path / "mlp"
    proc = run_cli("train", "mnist-mlp", "--quick", "--data", str(mnist_dir.parent), "--out",
                   str(out), "-q")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads((out / "config.json").read_text())["val_size"]
    proc = run_cli("eval", str(out), "--split", "val")  # config.json records what ran
    assert proc.returncode == 0 and proc.stdout.startswith(f"val ({recorded} examples)")
    assert recorded == 600  # quick: a fifth of its 3000 training images
    images = MNIST(mnist_dir.parent, train=False).data[:50]  # uint8 0-255, (50, 28, 28)
    _, _, setup = load_run(out)
    standardised = ((images.reshape(50, -1) / 255.0 - 0.1307) / 0.3081).astype(np.float32)
    expected = predict(setup.model, standardised).argmax(axis=1)
    raw = tmp_path / "digits.npy"
    np.save(raw, images)
    proc = run_cli("predict", str(out), str(raw))
    assert proc.returncode == 0, proc.stderr
    assert [int(c) for c in proc.stdout.split()] == expected.tolist()
    np.save(raw, images / 255.0 * 300)  # beyond 255: refused, saying what is expected
    proc = run_cli("predict", str(out), str(raw))
    assert proc.returncode == 2 and "pixel values 0-255" in proc.stderr
