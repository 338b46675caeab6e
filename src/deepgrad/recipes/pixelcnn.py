"""pixelcnn: PixelCNN (van den Oord et al. 2016) on binarised MNIST.

A 7x7 mask-A convolution and residual 3x3 mask-B convolutions give every pixel a Bernoulli
conditional on the pixels above and to its left; training minimises the exact negative
log-likelihood (nats per image, reported on test digits), and sampling draws the 784
pixels one by one.  Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots
from deepgrad.core.state import no_grad
from deepgrad.models.generative import PixelCNN
from deepgrad.models.generative._layers import minibatches
from deepgrad.train.progress import Progress

from ._experiment import Experiment
from ._generative import data_config, load_digits, mosaic

NAME = "pixelcnn"
DESCRIPTION = "PixelCNN on binarised MNIST: test NLL and samples drawn pixel by pixel"
QUICK = {"epochs": 1, "channels": 4, "layers": 1, "subset": 64, "test_subset": 16, "samples": 2}


def default_config() -> dict[str, Any]:
    return {"epochs": 2, "channels": 16, "layers": 3, "lr": 1e-3, "batch_size": 32,
            "samples": 16, "seed": 0, **data_config(), "subset": 10000,
            "test_subset": 1000}  # fmt: skip


def _nll(model: PixelCNN, X: np.ndarray) -> float:
    """Mean test NLL in nats per image."""
    total = 0.0
    with no_grad():
        for i in range(0, len(X), 200):
            total += float(model.nll(X[i : i + 200])) * len(X[i : i + 200])
    return total / len(X)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    X, _, Xt, _ = load_digits(config)
    X = (X > 0.5).astype(np.float32).reshape(-1, 1, 28, 28)
    Xt = (Xt > 0.5).astype(np.float32).reshape(-1, 1, 28, 28)
    model = PixelCNN(config["channels"], config["layers"], generator=rng)
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    losses = []
    progress = Progress(config["epochs"], exp.name, unit="epoch")
    for epoch in range(config["epochs"]):
        for idx in minibatches(len(X), config["batch_size"], rng):
            loss = model.nll(X[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        exp.records.append({"epoch": epoch, "train_nll": float(np.mean(losses[-20:])),
                            "test_nll": _nll(model, Xt)})  # fmt: skip
        progress.update(test_nll=exp.records[-1]["test_nll"])
    progress.close()
    exp.plots.append(plots.curves({"train (per batch)": losses}, exp.out / "nll_curve.png",
                                  "PixelCNN negative log-likelihood", xlabel="step",
                                  ylabel="nats per image"))  # fmt: skip
    n = config["samples"]
    samples = model.sample(n, (28, 28), rng)[:, 0]
    cols = min(8, n)
    exp.plots.append(mosaic(samples[: (n // cols) * cols].reshape(-1, cols, 28, 28),
                            exp.out / "samples.png", "PixelCNN samples (drawn pixel by pixel)"))  # fmt: skip
    exp.table("Test negative log-likelihood", [{"nats per image": exp.records[-1]["test_nll"],
              "bits per pixel": exp.records[-1]["test_nll"] / (784 * np.log(2))}])  # fmt: skip
    return exp.finish()
