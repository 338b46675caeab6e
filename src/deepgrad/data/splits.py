"""Train/validation/test splits and k-fold cross-validation.

`random_split` follows `torch.utils.data.random_split`; `KFold` and
`StratifiedKFold` follow scikit-learn's classes of the same name (fold sizes,
allocation of each class to folds, sorted index arrays).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from deepgrad.core.random import default_generator
from deepgrad.core.tensor import Tensor

from .dataset import Dataset, Subset

PRESETS: dict[str, tuple[float, float, float]] = {
    "60/20/20": (0.6, 0.2, 0.2),
    "70/15/15": (0.7, 0.15, 0.15),
    "80/10/10": (0.8, 0.1, 0.1),
}


def _as_numpy(x: Any) -> np.ndarray:
    """The ndarray behind a Tensor, or `np.asarray(x)`."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _largest_remainder(n: int, fractions: Sequence[float]) -> np.ndarray:
    """Integer sizes summing to `n`, each within one of `n * f` (Hamilton's method)."""
    exact = n * np.asarray(fractions, dtype=np.float64)
    sizes = np.floor(exact + 1e-9).astype(np.int64)
    short = n - int(sizes.sum())
    order = np.argsort(-(exact - sizes), kind="stable")
    sizes[order[:short]] += 1
    return sizes


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: np.random.Generator | None = None,
) -> list[Subset]:
    """Split `dataset` into disjoint random `Subset`s of the given lengths (ints or fractions).

    Fractions summing to 1 become `floor(n * f)` each, the remainder going one at
    a time to the first splits, as in PyTorch.

    >>> import numpy as np
    >>> from deepgrad.data import TensorDataset
    >>> parts = random_split(TensorDataset(np.arange(10)), [0.7, 0.3], np.random.default_rng(0))
    >>> [len(p) for p in parts]
    [7, 3]
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1.0) and sum(lengths) <= n:
        if any(f < 0 for f in lengths):
            raise ValueError(f"random_split: fractions must be non-negative: {list(lengths)}")
        sizes = [math.floor(n * f) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = [int(x) for x in lengths]
        if any(s < 0 or s != x for s, x in zip(sizes, lengths)):
            raise ValueError(
                f"random_split: lengths must be non-negative ints or fractions: {lengths}"
            )
        if sum(sizes) != n:
            raise ValueError(
                f"random_split: lengths {list(lengths)} sum to {sum(sizes)}, dataset has {n}"
            )
    rng = generator if generator is not None else default_generator()
    order = rng.permutation(n)
    stops = np.cumsum(sizes)
    return [Subset(dataset, order[stop - size : stop]) for size, stop in zip(sizes, stops)]


def _parse_ratios(ratios: Sequence[float] | str) -> np.ndarray:
    """Three non-negative ratios summing to 1, from a tuple or a preset like "80/10/10"."""
    if isinstance(ratios, str):
        if ratios in PRESETS:
            return np.asarray(PRESETS[ratios])
        try:
            parts = [float(p) for p in ratios.split("/")]
        except ValueError:
            parts = []
        if len(parts) != 3 or not math.isclose(sum(parts), 100.0):
            raise ValueError(f"ratios preset must look like '60/20/20' (sum 100), got {ratios!r}")
        return np.asarray(parts) / 100.0
    r = np.asarray(ratios, dtype=np.float64)
    if r.shape != (3,) or (r < 0).any() or not math.isclose(r.sum(), 1.0, abs_tol=1e-6):
        raise ValueError(f"ratios must be 3 non-negative numbers summing to 1, got {ratios!r}")
    return r


def train_val_test_split(
    X: Any,
    y: Any,
    ratios: Sequence[float] | str = (0.6, 0.2, 0.2),
    stratify: bool = True,
    seed: int = 0,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Shuffle and split into ((Xtr, ytr), (Xva, yva), (Xte, yte)) by `ratios`.

    With `stratify`, each class is split on its own (largest remainder), so the
    count of class c in split s is within one sample of `n_c * ratio_s`.

    >>> import numpy as np
    >>> (tr, va, te) = train_val_test_split(np.zeros((10, 1)), np.arange(10) % 2, "60/20/20")
    >>> len(tr[0]), len(va[0]), len(te[0])
    (6, 2, 2)
    """
    X, y = _as_numpy(X), _as_numpy(y)
    if len(X) != len(y):
        raise ValueError(f"train_val_test_split: X has {len(X)} samples but y has {len(y)}")
    r = _parse_ratios(ratios)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]
    parts: list[list[np.ndarray]] = [[], [], []]
    for members in groups:
        stops = np.cumsum(_largest_remainder(len(members), r))[:-1]
        for s, piece in enumerate(np.split(rng.permutation(members), stops)):
            parts[s].append(piece)
    out = []
    for pieces in parts:
        index = rng.permutation(np.concatenate(pieces))
        out.append((X[index], y[index]))
    return tuple(out)


class KFold:
    """K-fold cross-validation indices: the first `n % k` folds hold `n // k + 1` samples.

    `split` yields (train_idx, val_idx), both sorted; the val folds partition the data.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        if int(n_splits) < 2:
            raise ValueError(f"{type(self).__name__}: n_splits must be at least 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.seed = seed

    def get_n_splits(self, X: Any = None, y: Any = None) -> int:
        """The number of folds."""
        return self.n_splits

    def _rng(self) -> np.random.Generator:
        """Generator for shuffling: from `seed`, else drawn from deepgrad's default generator."""
        if self.seed is not None:
            return np.random.default_rng(self.seed)
        return np.random.default_rng(default_generator().integers(0, 2**63 - 1))

    def _fold_ids(self, n: int, y: np.ndarray | None) -> np.ndarray:
        """Fold number of every sample."""
        order = self._rng().permutation(n) if self.shuffle else np.arange(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        fold = np.empty(n, dtype=np.int64)
        fold[order] = np.repeat(np.arange(self.n_splits), sizes)
        return fold

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train_idx, val_idx) for each fold."""
        n = len(X)
        if self.n_splits > n:
            raise ValueError(
                f"{type(self).__name__}: n_splits={self.n_splits} exceeds the {n} samples"
            )
        fold = self._fold_ids(n, None if y is None else _as_numpy(y))
        for k in range(self.n_splits):
            yield np.flatnonzero(fold != k), np.flatnonzero(fold == k)


class StratifiedKFold(KFold):
    """K-fold whose folds keep class proportions: each class's count per fold differs by <= 1.

    Allocation as in scikit-learn: sort the labels and deal them round-robin to the folds.
    """

    def _fold_ids(self, n: int, y: np.ndarray | None) -> np.ndarray:
        if y is None:
            raise ValueError("StratifiedKFold.split needs the labels y")
        if len(y) != n:
            raise ValueError(f"StratifiedKFold: X has {n} samples but y has {len(y)}")
        _, y_enc = np.unique(y, return_inverse=True)
        counts = np.bincount(y_enc)
        if self.n_splits > counts.max():
            raise ValueError(
                f"StratifiedKFold: n_splits={self.n_splits} exceeds every class's count {counts}"
            )
        if self.n_splits > counts.min():
            warnings.warn(
                f"StratifiedKFold: the smallest class has {counts.min()} members, "
                f"fewer than n_splits={self.n_splits}",
                stacklevel=3,
            )
        y_sorted = np.sort(y_enc)
        allocation = np.stack(
            [
                np.bincount(y_sorted[i :: self.n_splits], minlength=len(counts))
                for i in range(self.n_splits)
            ]
        )
        rng = self._rng() if self.shuffle else None
        fold = np.empty(n, dtype=np.int64)
        for c in range(len(counts)):
            members = np.flatnonzero(y_enc == c)
            if rng is not None:
                members = rng.permutation(members)
            fold[members] = np.repeat(np.arange(self.n_splits), allocation[:, c])
        return fold
