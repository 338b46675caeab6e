"""Figures of images: grids of digits, weights and filters, and saliency maps.

Same conventions as `deepgrad.plots` (which re-exports these): a title on every
figure, and where colour is a value (a weight, a gradient magnitude) one shared
scale and a colour bar that says what it measures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["image_grid", "saliency_grid"]

DIVERGING = ("RdBu_r", "RdBu", "bwr", "seismic", "coolwarm")


def _limits(images: np.ndarray, cmap: str) -> dict[str, float]:
    """One colour scale for all `images`: symmetric about 0 for a diverging map."""
    finite = images[np.isfinite(images)]
    if not finite.size:
        return {"vmin": 0.0, "vmax": 1.0}
    if cmap in DIVERGING:
        lim = float(np.abs(finite).max()) or 1.0
        return {"vmin": -lim, "vmax": lim}
    lo, hi = float(finite.min()), float(finite.max())
    return {"vmin": lo, "vmax": hi if hi > lo else lo + 1.0}


def _colorbar(fig: Any, mappable: Any, label: str, bottom: float = 0.1, top: float = 0.85,
              room: float = 1.1) -> None:  # fmt: skip
    """Lay the figure out leaving `room` inches on the right, and put a labelled colour bar
    there spanning the figure height fraction [bottom, top]."""
    right = 1 - room / fig.get_figwidth()
    fig.tight_layout(rect=(0, 0, right, 1))
    cax = fig.add_axes((right + 0.1 / fig.get_figwidth(), bottom, 0.15 / fig.get_figwidth(),
                        top - bottom))  # fmt: skip
    bar = fig.colorbar(mappable, cax=cax)
    bar.set_label(label, fontsize=8)
    bar.ax.tick_params(labelsize=7)


def image_grid(
    images: np.ndarray,
    path: str | os.PathLike,
    title: str,
    labels: Sequence[str] | None = None,
    cols: int = 8,
    cmap: str = "gray",
    colorbar: str | None = None,
) -> Path:
    """Images (N, H, W) in a grid, each with an optional caption (weights, digits, filters).

    `colorbar`: when colour is a value (weights, filters), its name and unit; all images then
    share one scale (symmetric about 0 for a diverging `cmap`) shown by a colour bar.
    Without it each image is scaled on its own (pictures: digits, generated samples).
    """
    from .plots import _plt, save  # here: deepgrad.plots imports this module

    plt = _plt()
    images = np.asarray(images, dtype=float)
    n = len(images)
    rows = max(1, math.ceil(n / cols))
    width = 1.3 * cols + (1.1 if colorbar else 0.0)
    fig, axes = plt.subplots(rows, cols, figsize=(width, 1.45 * rows + 0.6), squeeze=False)
    shared = _limits(images, cmap) if colorbar else None
    shown = None
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            scale = shared or (_limits(images[k], cmap) if cmap in DIVERGING else {})
            shown = ax.imshow(images[k], cmap=cmap, **scale)
            if labels is not None:
                ax.set_title(labels[k], fontsize=7)
    fig.suptitle(title)
    if colorbar and shown is not None:
        _colorbar(fig, shown, colorbar)
        return _save_as_laid_out(fig, path)
    return save(fig, path)


def saliency_grid(
    images: np.ndarray,
    maps: np.ndarray,
    true: Sequence[int],
    predicted: Sequence[int],
    path: str | os.PathLike,
    title: str,
) -> Path:
    """Inputs (top row, captioned with label and prediction) over their saliency maps
    |d logit_c / d pixel| for the predicted class c (bottom row, one shared scale and a
    colour bar), as in Simonyan et al. (2014)."""
    from .plots import _plt

    plt = _plt()
    images, maps = np.asarray(images, dtype=float), np.asarray(maps, dtype=float)
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.3 * n + 1.1, 3.6), squeeze=False)
    scale = _limits(maps, "magma")
    shown = None
    for k in range(n):
        top, bottom = axes[0, k], axes[1, k]
        top.imshow(images[k], cmap="gray")
        wrong = int(true[k]) != int(predicted[k])
        top.set_title(f"label {int(true[k])}, pred {int(predicted[k])}", fontsize=7,
                      color="#d62728" if wrong else "black")  # fmt: skip
        shown = bottom.imshow(maps[k], cmap="magma", **scale)
        bottom.set_title(f"logit {int(predicted[k])}", fontsize=7)
        top.axis("off")
        bottom.axis("off")
    fig.suptitle(title)
    _colorbar(fig, shown, "|d logit / d pixel|", bottom=0.06, top=0.44)
    return _save_as_laid_out(fig, path)


def _save_as_laid_out(fig: Any, path: str | os.PathLike) -> Path:
    """`plots.save` without its tight_layout (which would undo a colour bar's room)."""
    import io

    from .fileio import atomic_write
    from .plots import _plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    atomic_write(path, png.getvalue())
    _plt().close(fig)
    return path
