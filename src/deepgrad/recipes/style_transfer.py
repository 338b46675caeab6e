"""style-transfer: Gatys et al. (2016) neural style transfer with a small random conv net.

The image $x$ starts at the content image $c$ and descends
$w_c\\lVert F_\\ell(x) - F_\\ell(c)\\rVert^2 + w_s\\sum_\\ell \\lVert G_\\ell(x) - G_\\ell(s)\\rVert^2
+ w_{tv}\\,TV(x)$, with $G_\\ell = F_\\ell F_\\ell^\\top / HW$ the Gram matrix of layer
$\\ell$'s channels (which features fire together, wherever they are: texture).
The content is a generated picture (a disc and a square on a colour gradient) and
the style a generated texture (coloured diagonal stripes), so the recipe needs no
files.  The net's weights are random, not trained: Gatys used ImageNet VGG-19,
which deepgrad cannot download here, and Ustyuzhaninov et al. (2017) showed that
Gram statistics of a wide random conv net already capture simple textures; a
random net also keeps the run to seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, plots
from deepgrad.core.random import manual_seed
from deepgrad.models.visualize import style_transfer
from deepgrad.train.progress import Progress

from ._experiment import Experiment

NAME = "style-transfer"
DESCRIPTION = "Gatys style transfer with a random conv net on a generated picture and texture"
QUICK = {"size": 24, "steps": 5, "channels": 16}


def default_config() -> dict[str, Any]:
    return {"size": 48, "steps": 200, "lr": 0.03, "channels": 48, "seed": 0,
            "style_weight": 1e4, "content_weight": 1.0, "tv_weight": 1e-1}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["size"] < 16 or config["steps"] < 1 or config["channels"] < 1:
        raise ValueError("style-transfer: need size >= 16, steps >= 1 and channels >= 1, got "
                         f"{config['size']}, {config['steps']}, {config['channels']}")  # fmt: skip


def content_image(size: int) -> np.ndarray:
    """(3, size, size) in [0, 1]: a red disc and a blue square on a vertical grey-green gradient."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.3 + 0.2 * yy, 0.5 + 0.3 * yy, 0.3 + 0.1 * yy])
    disc = (yy - 0.35) ** 2 + (xx - 0.35) ** 2 < 0.2**2
    square = (np.abs(yy - 0.68) < 0.16) & (np.abs(xx - 0.68) < 0.16)
    img[:, disc] = np.array([0.9, 0.15, 0.1])[:, None]
    img[:, square] = np.array([0.1, 0.2, 0.85])[:, None]
    return img.astype(np.float32)


def texture_image(size: int) -> np.ndarray:
    """(3, size, size) in [0, 1]: yellow and purple diagonal stripes, period 8 pixels."""
    yy, xx = np.mgrid[0:size, 0:size]
    t = 0.5 + 0.5 * np.sin(2 * np.pi * (xx + yy) / 8.0)
    yellow, purple = np.array([0.95, 0.85, 0.1]), np.array([0.35, 0.05, 0.5])
    return (t[None] * yellow[:, None, None] + (1 - t[None]) * purple[:, None, None]).astype(
        np.float32
    )


def feature_net(channels: int) -> nn.Sequential:
    """Three random 3x3 conv + ReLU stages, the middle one strided."""
    return nn.Sequential(nn.Conv2d(3, channels, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, padding=1, stride=2), nn.ReLU(),
                         nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    manual_seed(config["seed"])
    net = feature_net(config["channels"])
    content, style = content_image(config["size"]), texture_image(config["size"])
    losses: list[float] = []
    progress = Progress(config["steps"], NAME)

    def on_step(step: int, loss: float) -> None:
        losses.append(loss)
        progress.update(loss=loss)

    result = style_transfer(net, content, style, content_layers=["3"], style_layers=["1", "3", "5"],
                            steps=config["steps"], lr=config["lr"],
                            style_weight=config["style_weight"],
                            content_weight=config["content_weight"], tv_weight=config["tv_weight"],
                            callback=on_step)  # fmt: skip
    progress.close()
    exp.records += [{"step": k + 1, "loss": v} for k, v in enumerate(losses)]
    pics = np.stack([content, style, result]).transpose(0, 2, 3, 1)
    exp.plots.append(plots.image_grid(pics, exp.out / "style_transfer.png",
                                      "Gatys style transfer (random conv net)",
                                      ["content", "style", "result"], cols=3))  # fmt: skip
    exp.plots.append(plots.curves({"total loss": losses}, exp.out / "loss.png",
                                  "Style transfer: content + style + TV loss", xlabel="step",
                                  logy=True))  # fmt: skip
    exp.table("Optimisation", [{"steps": len(losses), "first loss": losses[0],
                                "last loss": losses[-1]}])  # fmt: skip
    return exp.finish()
