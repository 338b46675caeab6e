"""Figures of structured predictions: a graph's adjacency and node embedding, detected boxes,
segmentation label maps.  Same conventions as `deepgrad.plots` (which re-exports these):
every figure has a title, labelled axes, and colour means one thing per figure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .plots import COLORS, _plt, save

__all__ = ["detections", "graph_panels", "segmentations"]


def graph_panels(
    adjacency: np.ndarray,
    embedding: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike,
    title: str,
    embedding_title: str = "hidden features (first two principal components)",
) -> Path:
    """A graph's adjacency matrix (nodes sorted by class) beside a 2-D embedding of its nodes.

    Colour means the class in the embedding; the adjacency panel is black for an edge.
    """
    plt = _plt()
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 5))
    ax0.imshow(adjacency[np.ix_(order, order)], cmap="Greys", interpolation="nearest")
    bounds = np.cumsum(np.bincount(labels))[:-1] - 0.5
    for b in bounds:
        ax0.axhline(b, color=COLORS[1], lw=0.8)
        ax0.axvline(b, color=COLORS[1], lw=0.8)
    ax0.set(title="adjacency (nodes sorted by class; black = edge)", xlabel="node", ylabel="node")
    emb = np.asarray(embedding, dtype=float)
    emb = emb - emb.mean(axis=0)
    _, _, vt = np.linalg.svd(emb, full_matrices=False)
    pts = emb @ vt[:2].T
    for c in np.unique(labels):
        sel = labels == c
        ax1.scatter(pts[sel, 0], pts[sel, 1], s=16, color=COLORS[int(c) % len(COLORS)],
                    edgecolor="k", lw=0.3, label=f"class {c}")  # fmt: skip
    ax1.set(title=embedding_title, xlabel="component 1", ylabel="component 2")
    ax1.legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path)


def detections(
    images: np.ndarray,
    results: Mapping[str, Sequence[tuple]],
    path: str | os.PathLike,
    title: str,
    class_names: Sequence[str],
    truth: Sequence[np.ndarray] | None = None,
) -> Path:
    """Images (N, H, W) with each detector's boxes, one row per detector.

    Colour means the predicted class (legend); dashed white boxes are the ground truth.
    `results[name][i]` is (boxes, scores, labels, ...) for image i.
    """
    plt = _plt()
    from matplotlib.patches import Patch, Rectangle

    names = list(results)
    n = len(images)
    fig, axes = plt.subplots(len(names), n, figsize=(1.9 * n, 2.1 * len(names) + 0.6),
                             squeeze=False)  # fmt: skip
    for r, name in enumerate(names):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            for x1, y1, x2, y2 in [] if truth is None else truth[i]:
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec="white",
                                       ls="--", lw=0.8))  # fmt: skip
            boxes, scores, labels = results[name][i][:3]
            for (x1, y1, x2, y2), s, c in zip(boxes, scores, labels):
                color = COLORS[int(c) % len(COLORS)]
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=color, lw=1.3))
                ax.text(x1, y1 - 0.5, f"{s:.2f}", color=color, fontsize=6, va="bottom")
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    handles = [Patch(color=COLORS[k], label=c) for k, c in enumerate(class_names)]
    handles.append(Patch(facecolor="none", edgecolor="k", ls="--", label="ground truth (white)"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title)
    return save(fig, path, rect=(0, 0.06, 1, 1))


def segmentations(
    images: np.ndarray,
    masks: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    title: str,
    class_names: Sequence[str],
) -> Path:
    """Images (N, H, W) above label maps (N, H, W), one row per source (truth, each model).

    Colour means the class (legend; black is the background).
    """
    plt = _plt()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    k = len(class_names)
    cmap = ListedColormap(["black"] + COLORS[:k])
    rows = ["image", *masks]
    n = len(images)
    fig, axes = plt.subplots(len(rows), n, figsize=(1.8 * n, 1.9 * len(rows) + 0.6),
                             squeeze=False)  # fmt: skip
    for r, name in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            if name == "image":
                ax.imshow(images[i], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(masks[name][i], cmap=cmap, vmin=0, vmax=k, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(name, fontsize=8)
    handles = [Patch(color="black", label="background")]
    handles += [Patch(color=COLORS[j], label=c) for j, c in enumerate(class_names)]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(title)
    return save(fig, path, rect=(0, 0.06, 1, 1))
