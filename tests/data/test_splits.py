"""Splits: random_split, stratified train/val/test, KFold and StratifiedKFold."""

import numpy as np
import pytest

from deepgrad.data import KFold, StratifiedKFold, TensorDataset, random_split, train_val_test_split


def test_random_split_ints_and_fractions_partition():
    ds = TensorDataset(np.arange(10))
    parts = random_split(ds, [3, 7], generator=np.random.default_rng(0))
    assert [len(p) for p in parts] == [3, 7]
    seen = sorted(int(p[i][0]) for p in parts for i in range(len(p)))
    assert seen == list(range(10))
    fr = random_split(ds, [0.5, 0.25, 0.25], generator=np.random.default_rng(0))
    assert [len(p) for p in fr] == [6, 2, 2]  # floor each, remainder round-robin from the first


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(TensorDataset(np.arange(10)), [4, 5])


def _imbalanced_labels():
    return np.repeat(np.arange(3), [50, 31, 7])


@pytest.mark.parametrize("ratios", [(0.6, 0.2, 0.2), "80/10/10", "70/15/15"])
def test_stratified_split_keeps_class_ratios_within_one(ratios):
    y = _imbalanced_labels()
    X = np.arange(len(y))[:, None].astype(np.float32)
    splits = train_val_test_split(X, y, ratios=ratios, seed=1)
    r = {"80/10/10": (0.8, 0.1, 0.1), "70/15/15": (0.7, 0.15, 0.15)}.get(ratios, ratios)
    for (Xs, ys), ratio in zip(splits, r):
        np.testing.assert_array_equal(y[Xs[:, 0].astype(int)], ys)  # rows stay paired
        for c, n_c in enumerate(np.bincount(y)):
            assert abs(np.sum(ys == c) - n_c * ratio) < 1
    ids = np.concatenate([Xs[:, 0] for Xs, _ in splits]).astype(int)
    assert sorted(ids) == list(range(len(y)))


def test_split_is_seeded_and_shuffled():
    y = _imbalanced_labels()
    X = np.arange(len(y))
    a = train_val_test_split(X, y, seed=3)
    b = train_val_test_split(X, y, seed=3)
    c = train_val_test_split(X, y, seed=4)
    assert np.array_equal(a[0][0], b[0][0]) and not np.array_equal(a[0][0], c[0][0])
    assert not np.all(np.diff(a[0][1]) >= 0)  # classes are not left in blocks


def test_split_bad_ratios():
    with pytest.raises(ValueError, match="60/20"):
        train_val_test_split(np.zeros(4), np.zeros(4), ratios="50/50")
    with pytest.raises(ValueError, match="summing to 1"):
        train_val_test_split(np.zeros(4), np.zeros(4), ratios=(0.5, 0.2, 0.2))


@pytest.mark.parametrize("shuffle", [False, True])
def test_kfold_partitions_data(shuffle):
    X = np.zeros((23, 2))
    folds = list(KFold(5, shuffle=shuffle, seed=0).split(X))
    vals = [v for _, v in folds]
    assert sorted(np.concatenate(vals).tolist()) == list(range(23))
    assert [len(v) for v in vals] == [5, 5, 5, 4, 4]
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 23


def test_kfold_unshuffled_matches_sklearn_layout():
    folds = [v.tolist() for _, v in KFold(3).split(np.zeros(7))]
    assert folds == [[0, 1, 2], [3, 4], [5, 6]]


@pytest.mark.parametrize("shuffle", [False, True])
def test_stratified_kfold_partitions_and_balances(shuffle):
    y = _imbalanced_labels()
    folds = list(StratifiedKFold(5, shuffle=shuffle, seed=0).split(np.zeros(len(y)), y))
    vals = [v for _, v in folds]
    assert sorted(np.concatenate(vals).tolist()) == list(range(len(y)))
    counts = np.stack([np.bincount(y[v], minlength=3) for v in vals])
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()
    sizes = [len(v) for v in vals]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_errors():
    with pytest.raises(ValueError, match="at least 2"):
        KFold(1)
    with pytest.raises(ValueError, match="exceeds"):
        list(KFold(5).split(np.zeros(3)))
    with pytest.raises(ValueError, match="needs the labels"):
        list(StratifiedKFold(2).split(np.zeros(4)))
