"""The MNIST GAN loop shared by the `gan` and `cgan` recipes."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad import optim, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.models.generative import (
    DCGANDiscriminator,
    DCGANGenerator,
    GANTrainer,
    MLPDiscriminator,
    MLPGenerator,
)
from deepgrad.train.progress import Progress

from ._common import RecipeError
from ._experiment import Experiment
from ._generative import data_config, load_digits


def gan_config() -> dict[str, Any]:
    """Settings of both MNIST GAN recipes."""
    return {"steps": 1000, "snapshots": 5, "batch_size": 64, "lr": 2e-4, "latent_dim": 64,
            "width": 16, "hidden": 256, "loss": "non-saturating", "label_smoothing": 0.1,
            "norm": "batch", "seed": 0, **data_config()}  # fmt: skip


def make_trainer(
    c: dict[str, Any], arch: str, num_classes: int, rng: np.random.Generator
) -> GANTrainer:
    """Networks ('dcgan' or 'mlp'), Adam(lr, betas=(0.5, 0.999)) each, and the trainer."""
    if c["norm"] not in ("batch", "spectral", "none"):
        raise RecipeError(f"norm must be batch, spectral or none, got {c['norm']!r}")
    z, h = c["latent_dim"], c["hidden"]
    if arch == "dcgan":
        G = DCGANGenerator(z, c["width"], 1, num_classes, c["norm"] == "batch", generator=rng)
        D = DCGANDiscriminator(c["width"], 1, num_classes, c["norm"] == "batch",
                               c["norm"] == "spectral", generator=rng)  # fmt: skip
    else:
        G = MLPGenerator(z, 784, (h, 2 * h), num_classes, tanh=True, generator=rng)
        D = MLPDiscriminator(784, (2 * h, h), num_classes, c["norm"] == "spectral", generator=rng)
    adam = {"lr": c["lr"], "betas": (0.5, 0.999)}
    return GANTrainer(G, D, optim.Adam(G.parameters(), **adam), optim.Adam(D.parameters(), **adam),
                      z, rng, loss=c["loss"], label_smoothing=c["label_smoothing"],
                      num_classes=num_classes)  # fmt: skip


def images(trainer: GANTrainer, z: np.ndarray, y: Any = None) -> np.ndarray:
    """Generator outputs at fixed noise, as (N, 28, 28) in [0, 1] (eval mode)."""
    trainer.g.eval()
    with no_grad():
        out = trainer.g(Tensor(z), y)._data.reshape(-1, 28, 28)
    trainer.g.train()
    return (out + 1) / 2


def train(exp: Experiment, c: dict[str, Any], trainer: GANTrainer, conditional: bool,
          snapshot: Any) -> None:  # fmt: skip
    """`steps` rounds on minibatches of digits scaled to [-1, 1]; `snapshot(step)` at intervals."""
    X, y, _, _ = load_digits(c)
    X = X * 2 - 1
    if trainer.g.__class__.__name__.startswith("DCGAN"):
        X = X.reshape(-1, 1, 28, 28)
    rng, losses = trainer.rng, {"D loss": [], "G loss": []}
    every = max(1, c["steps"] // max(1, c["snapshots"]))
    progress = Progress(c["steps"], exp.name)
    for step in range(1, c["steps"] + 1):
        idx = rng.integers(0, len(X), c["batch_size"])
        stats = trainer.step(X[idx], y[idx] if conditional else None)
        losses["D loss"].append(stats["d_loss"])
        losses["G loss"].append(stats["g_loss"])
        progress.update(d_loss=stats["d_loss"], g_loss=stats["g_loss"])
        if step % every == 0 or step == c["steps"]:
            exp.records.append({"step": step, **stats})
            snapshot(step)
    progress.close()
    exp.plots.append(plots.curves(losses, exp.out / "losses.png", "GAN losses per step",
                                  xlabel="step"))  # fmt: skip
