"""Helpers shared by the sequence recipes: one training step, heat maps."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.nn.utils import clip_grad_norm_


def train_step(model: Any, loss: Any, opt: Any, clip: float | None) -> float:
    """zero_grad, backward of `loss`, clip the gradient norm to `clip` (if set), step."""
    opt.zero_grad()
    loss.backward()
    if clip:
        clip_grad_norm_(list(model.parameters()), clip)
    opt.step()
    return float(loss._data)


def heatmaps(
    maps: Sequence[np.ndarray],
    titles: Sequence[str],
    path: Path,
    title: str,
    xlabel: str,
    ylabel: str,
    xticks: Sequence[str] | None = None,
    yticks: Sequence[str] | None = None,
) -> Path:
    """One heat map per panel (attention weights), with a colour bar each."""
    from matplotlib.ticker import MaxNLocator

    plt = plots._plt()
    n = len(maps)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    for ax, m, t in zip(axes[0], maps, titles):
        im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set(title=t, xlabel=xlabel, ylabel=ylabel)
        if xticks is not None:
            ax.set_xticks(range(len(xticks)), list(xticks), fontsize=7)
        if yticks is not None:
            ax.set_yticks(range(len(yticks)), list(yticks), fontsize=7)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        fig.colorbar(im, ax=ax, fraction=0.046, label="attention weight")
    fig.suptitle(title)
    return plots.save(fig, path)
