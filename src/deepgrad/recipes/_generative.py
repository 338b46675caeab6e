"""What the generative recipes share: MNIST as pixels in [0, 1], image mosaics, 2-D scatters."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.data import MIRRORS, MNIST, default_root

from ._common import RecipeError

FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]  # fmt: skip


def data_config() -> dict[str, Any]:
    """The data settings every generative MNIST recipe takes."""
    return {"data": "", "subset": 0, "test_subset": 2000, "verify_md5": True}


def load_digits(config: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_train, y_train, X_test, y_test): float32 (N, 784) pixels in [0, 1], int64 labels.

    `subset` (0 = all) and `test_subset` keep the first examples; `verify_md5=False` accepts
    MNIST-format files that are not the official ones (the tests' fakes)."""
    root = Path(config["data"]).expanduser() if config["data"] else default_root()
    if config["subset"] < 0 or config["test_subset"] < 0:
        raise RecipeError("subset and test_subset must be >= 0")
    try:
        train = MNIST(root, train=True, verify=config["verify_md5"])
        test = MNIST(root, train=False, verify=config["verify_md5"])
    except FileNotFoundError:
        files = ", ".join(f"{stem}.gz" for stem in FILES)
        raise RecipeError(
            f"MNIST files not found: put {files} (from {MIRRORS['mnist'][0]}) into "
            f"{root / 'mnist'}, or pass --data DIR (a folder holding them)"
        ) from None

    def prep(ds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        X = ds.data.reshape(len(ds.data), -1).astype(np.float32) / 255
        return (X[:n], ds.targets[:n]) if n else (X, ds.targets)

    return (*prep(train, config["subset"]), *prep(test, config["test_subset"]))


def mosaic(
    images: np.ndarray, path: Path, title: str, row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None, vmin: float = 0.0, vmax: float = 1.0,
) -> Path:  # fmt: skip
    """Images (R, C, H, W) tiled into one picture on a fixed grey scale, rows/cols labelled."""
    plt = plots._plt()
    r, c, h, w = images.shape
    tiled = np.full((r * (h + 1) - 1, c * (w + 1) - 1), vmin, dtype=np.float64)
    for i in range(r):
        for j in range(c):
            tiled[i * (h + 1) : i * (h + 1) + h, j * (w + 1) : j * (w + 1) + w] = images[i, j]
    fig, ax = plt.subplots(figsize=(0.55 * c + 1.2, 0.55 * r + 0.9))
    ax.imshow(tiled, cmap="gray", vmin=vmin, vmax=vmax)
    ax.set_xticks([j * (w + 1) + w / 2 for j in range(c)] if col_labels else [])
    ax.set_yticks([i * (h + 1) + h / 2 for i in range(r)] if row_labels else [])
    if col_labels:
        ax.set_xticklabels(col_labels, fontsize=7)
    if row_labels:
        ax.set_yticklabels(row_labels, fontsize=7)
    ax.set_title(title, fontsize=9)
    return plots.save(fig, path)


def as_grid(flat: np.ndarray, cols: int) -> np.ndarray:
    """(N, 784) -> (N // cols, cols, 28, 28)."""
    n = (len(flat) // cols) * cols
    return np.asarray(flat[:n]).reshape(-1, cols, 28, 28)


def latent_scatter(z: np.ndarray, labels: np.ndarray, path: Path, title: str) -> Path:
    """2-D codes coloured by digit, with a colour bar naming the digits."""
    plt = plots._plt()
    fig, ax = plt.subplots(figsize=(6.2, 5))
    sc = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=4, alpha=0.7)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set(title=title, xlabel="$z_1$", ylabel="$z_2$")
    return plots.save(fig, path)
