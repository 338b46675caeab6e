"""Map-style datasets (PyTorch's `torch.utils.data` names and semantics).

A dataset is anything with `__getitem__(i)` and `__len__()`.  A dataset whose
samples are rows of a few equal-length arrays may also expose `arrays`, a tuple
of those arrays: the loader then builds a batch with one fancy-indexing call
per array instead of a Python loop over samples.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Protocol, runtime_checkable

import numpy as np

from deepgrad.core.tensor import Tensor


@runtime_checkable
class Dataset(Protocol):
    """A map-style dataset: `ds[i]` is sample `i` for `0 <= i < len(ds)`.

    Subclass it or just implement both methods; `isinstance(x, Dataset)` checks for them.
    """

    def __getitem__(self, index: int) -> Any: ...

    def __len__(self) -> int: ...


def _as_numpy(x: Any) -> np.ndarray:
    """The ndarray behind a Tensor, or `np.asarray(x)`."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def _check_index(index: int, n: int, who: str) -> int:
    """Normalise a possibly negative integer index, raising IndexError when out of range."""
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"{who}: index {index} out of range for {n} samples")
    return index % n


class TensorDataset(Dataset):
    """Sample `i` is `(a[i] for a in arrays)`: rows of equal-length arrays or Tensors.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), ds[1][1]
    (4, np.int64(1))
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays: tuple[np.ndarray, ...] = tuple(_as_numpy(a) for a in arrays)
        shapes = [a.shape for a in self.arrays]
        if any(a.ndim == 0 for a in self.arrays):
            raise ValueError(f"TensorDataset: 0-d arrays have no samples; got shapes {shapes}")
        if len({s[0] for s in shapes}) != 1:
            raise ValueError(f"TensorDataset: arrays differ in their first dimension: {shapes}")

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order: `Subset(ds, ix)[k] = ds[ix[k]]`."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of {n} samples")

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)

    @cached_property
    def arrays(self) -> tuple[np.ndarray, ...] | None:
        """The parent's `arrays` gathered at `indices` (computed once), or None if it has none."""
        parent = getattr(self.dataset, "arrays", None)
        if parent is None:
            return None
        return tuple(a[self.indices] for a in parent)


class ConcatDataset(Dataset):
    """Datasets one after another: sample `i` comes from the dataset whose range holds `i`."""

    def __init__(self, datasets: Sequence[Dataset]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        index = _check_index(index, len(self), "ConcatDataset")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][index - start]

    @cached_property
    def arrays(self) -> tuple[np.ndarray, ...] | None:
        """Children's `arrays` concatenated (computed once); None unless all have matching ones."""
        parts = [getattr(d, "arrays", None) for d in self.datasets]
        if any(p is None for p in parts) or len({len(p) for p in parts}) != 1:
            return None
        try:
            return tuple(np.concatenate(cols) for cols in zip(*parts))
        except ValueError:  # trailing shapes differ: fall back to per-sample loading
            return None
