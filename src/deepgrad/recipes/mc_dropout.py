"""mc-dropout: Monte-Carlo dropout uncertainty of an MNIST CNN on digits, rotated digits and noise.

Gal & Ghahramani (2016): a net trained with dropout, run with dropout still on,
samples from an approximate posterior predictive; the mean of `samples` softmax
outputs $\\bar p = \\frac1S\\sum_s \\mathrm{softmax}(f_{\\theta_s}(x))$ has predictive
entropy $H = -\\sum_c \\bar p_c \\log \\bar p_c$, low where the net is sure and high on
inputs unlike its training data.  Histograms of $H$ over clean test digits,
the same digits rotated by 90 degrees, and uniform noise images show the shift.
Needs MNIST (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.core.random import manual_seed
from deepgrad.models.robustness import mc_dropout
from deepgrad.train.progress import Stages

from ._experiment import Experiment, tag
from ._mnist_small import fit, mnist_images, small_cnn
from .mnist_mlp import settle  # noqa: F401 (the config hook: config.json records the val_size used)

NAME = "mc-dropout"
DESCRIPTION = (
    "MC-dropout predictive entropy of an MNIST CNN: test digits vs rotated digits vs noise"
)
QUICK = {"epochs": 1, "subset": 1500, "samples": 5, "n_eval": 100}


def default_config() -> dict[str, Any]:
    return {"epochs": 3, "lr": 3e-3, "batch_size": 64, "seed": 0, "data": "", "subset": 12000,
            "val_size": 1000, "width": 8, "dropout": 0.5, "samples": 30,
            "n_eval": 1000}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if not 0 < config["dropout"] < 1 or config["samples"] < 1 or config["n_eval"] < 1:
        raise ValueError("mc-dropout: need 0 < dropout < 1, samples >= 1 and n_eval >= 1, got "
                         f"{config['dropout']}, {config['samples']}, {config['n_eval']}")  # fmt: skip


def entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in nats of each row of class probabilities."""
    return -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, _, test = mnist_images(config)
    manual_seed(config["seed"])
    stages = Stages(4, NAME)
    model = small_cnn(config["width"], config["dropout"], np.random.default_rng(config["seed"]))
    with stages.stage(f"train the CNN with dropout ({config['epochs']} epochs)") as st:
        records = fit(model, train, test, config["epochs"], config["lr"], config["batch_size"],
                      config["seed"])  # fmt: skip
        st.result = f"test accuracy {records[-1].get('test_accuracy', float('nan')):.3g}"
    exp.records += tag(records, model="cnn with dropout")
    n = min(config["n_eval"], len(test[1]))
    x, y = test[0][:n], test[1][:n]
    noise = np.random.default_rng(config["seed"]).uniform(0, 1, x.shape).astype(np.float32)
    inputs = {"test digits": x, "rotated 90 degrees": np.rot90(x, 1, axes=(2, 3)).copy(),
              "uniform noise": noise}  # fmt: skip
    ent, rows = {}, []
    for name, xs in inputs.items():
        with stages.stage(f"{config['samples']} dropout samples on {name}") as st:
            mean, std = mc_dropout(model, xs, samples=config["samples"])
            st.result = f"mean entropy {float(entropy(mean).mean()):.3g} nats"
        ent[name] = entropy(mean)
        row = {"inputs": name, "mean entropy (nats)": float(ent[name].mean()),
               "mean std of p": float(std.max(axis=1).mean())}  # fmt: skip
        row["accuracy"] = "-" if name == "uniform noise" else float((mean.argmax(1) == y).mean())
        rows.append(row)
    exp.plots.append(plots.overlaid_histograms(ent, exp.out / "entropy.png",
                                               f"MC dropout ({config['samples']} samples, p = "
                                               f"{config['dropout']}): predictive entropy",
                                               "predictive entropy (nats; max log 10 = 2.30)"))  # fmt: skip
    exp.table(
        "Predictive uncertainty",
        rows,
        "'mean std of p' is the spread over dropout samples of the top class's probability.",
    )
    return exp.finish()
