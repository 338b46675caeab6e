"""Datasets: TensorDataset, Subset, ConcatDataset and their `arrays` fast path."""

import numpy as np
import pytest

from deepgrad.core.tensor import Tensor
from deepgrad.data import ConcatDataset, Dataset, Subset, TensorDataset


def test_tensor_dataset_rows_and_length():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    ds = TensorDataset(X, Tensor(y))
    assert len(ds) == 6
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, X[4])
    assert yi == 4
    assert isinstance(ds, Dataset)
    assert all(isinstance(a, np.ndarray) for a in ds.arrays)


def test_tensor_dataset_mismatched_first_dim_names_shapes():
    with pytest.raises(ValueError, match=r"\(5, 2\).*\(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


def test_subset_maps_indices_and_gathers_arrays():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3
    assert sub[0][0] == 70 and sub[-1][0] == 50
    np.testing.assert_array_equal(sub.arrays[0], [70, 20, 50])


def test_subset_rejects_out_of_range():
    with pytest.raises(IndexError):
        Subset(TensorDataset(np.arange(3)), [0, 3])


def test_concat_dataset_indexing_and_arrays():
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 15))
    cat = ConcatDataset([a, b])
    assert len(cat) == 8
    assert [cat[i][0] for i in range(8)] == [0, 1, 2, 10, 11, 12, 13, 14]
    assert cat[-1][0] == 14
    np.testing.assert_array_equal(cat.arrays[0], [0, 1, 2, 10, 11, 12, 13, 14])
    with pytest.raises(IndexError):
        cat[8]


def test_concat_without_arrays_has_none():
    class Plain:
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return i

    assert ConcatDataset([Plain(), TensorDataset(np.arange(2))]).arrays is None
