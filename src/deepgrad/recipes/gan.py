"""gan: a DCGAN on MNIST (Radford et al. 2016) with the non-saturating loss.

Generator: noise -> Linear -> two stride-2 transposed convs -> tanh; discriminator: two
stride-2 convs -> one logit; batch norm (or `norm=spectral`, Miyato et al. 2018), one-sided
label smoothing 0.1 (Salimans et al. 2016), Adam(2e-4, beta1 = 0.5).  The sample grid shows
the same 8 noise vectors over training; `loss=minimax` plays the original game instead.
`arch=mlp` swaps in MLPs (faster on a CPU).  Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._experiment import Experiment
from ._gan_mnist import gan_config, images, make_trainer, train
from ._generative import mosaic

NAME = "gan"
DESCRIPTION = "DCGAN on MNIST: sample grids over training, losses (needs MNIST)"
QUICK = {"steps": 6, "snapshots": 2, "width": 4, "batch_size": 16, "subset": 256,
         "test_subset": 16}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {**gan_config(), "arch": "dcgan"}


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    trainer = make_trainer(config, config["arch"], 0, rng)
    z = rng.standard_normal((8, config["latent_dim"])).astype(np.float32)
    rows: dict[int, np.ndarray] = {}
    train(exp, config, trainer, False, lambda step: rows.__setitem__(step, images(trainer, z)))
    grid = np.stack(list(rows.values()))
    exp.plots.append(mosaic(grid, exp.out / "samples_over_training.png",
                            "The same 8 noise vectors through training",
                            [f"step {s}" for s in rows]))  # fmt: skip
    final = images(trainer, rng.standard_normal((64, config["latent_dim"])).astype(np.float32))
    exp.plots.append(mosaic(final.reshape(8, 8, 28, 28), exp.out / "samples.png",
                            f"64 samples after {config['steps']} steps"))  # fmt: skip
    last = exp.records[-1]
    exp.table(
        "Last step",
        [{k: last[k] for k in ("step", "d_loss", "g_loss", "d_real", "d_fake")}],
        "d_real / d_fake: D's mean probability that real / generated digits are real.",
    )
    return exp.finish()
