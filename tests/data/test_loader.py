"""DataLoader: determinism in (seed, epoch), coverage, prefetching, resume, transforms."""

import itertools
import threading
import time

import numpy as np
import pytest

from deepgrad.core.tensor import Tensor
from deepgrad.data import DataLoader, GaussianNoise, Subset, TensorDataset, default_collate


def _ids(loader):
    """The sample ids of each batch (datasets here hold their own index as first array)."""
    return [b[0].data.tolist() for b in loader]


def _dataset(n=23):
    return TensorDataset(np.arange(n), np.arange(n, dtype=np.float32) * 2)


def test_same_seed_and_epoch_give_same_batches_and_epochs_differ():
    a = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=3)
    b = DataLoader(_dataset(), batch_size=5, shuffle=True, seed=3)
    first_a = _ids(a)
    assert first_a == _ids(b)
    assert a.epoch == b.epoch == 1
    assert _ids(a) != first_a  # epoch 1 reshuffles
    assert _ids(DataLoader(_dataset(), batch_size=5, shuffle=True, seed=4)) != first_a


def test_epoch_order_is_pure_function_of_seed_and_epoch():
    a = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=11)
    epochs = [_ids(a) for _ in range(3)]
    b = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=11)
    b.set_epoch(2)
    assert _ids(b) == epochs[2]
    assert epochs[0] != epochs[1] != epochs[2]


def test_seed_drawn_from_generator():
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    a = DataLoader(_dataset(), 4, shuffle=True, generator=g1)
    b = DataLoader(_dataset(), 4, shuffle=True, generator=g2)
    assert a.seed == b.seed and _ids(a) == _ids(b)


@pytest.mark.parametrize("n,bs", [(23, 5), (20, 5), (7, 7), (1, 3)])
def test_every_sample_exactly_once_and_no_empty_batch(n, bs):
    loader = DataLoader(_dataset(n), batch_size=bs, shuffle=True, seed=0)
    batches = _ids(loader)
    assert len(batches) == len(loader) == -(-n // bs)
    assert all(len(b) > 0 for b in batches)
    assert sorted(itertools.chain(*batches)) == list(range(n))


@pytest.mark.parametrize("n,bs", [(23, 5), (20, 5)])
def test_drop_last_accounting(n, bs):
    loader = DataLoader(_dataset(n), batch_size=bs, shuffle=True, drop_last=True, seed=1)
    batches = _ids(loader)
    assert len(batches) == len(loader) == n // bs
    assert all(len(b) == bs for b in batches)
    seen = list(itertools.chain(*batches))
    assert len(set(seen)) == len(seen) == (n // bs) * bs


def test_bad_batch_size_and_short_dataset_with_drop_last():
    with pytest.raises(ValueError, match="0"):
        DataLoader(_dataset(), batch_size=0)
    with pytest.raises(ValueError, match="-3"):
        DataLoader(_dataset(), batch_size=-3)
    with pytest.raises(ValueError, match="shorter than one batch"):
        DataLoader(_dataset(3), batch_size=4, drop_last=True)


def test_unshuffled_order_and_fast_path_dtypes():
    batches = list(DataLoader(_dataset(7), batch_size=3))
    assert [b[0].data.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert isinstance(batches[0][1], Tensor) and batches[0][1].dtype == np.float32


def test_slow_path_matches_fast_path():
    ds = _dataset()
    fast = DataLoader(ds, batch_size=4, shuffle=True, seed=2)
    slow = DataLoader(ds, batch_size=4, shuffle=True, seed=2, collate_fn=default_collate)
    for bf, bs in zip(fast, slow):
        for tf, ts in zip(bf, bs):
            np.testing.assert_array_equal(tf.data, ts.data)
            assert tf.dtype == ts.dtype


def test_default_collate_tuples_dicts_and_dtypes():
    samples = [(np.full(2, i, np.float64), i) for i in range(3)]
    x, y = default_collate(samples)
    assert x.shape == (3, 2) and x.dtype == np.float64 and y.tolist() == [0, 1, 2]
    d = default_collate([{"a": np.float32(1)}, {"a": np.float32(2)}])
    assert d["a"].dtype == np.float32


def test_subset_uses_fast_path():
    sub = Subset(_dataset(), [3, 1, 4, 1 + 4])
    assert _ids(DataLoader(sub, batch_size=2)) == [[3, 1], [4, 5]]


def test_prefetch_equals_plain_iteration():
    plain = DataLoader(_dataset(50), batch_size=4, shuffle=True, seed=9)
    pre = DataLoader(_dataset(50), batch_size=4, shuffle=True, seed=9, prefetch=2)
    for _ in range(2):
        assert _ids(plain) == _ids(pre)
    assert pre.epoch == 2


def test_prefetch_thread_ends_when_consumer_stops_early():
    before = threading.active_count()
    loader = DataLoader(_dataset(200), batch_size=2, prefetch=1)
    it = iter(loader)
    next(it)
    it.close()
    deadline = time.monotonic() + 2.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert loader.epoch == 0  # an unfinished pass does not advance the epoch


def test_prefetch_reraises_worker_exception():
    class Broken:
        def __len__(self):
            return 6

        def __getitem__(self, i):
            if i == 4:
                raise KeyError("sample 4 is broken")
            return np.float32(i)

    loader = DataLoader(Broken(), batch_size=2, prefetch=2)
    with pytest.raises(KeyError, match="sample 4"):
        list(loader)


def test_state_dict_resume_sees_same_batches():
    run = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=7)
    _ids(run)
    state = run.state_dict()
    expected = [_ids(run) for _ in range(2)]
    resumed = DataLoader(_dataset(), batch_size=4, shuffle=True, seed=123)
    resumed.load_state_dict(state)
    assert [_ids(resumed) for _ in range(2)] == expected
    assert state == {"seed": 7, "epoch": 1}


def test_transform_applies_to_first_element_with_seeded_generator():
    ds = TensorDataset(np.ones((6, 2), np.float32), np.arange(6))
    noisy = GaussianNoise(std=1.0)

    def batches(epoch):
        loader = DataLoader(ds, batch_size=3, seed=5, transform=noisy)
        loader.set_epoch(epoch)
        return [(xb.data, yb.data.tolist()) for xb, yb in loader]

    first, again, other = batches(0), batches(0), batches(1)
    assert [yb for _, yb in first] == [[0, 1, 2], [3, 4, 5]]
    assert first[0][0].dtype == np.float32 and not np.allclose(first[0][0], 1.0)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(first, again))
    assert not np.array_equal(first[0][0], other[0][0])


def test_transform_without_generator_argument():
    ds = TensorDataset(np.ones((4, 2), np.float32))
    (xb,) = next(iter(DataLoader(ds, batch_size=4, transform=lambda x: Tensor(x.data * 3))))
    np.testing.assert_array_equal(xb.data, np.full((4, 2), 3.0))
