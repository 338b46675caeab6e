"""Every recipe runs end to end in its reduced (--quick) mode and writes all its files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deepgrad.recipes import Recipe, UnknownRecipe, available, get

REPO = Path(__file__).resolve().parents[2]
COMMON = ["config.json", "metrics.jsonl", "metrics.csv", "summary.md"]
PLOTS = {
    "spiral": ["learning_curves.png", "decision_regions.png"],
    "init-compare": ["activations_tanh.png", "activations_relu.png", "gradients_tanh.png",
                     "gradients_relu.png", "learning_curves.png"],
    "regularization-compare": ["generalization_gap.png", "accuracy.png"],
    "optimizer-compare": ["trajectories_rosenbrock.png", "trajectories_quadratic.png",
                          "convergence.png", "spiral_curves.png"],
    "lr-schedules": ["schedules.png", "learning_curves.png"],
    "mnist-mlp": ["learning_curves.png", "first_layer_weights.png"],
    "mnist-lenet": ["learning_curves.png", "filters.png", "saliency.png"],
    "mnist-transfer": ["transfer_curves.png"],
    "gnn-sbm": ["accuracy.png", "graph.png"],
    "detect-shapes": ["map.png", "detections.png"],
    "segment-shapes": ["miou.png", "segmentations.png"],
    "cartpole-dqn": ["returns.png"],
    "cartpole-a2c": ["returns.png"],
    "meta-lr": ["schedules.png", "meta_curve.png", "per_layer_rates.png"],
    "adversarial": ["accuracy_linf.png", "accuracy_l2.png", "adversarial_digits.png"],
    "distillation": ["distillation.png"],
    "forgetting": ["forgetting.png"],
    "mc-dropout": ["entropy.png"],
    "deep-dream": ["activation_maximization.png", "deep_dream.png"],
    "style-transfer": ["style_transfer.png", "loss.png"],
    "adding-problem": ["learning_curves.png", "gradient_by_step.png"],
    "reverse": ["learning_curves.png", "attention_maps.png"],
    "char-lm": ["perplexity.png"],
    "sentiment": ["accuracy.png"],
    "sine-forecast": ["learning_curves.png", "forecast.png"],
}  # fmt: skip
# comparison recipes: how many arms each announces (a start and an end line per arm)
ARMS = {"init-compare": 10, "optimizer-compare": 11, "regularization-compare": 5,
        "lr-schedules": 6, "mnist-transfer": 4, "gnn-sbm": 4, "detect-shapes": 2,
        "segment-shapes": 2, "sentiment": 2, "sine-forecast": 2, "char-lm": 2,
        "adding-problem": 2, "distillation": 2, "forgetting": 2, "adversarial": 2,
        "mc-dropout": 4, "deep-dream": 5}  # fmt: skip
# step-loop recipes: `name...: k/N unit(s) - loss ... - rate - ETA` lines in a log
STEPS = {"style-transfer": "steps", "meta-lr": "meta-steps"}
# recipes that read the MNIST files (run with --data when ../shared/data/mnist exists)
MNIST = {n for n in PLOTS if n.startswith("mnist")} | {"adversarial", "distillation",
                                                       "forgetting", "mc-dropout", "deep-dream"}  # fmt: skip


def _train(name: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "deepgrad", "train", name, "--quick", "--out", str(out), *extra]
    return subprocess.run(
        cmd, check=False, capture_output=True, text=True, timeout=300, env=env, cwd=REPO
    )


def test_registry_finds_every_recipe_file():
    recipes = available()
    assert set(PLOTS) <= set(recipes)
    for recipe in recipes.values():
        assert isinstance(recipe, Recipe) and recipe.description
        assert isinstance(recipe.default_config(), dict)
    with pytest.raises(UnknownRecipe, match="valid recipes: "):
        get("nope")


@pytest.mark.parametrize("name", [n for n in PLOTS if n not in MNIST])
def test_recipe_quick_run_writes_all_its_files(name, tmp_path):
    proc = _train(name, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for file in COMMON + PLOTS[name]:
        path = tmp_path / file
        assert path.is_file() and path.stat().st_size > 0, file
    assert json.loads((tmp_path / "config.json").read_text())["recipe"] == name
    assert (tmp_path / "metrics.jsonl").read_text().strip()
    _check_arm_progress(name, proc.stdout)
    if name in STEPS:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(name)]
        assert lines and all(f" {STEPS[name]}/s - ETA " in ln for ln in lines), proc.stdout


def _check_arm_progress(name: str, stdout: str) -> None:
    """A comparison announces each arm (stdout is a pipe here, as in a log): `[k/N] arm ...`
    when it starts, `[k/N] arm: result (time, ETA)` when it ends."""
    if name not in ARMS:
        return
    n = ARMS[name]
    starts = [line for line in stdout.splitlines() if line.startswith(f"{name} [")
              and line.endswith(" ...")]  # fmt: skip
    ends = [line for line in stdout.splitlines() if line.startswith(f"{name} [")
            and not line.endswith(" ...")]  # fmt: skip
    assert [s.split("]")[0] for s in starts] == [f"{name} [{k}/{n}" for k in range(1, n + 1)]
    assert len(ends) == n and all(re.search(r": .+ \([0-9.]+s(, ETA \d+\w*)?\)$", e)
                                  for e in ends), ends  # fmt: skip
    assert all("ETA" in e for e in ends[:-1])


@pytest.mark.parametrize("name", [n for n in PLOTS if n in MNIST])
def test_mnist_recipes_quick(name, mnist_dir, tmp_path):
    proc = _train(name, tmp_path, "--data", str(mnist_dir.parent))
    assert proc.returncode == 0, proc.stderr[-3000:]
    for file in COMMON + PLOTS[name]:
        assert (tmp_path / file).is_file(), file
    _check_arm_progress(name, proc.stdout)


def test_the_spiral_demo_fits_its_training_set(tmp_path):
    """The default demo (full settings, as `make demo` runs it) reaches >= 99% training
    accuracy, its doctor calls it a good fit, and it prints a compact table of epochs."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "deepgrad", "train", "spiral", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300,
                          env=env, cwd=REPO)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    last = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["epoch"] == get("spiral").default_config()["epochs"] - 1
    assert last["accuracy"] >= 0.99
    assert "the doctor's verdict: good fit (both curves flattened low" in proc.stdout
    lines = proc.stdout.splitlines()
    rows = [line for line in lines if re.match(r"epoch \d+/", line)]
    assert lines[1].split()[:3] == ["epoch", "loss", "accuracy"]  # one header
    assert lines[1].split()[-1] == "ETA" and sum(line.startswith("epoch  ") for line in lines) == 1
    assert len(rows) <= 14 and rows[0].startswith("epoch 1/")
    assert rows[-1].split()[1] == f"{last['epoch'] + 1}/{last['epoch'] + 1}"
