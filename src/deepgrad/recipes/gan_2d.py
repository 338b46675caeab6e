"""gan-2d: a GAN on a ring of 8 Gaussians, the standard picture of mode collapse.

A small MLP generator (8-d noise -> 2-D point) and discriminator play the non-saturating
game (Goodfellow et al. 2014); every `eval_every` steps we count the modes covered (>= 1%
of 2,000 samples within 3 std of a centre; Srivastava et al. 2017) and the share of such
high-quality samples.  `loss=minimax` runs the original game for comparison, and
`label_smoothing`/`spectral_norm` turn on the usual stabilisers.  No data files needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots
from deepgrad.core.state import no_grad
from deepgrad.models.generative import (
    GANTrainer,
    MLPDiscriminator,
    MLPGenerator,
    mode_coverage,
    ring_centres,
    ring_of_gaussians,
)
from deepgrad.train.progress import Progress

from ._experiment import Experiment

NAME = "gan-2d"
DESCRIPTION = "GAN on a ring of 8 Gaussians: generated over real points, mode coverage"
QUICK = {"steps": 150, "eval_every": 50}
STD = 0.05


def default_config() -> dict[str, Any]:
    return {"steps": 2000, "eval_every": 250, "batch_size": 128, "lr": 1e-3, "hidden": 128,
            "latent_dim": 8, "loss": "non-saturating", "label_smoothing": 0.0,
            "spectral_norm": False, "seed": 0}  # fmt: skip


def _draw(real: np.ndarray, snapshots: dict[int, np.ndarray], path: Path) -> Path:
    plt = plots._plt()
    steps = list(snapshots)
    fig, axes = plt.subplots(1, len(steps), figsize=(3 * len(steps), 3.3), squeeze=False)
    centres = ring_centres()
    for ax, step in zip(axes[0], steps):
        ax.scatter(real[:, 0], real[:, 1], s=3, c="#1f77b4", alpha=0.4, label="real")
        fake = snapshots[step]
        ax.scatter(fake[:, 0], fake[:, 1], s=3, c="#d62728", alpha=0.4, label="generated")
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="k", s=25, label="mode centres")
        covered, _ = mode_coverage(fake, std=STD)
        ax.set(title=f"step {step}: {covered}/8 modes", xlim=(-3, 3), ylim=(-3, 3), aspect="equal",
               xlabel="$x_1$", ylabel="$x_2$")  # fmt: skip
    axes[0][0].legend(fontsize=7, loc="center", markerscale=2)
    fig.suptitle("Generated (red) over real (blue) samples during training")
    return plots.save(fig, path)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    h = (config["hidden"], config["hidden"])
    G = MLPGenerator(config["latent_dim"], 2, h, generator=rng)
    D = MLPDiscriminator(2, h, spectral_norm=config["spectral_norm"], generator=rng)
    adam = {"lr": config["lr"], "betas": (0.5, 0.999)}
    trainer = GANTrainer(G, D, optim.Adam(G.parameters(), **adam), optim.Adam(D.parameters(), **adam),
                         config["latent_dim"], rng, loss=config["loss"],
                         label_smoothing=config["label_smoothing"])  # fmt: skip
    snapshots, losses = {}, {"D loss": [], "G loss": []}
    progress = Progress(config["steps"], exp.name)
    for step in range(1, config["steps"] + 1):
        stats = trainer.step(ring_of_gaussians(config["batch_size"], rng, std=STD))
        losses["D loss"].append(stats["d_loss"])
        losses["G loss"].append(stats["g_loss"])
        progress.update(d_loss=stats["d_loss"], g_loss=stats["g_loss"])
        if step % config["eval_every"] == 0 or step == config["steps"]:
            with no_grad():
                fake = G(trainer.noise(2000)[0])._data
            covered, quality = mode_coverage(fake, std=STD)
            exp.records.append({"step": step, "modes_covered": covered, "high_quality": quality,
                                **stats})  # fmt: skip
            snapshots[step] = fake
    progress.close()
    keep = list(snapshots)[:: max(1, len(snapshots) // 4)][-3:] + [config["steps"]]
    real = ring_of_gaussians(2000, rng, std=STD)
    exp.plots.append(_draw(real, {s: snapshots[s] for s in dict.fromkeys(keep)},
                           exp.out / "generated_over_real.png"))  # fmt: skip
    exp.plots.append(plots.curves(losses, exp.out / "losses.png", "GAN losses per step",
                                  xlabel="step"))  # fmt: skip
    first7 = next((r["step"] for r in exp.records if r["modes_covered"] >= 7), None)
    last = exp.records[-1]
    exp.table("Mode coverage", [{"steps": config["steps"], "modes covered (of 8)": last["modes_covered"],
              "high-quality samples": last["high_quality"],
              "first step with >= 7 modes": first7 if first7 is not None else "never"}],
              "Covered: >= 1% of 2,000 samples within 3 std of the mode centre.")  # fmt: skip
    return exp.finish()
