"""cgan: a conditional GAN on MNIST (Mirza & Osindero 2014): the class is fed to both nets.

G(z, y) and D(x, y) take the one-hot digit y appended to their inputs (MLPs by default, as
the paper; `arch=dcgan` feeds D the class as constant image planes).  The grid shows, for
each class (row), samples from fixed noise (columns), so style is shared along a column.
Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._experiment import Experiment
from ._gan_mnist import gan_config, images, make_trainer, train
from ._generative import mosaic

NAME = "cgan"
DESCRIPTION = "Conditional GAN on MNIST: a grid of generated digits by class (needs MNIST)"
QUICK = {"steps": 6, "snapshots": 2, "hidden": 32, "batch_size": 16, "subset": 256,
         "test_subset": 16}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {**gan_config(), "arch": "mlp", "steps": 3000, "norm": "none"}


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    trainer = make_trainer(config, config["arch"], 10, rng)
    z = rng.standard_normal((8, config["latent_dim"])).astype(np.float32)
    zz, yy = np.tile(z, (10, 1)), np.repeat(np.arange(10), 8)
    train(exp, config, trainer, True, lambda step: None)
    grid = images(trainer, zz, yy).reshape(10, 8, 28, 28)
    exp.plots.append(mosaic(grid, exp.out / "digits_by_class.png",
                            f"Conditional GAN after {config['steps']} steps: row = requested digit",
                            [str(d) for d in range(10)]))  # fmt: skip
    last = exp.records[-1]
    exp.table(
        "Last step",
        [{k: last[k] for k in ("step", "d_loss", "g_loss", "d_real", "d_fake")}],
        "Each row should show its digit; columns share the noise (the style).",
    )
    return exp.finish()
