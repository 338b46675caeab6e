"""deep-dream: what a trained MNIST CNN's channels look for, deep dream, TCAV and ablation.

- Activation maximisation (Erhan et al. 2009): for each channel $u$ of both conv
  layers, $x^* = \\arg\\max_x \\bar a_u(x) - \\lambda\\lVert x\\rVert^2$ by gradient ascent
  from small noise, with jitter and blur as image priors; drawn as a filter grid.
- Deep dream (Mordvintsev et al. 2015): ascend $\\tfrac12\\lVert a_\\ell(x)\\rVert^2$ from
  test digits, amplifying whatever the second conv layer sees in them.
- TCAV (Kim et al. 2018): a concept ("a horizontal bar at the top", drawn
  synthetically) against random training digits gives a concept activation vector in the
  second conv layer; the score is the fraction of a class's digits whose logit
  grows along it (7s should score higher than 1s, say).
- Ablation: accuracy with each channel of each conv layer zeroed, the drop table.

Needs MNIST (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.core.random import manual_seed
from deepgrad.models.visualize import ablation, activation_maximization, deep_dream, tcav
from deepgrad.train.progress import Stages

from ._experiment import Experiment, tag
from ._mnist_small import fit, mnist_images, small_cnn
from .mnist_mlp import settle  # noqa: F401 (the config hook: config.json records the val_size used)

NAME = "deep-dream"
DESCRIPTION = "activation maximisation, deep dream, TCAV and ablation of a trained MNIST CNN"
QUICK = {"epochs": 1, "subset": 1500, "steps": 10, "dream_steps": 5, "n_eval": 100}
LAYERS = {"conv1": "1", "conv2": "4"}  # the ReLU after each convolution in small_cnn


def default_config() -> dict[str, Any]:
    return {"epochs": 3, "lr": 3e-3, "batch_size": 64, "seed": 0, "data": "", "subset": 12000,
            "val_size": 1000, "width": 8, "steps": 150, "dream_steps": 20, "dream_lr": 0.01,
            "n_eval": 1000}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["steps"] < 1 or config["dream_steps"] < 1 or config["n_eval"] < 10:
        raise ValueError("deep-dream: need steps >= 1, dream_steps >= 1 and n_eval >= 10, got "
                         f"{config['steps']}, {config['dream_steps']}, {config['n_eval']}")  # fmt: skip


def top_bar(n: int, seed: int) -> np.ndarray:
    """The TCAV concept: a horizontal stroke near the top of a 28x28 image, at random places."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 1, 28, 28), np.float32)
    for k in range(n):
        r, c, w = rng.integers(4, 10), rng.integers(3, 10), rng.integers(10, 16)
        x[k, 0, r : r + 2, c : c + w] = 1.0
    return x


def _filters(model: Any, config: dict[str, Any], out: Path) -> Path:
    pics, labels = [], []
    for name, layer in LAYERS.items():
        n = config["width"] * (1 if name == "conv1" else 2)
        for u in range(n):
            img = activation_maximization(model, layer, u, (1, 28, 28), steps=config["steps"],
                                          lr=0.05, seed=config["seed"] + u)  # fmt: skip
            pics.append(img[0])
            labels.append(f"{name} ch {u}")
    return plots.image_grid(np.stack(pics), out / "activation_maximization.png",
                            "Activation maximisation: the input each channel responds to most "
                            "(red > 0 > blue)",
                            labels, cols=8, cmap="RdBu_r")  # fmt: skip


def _dreams(model: Any, x: np.ndarray, config: dict[str, Any], out: Path) -> Path:
    dreams = [deep_dream(model, d, LAYERS["conv2"], steps=config["dream_steps"],
                         lr=config["dream_lr"], seed=config["seed"]) for d in x]  # fmt: skip
    pics = np.concatenate([x[:, 0], np.stack(dreams)[:, 0]])
    labels = ["test digit"] * len(x) + ["deep dream (conv2)"] * len(x)
    return plots.image_grid(pics, out / "deep_dream.png",
                            f"Deep dream: {config['dream_steps']} ascent steps on conv2's energy",
                            labels, cols=len(x))  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, _, test = mnist_images(config)
    manual_seed(config["seed"])
    stages = Stages(5, NAME)
    model = small_cnn(config["width"])
    with stages.stage(f"train the CNN ({config['epochs']} epochs)") as st:
        records = fit(model, train, test, config["epochs"], config["lr"],
                      config["batch_size"], config["seed"])  # fmt: skip
        exp.records += tag(records, model="cnn")
        st.result = f"test accuracy {records[-1]['test_accuracy']:.3g}"
    model.eval()
    with stages.stage("feature visualisation of the filters"):
        exp.plots.append(_filters(model, config, exp.out))
    with stages.stage("deep dream on six test digits"):
        exp.plots.append(_dreams(model, test[0][:6], config, exp.out))
    n = min(config["n_eval"], len(test[1]))
    x, y = test[0][:n], test[1][:n]
    pick = np.random.default_rng(config["seed"]).choice(len(train[1]), 60, replace=False)
    randoms = train[0][pick]  # random digits: the CAV must separate the bar from digit strokes
    concept = top_bar(60, config["seed"])
    rows = []
    stages.start("TCAV of the concept 'top bar' for the ten classes")
    for digit in range(10):
        mine = x[y == digit][:50]
        if len(mine):
            r = tcav(model, LAYERS["conv2"], concept, randoms, mine, digit, seed=config["seed"])
            rows.append({"class": digit, "TCAV score (top bar)": r["score"],
                         "CAV held-out accuracy": r["cav_accuracy"]})  # fmt: skip
    stages.end(f"{len(rows)} classes scored")
    stages.start("ablation of each channel")
    exp.table("TCAV: the concept 'horizontal bar at the top' in conv2, per class", rows,
              "The score is the fraction of the class's test digits whose logit grows along "
              "the concept direction; 0.5 is what a random direction gives on average.")  # fmt: skip
    table = ablation(model, x, y, list(LAYERS.values()), units=config["width"])
    stages.end(f"{len(table)} rows")
    names = {v: k for k, v in LAYERS.items()}
    for row in table:
        layer, _, rest = row["ablated"].partition("[")
        row["ablated"] = f"{names.get(layer, layer)}[{rest}" if rest else row["ablated"]
    exp.table("Ablation: accuracy with one channel zeroed", table,
              f"On {n} test digits; conv2's channels beyond the first {config['width']} "
              "are left out for brevity.")  # fmt: skip
    return exp.finish()
