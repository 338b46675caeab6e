"""Plot helpers for runs and recipes: matplotlib's Agg backend, PNG files, no display needed.

Every function draws one figure with a title, labelled axes and a legend where
there is more than one line, writes it to a temporary file beside `path` and
renames it into place (a reader never sees half a PNG), and returns the path.
matplotlib is an optional dependency (`pip install deepgrad[plot]`); without it
these functions raise `ImportError` with that hint.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import atomic_write

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
COLORS += ["#7f7f7f", "#bcbd22"]
LINESTYLES = ["-", "--", "-.", ":"]


def _plt():
    """pyplot on the Agg backend (set before pyplot is first imported)."""
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plots need matplotlib: pip install 'deepgrad[plot]'") from e
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (plots are skipped otherwise)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def save(fig: Any, path: str | os.PathLike, rect: tuple[float, float, float, float] | None = None
         ) -> Path:  # fmt: skip
    """Write `fig` as PNG (atomically, see `deepgrad.fileio`) and close the figure.

    `rect` keeps part of the figure free of axes (e.g. a legend along the bottom).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect or (0, 0, 1, 1))
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    atomic_write(path, png.getvalue())
    _plt().close(fig)
    return path


def _series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, r in enumerate(records):
        v = r.get(key)
        if v is not None:
            xs.append(int(r.get("epoch", i)) + 1)
            ys.append(float(v))
    return xs, ys


def learning_curves(
    records: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str = "Learning curves"
) -> Path:
    """Training and validation loss (left) and accuracy (right, when logged) per epoch."""
    plt = _plt()
    metrics = ["loss"] + (["accuracy"] if any("accuracy" in r for r in records) else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for key, label, color in [
            (metric, "train", COLORS[0]),
            (f"val_{metric}", "validation", COLORS[1]),
        ]:
            xs, ys = _series(records, key)
            if xs:
                ax.plot(xs, ys, color=color, label=label, marker="." if len(xs) < 40 else None)
        integer_epochs(ax, max((len(_series(records, metric)[0]), 1)))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} per epoch")
        if metric == "loss" and _positive(records, metric):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return save(fig, path)


def integer_epochs(ax: Any, n: int) -> None:
    """Epoch ticks on whole numbers only; a single epoch is one tick, centred (no 0.96, 1.04)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if n <= 1:
        ax.set_xlim(0.5, 1.5)
        ax.set_xticks([1])


def _positive(records: Sequence[Mapping[str, Any]], metric: str) -> bool:
    vals = [r[k] for r in records for k in (metric, f"val_{metric}") if r.get(k) is not None]
    return bool(vals) and min(vals) > 0 and max(vals) / min(vals) > 20


def curves(
    series: Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
    logx: bool = False,
    styles: Mapping[str, str] | None = None,
) -> Path:
    """Several named curves on one axis (e.g. one per optimizer or per initialisation)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, ys) in enumerate(series.items()):
        ys = np.asarray(ys, dtype=float)
        xs = np.arange(1, len(ys) + 1) if xlabel in ("epoch", "step", "iteration") else None
        style = (styles or {}).get(name, LINESTYLES[(i // len(COLORS)) % len(LINESTYLES)])
        color = COLORS[i % len(COLORS)]
        ax.plot(xs if xs is not None else np.arange(len(ys)), ys, style, color=color, label=name,
                marker="." if len(ys) < 3 else None)  # fmt: skip
    if xlabel in ("epoch", "step", "iteration") and not logx:
        integer_epochs(ax, max((len(ys) for ys in series.values()), default=1))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2 if len(series) > 5 else 1)
    return save(fig, path)


def curve_grid(
    panels: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | os.PathLike,
    title: str,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    logy: bool = False,
) -> Path:
    """One axis per panel, several named curves in each, a shared legend per panel.

    Line styles alternate so that curves lying on top of each other stay visible.
    """
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4), squeeze=False)
    for ax, (panel, series) in zip(axes[0], panels.items()):
        for i, (name, ys) in enumerate(series.items()):
            ys = np.asarray(ys, dtype=float)
            ax.plot(np.arange(1, len(ys) + 1), ys, LINESTYLES[i % len(LINESTYLES)],
                    color=COLORS[i % len(COLORS)], label=name, lw=1.6)  # fmt: skip
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        integer_epochs(ax, max((len(ys) for ys in series.values()), default=1))
        ax.set(title=panel, xlabel=xlabel, ylabel=ylabel)
        if logy:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    return save(fig, path)


def decision_regions(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike,
    title: str = "Decision regions",
    resolution: int = 250,
) -> Path:
    """Class predicted at every point of a grid (filled), with the data on top, for 2-D inputs."""
    plt = _plt()
    from matplotlib.colors import ListedColormap

    X, y = np.asarray(X), np.asarray(y)
    pad = 0.1 * (X.max(0) - X.min(0))
    lo, hi = X.min(0) - pad, X.max(0) + pad
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype)
    zz = np.asarray(predict(grid)).reshape(gx.shape)
    k = int(max(y.max(), zz.max())) + 1
    cmap = ListedColormap(COLORS[:k])
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.contourf(gx, gy, zz, levels=np.arange(k + 1) - 0.5, cmap=cmap, alpha=0.3)
    for c in range(k):
        pts = X[y == c]
        ax.scatter(
            pts[:, 0], pts[:, 1], s=12, color=COLORS[c], edgecolor="k", lw=0.3, label=f"class {c}"
        )
    ax.set(title=title, xlabel="$x_1$", ylabel="$x_2$", xlim=(lo[0], hi[0]), ylim=(lo[1], hi[1]))
    ax.legend(loc="upper right", fontsize=8)
    return save(fig, path)


def histograms(
    rows: Mapping[str, Mapping[str, np.ndarray]],
    path: str | os.PathLike,
    title: str,
    xlabel: str = "value",
    bins: int = 40,
) -> Path:
    """A grid of histograms: one row per setting (e.g. an initialisation), one column per layer.

    Colour means the setting (row), as in the learning curves drawn next to it.
    """
    plt = _plt()
    names = list(rows)
    cols = list(next(iter(rows.values())))
    fig, axes = plt.subplots(
        len(names), len(cols), figsize=(2.3 * len(cols) + 1, 1.8 * len(names) + 1), squeeze=False
    )
    for r, name in enumerate(names):
        for c, col in enumerate(cols):
            _hist_panel(axes[r, c], np.asarray(rows[name][col], dtype=float).ravel(), bins,
                        COLORS[r % len(COLORS)])  # fmt: skip
            if r == 0:
                axes[r, c].set_title(col, fontsize=9)
            if c == 0:
                axes[r, c].set_ylabel(name, fontsize=8)
            if r == len(names) - 1:
                axes[r, c].set_xlabel(xlabel, fontsize=7)
    fig.suptitle(title)
    return save(fig, path)


def _hist_panel(ax: Any, vals: np.ndarray, bins: int, color: str) -> None:
    """One histogram; a constant array is drawn as one bar and labelled "all = v"."""
    from matplotlib.ticker import MaxNLocator

    vals = vals[np.isfinite(vals)]
    spread = float(np.std(vals)) if vals.size else 0.0
    if vals.size and spread > 0:
        ax.hist(vals, bins=bins, color=color, alpha=0.8)
        label = f"std {spread:.1e}"
    else:
        value = float(vals[0]) if vals.size else 0.0
        ax.bar([value], [1.0], width=0.1, color=color)
        ax.set_xlim(value - 1, value + 1)
        label = f"all = {value:g}"
    ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(3))
    ax.tick_params(labelsize=6)
    ax.xaxis.get_offset_text().set_fontsize(6)
    ax.text(0.97, 0.93, label, transform=ax.transAxes, ha="right", va="top", fontsize=6)


def trajectories(
    f: Callable[[np.ndarray, np.ndarray], np.ndarray],
    paths: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    title: str,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    minimum: Sequence[float] | None = None,
    log_levels: bool = True,
) -> Path:
    """Optimizer paths (each (T, 2)) drawn over the contours of a 2-D function `f(x, y)`."""
    plt = _plt()
    gx, gy = np.meshgrid(np.linspace(*xlim, 300), np.linspace(*ylim, 300))
    zz = f(gx, gy)
    fig, ax = plt.subplots(figsize=(9.5, 6))
    if log_levels:
        ax.contour(gx, gy, np.log10(zz - zz.min() + 1e-3), levels=20, cmap="Greys", linewidths=0.7)
    else:
        ax.contour(gx, gy, zz, levels=20, cmap="Greys", linewidths=0.7)
    for i, (name, pts) in enumerate(paths.items()):
        pts = np.asarray(pts, dtype=float)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        color = COLORS[i % len(COLORS)]
        ax.plot(pts[:, 0], pts[:, 1], "-", color=color, lw=1.3, label=name)
        ax.plot(pts[-1, 0], pts[-1, 1], "o", color=color, ms=4)
    if minimum is not None:
        ax.plot(*minimum, "*", color="gold", mec="k", ms=14, label="minimum", zorder=5)
    ax.set(title=title, xlabel="$x$", ylabel="$y$", xlim=xlim, ylim=ylim)
    # outside the axes, so it never hides a path
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1), title="optimizer: final f",
              title_fontsize=7)  # fmt: skip
    return save(fig, path)


def bars(
    groups: Mapping[str, Mapping[str, float]],
    path: str | os.PathLike,
    title: str,
    ylabel: str,
) -> Path:
    """Grouped bars: one group per setting, one bar per quantity (e.g. train/val accuracy)."""
    plt = _plt()
    names = list(groups)
    keys = list(next(iter(groups.values())))
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4.5))
    x = np.arange(len(names))
    for j, key in enumerate(keys):
        vals = [groups[n][key] for n in names]
        rects = ax.bar(x + (j - (len(keys) - 1) / 2) * width, vals, width, label=key,
                       color=COLORS[j % len(COLORS)])  # fmt: skip
        ax.bar_label(rects, fmt="%.2f", fontsize=7, padding=1)
    ax.set_xticks(x, names, rotation=15)
    ax.set(title=title, ylabel=ylabel)
    top = max((v for g in groups.values() for v in g.values() if np.isfinite(v)), default=1.0)
    ax.set_ylim(top=top * 1.1 if top > 0 else None)  # room for the value labels
    ax.grid(alpha=0.3, axis="y")
    if len(keys) > 1:  # outside the axes, so it never hides a bar or its label
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return save(fig, path)


def lr_find(
    lrs: Sequence[float],
    losses: Sequence[float],
    path: str | os.PathLike,
    suggestion: float | None = None,
    title: str = "Learning-rate range test (Smith 2015)",
) -> Path:
    """Loss against learning rate on a log axis, the suggested rate marked."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    ok = np.isfinite(losses)
    ax.plot(lrs[ok], losses[ok], color=COLORS[0], label="smoothed loss")
    if suggestion is not None and math.isfinite(suggestion):
        ax.axvline(suggestion, color=COLORS[1], ls="--", label=f"suggested lr = {suggestion:.2g}")
    ax.set_xscale("log")
    top = np.nanpercentile(losses[ok], 95) if ok.any() else 1.0
    if ok.any():
        ax.set_ylim(max(0.0, losses[ok].min() * 0.9), top * 1.1)
    ax.set(title=title, xlabel="learning rate (log scale)", ylabel="training loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save(fig, path)


def xy_curves(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: str | os.PathLike,
    title: str,
    xlabel: str,
    ylabel: str,
    styles: Mapping[str, str] | None = None,
) -> Path:
    """Named curves y(x) with their own x values (e.g. accuracy against attack strength)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (name, (xs, ys)) in enumerate(series.items()):
        style = (styles or {}).get(name, "o-")
        ax.plot(np.asarray(xs, float), np.asarray(ys, float), style, color=COLORS[i % len(COLORS)],
                label=name, markersize=4)  # fmt: skip
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def overlaid_histograms(
    samples: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    title: str,
    xlabel: str,
    bins: int = 30,
) -> Path:
    """Histograms of several samples on one axis, as densities over shared bins."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    allv = np.concatenate([np.asarray(v, float).ravel() for v in samples.values()])
    edges = np.linspace(allv.min(), allv.max() + 1e-9, bins + 1)
    for i, (name, vals) in enumerate(samples.items()):
        ax.hist(np.asarray(vals, float).ravel(), bins=edges, density=True, alpha=0.45,
                color=COLORS[i % len(COLORS)], label=name, histtype="stepfilled",
                edgecolor=COLORS[i % len(COLORS)])  # fmt: skip
    ax.set(title=title, xlabel=xlabel, ylabel="density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


from .plots_images import image_grid, saliency_grid  # re-exported (imported last: they use save)

__all__ = ["bars", "curve_grid", "curves", "decision_regions", "have_matplotlib", "histograms",
           "image_grid", "integer_epochs", "learning_curves", "lr_find", "overlaid_histograms", "saliency_grid",
           "save", "trajectories", "xy_curves"]  # fmt: skip
