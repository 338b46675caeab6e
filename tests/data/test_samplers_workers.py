"""torch.utils.data's samplers, DataLoader options and worker processes (issue 13)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    get_worker_info,
)


class Squares(Dataset):
    """A map-style dataset without `arrays`: the loader goes sample by sample."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float64), i


class WhoLoads(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([i, -1 if info is None else info.id, os.getpid()])


def test_samplers_order_and_length():
    ds = TensorDataset(np.arange(6.0))
    assert list(SequentialSampler(ds)) == [0, 1, 2, 3, 4, 5]
    perm = list(RandomSampler(ds, generator=np.random.default_rng(0)))
    assert sorted(perm) == list(range(6)) and perm != list(range(6))
    draws = list(
        RandomSampler(ds, replacement=True, num_samples=20, generator=np.random.default_rng(1))
    )
    assert len(draws) == 20 and set(draws) <= set(range(6))
    long = list(RandomSampler(ds, num_samples=9, generator=np.random.default_rng(2)))
    assert sorted(long[:6]) == list(range(6)) and len(long) == 9
    sub = list(SubsetRandomSampler([7, 8, 9], generator=np.random.default_rng(0)))
    assert sorted(sub) == [7, 8, 9]
    batches = list(BatchSampler(SequentialSampler(range(7)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, drop_last=True)) == 2


def test_weighted_sampler_follows_the_weights():
    s = WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=np.random.default_rng(0))
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0 and 0.7 < counts[2] / 4000 < 0.8
    once = list(
        WeightedRandomSampler(
            [1, 1, 1, 1], 4, replacement=False, generator=np.random.default_rng(0)
        )
    )
    assert sorted(once) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="cannot draw 3 samples without replacement from 2"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)


def test_loader_with_sampler_batch_sampler_and_unbatched():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    loader = DataLoader(ds, batch_size=4, sampler=list(reversed(range(10))))
    first = next(iter(loader))
    np.testing.assert_array_equal(first[0].data, [9.0, 8.0, 7.0, 6.0])
    assert len(loader) == 3
    bs = [[0, 5], [1, 2, 3]]
    got = [b[1].data.tolist() for b in DataLoader(ds, batch_sampler=bs)]
    assert got == [[0, 5], [1, 2, 3]]
    single = list(DataLoader(Squares(), batch_size=None))
    assert len(single) == 10 and isinstance(single[3][0], dg.Tensor)
    np.testing.assert_array_equal(single[3][0].data, [3.0, 9.0])


def test_pytorch_option_conflicts_are_refused():
    ds = TensorDataset(np.arange(4.0))
    with pytest.raises(ValueError, match="sampler is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler is mutually exclusive"):
        DataLoader(ds, batch_size=2, batch_sampler=[[0, 1]])
    with pytest.raises(ValueError, match="prefetch_factor is only used with worker processes"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
        DataLoader(ds, num_workers=-1)


def test_workers_give_the_same_batches_in_order_and_run_in_other_processes():
    ds = Squares()
    serial = DataLoader(ds, batch_size=3, shuffle=True, seed=5, pin_memory=True)
    parallel = DataLoader(ds, batch_size=3, shuffle=True, seed=5, num_workers=2)
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a[0].data, b[0].data)
        np.testing.assert_array_equal(a[1].data, b[1].data)
    seen = np.concatenate([b.data for b in DataLoader(WhoLoads(), batch_size=2, num_workers=2)])
    assert set(seen[:, 1].tolist()) == {0, 1}  # both workers loaded batches
    assert os.getpid() not in set(seen[:, 2].tolist())  # ...in processes of their own


def _init(worker_id):
    info = get_worker_info()
    assert info is not None and info.id == worker_id and info.num_workers == 2
    if worker_id == 1:
        raise RuntimeError("bad init in worker 1")


class Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise KeyError("sample 2 is broken")
        return np.zeros(1)


def test_worker_errors_reach_the_main_process():
    with pytest.raises(RuntimeError, match=r"(?s)batch 1 failed.*sample 2 is broken"):
        list(DataLoader(Failing(), batch_size=2, num_workers=2))
    with pytest.raises(RuntimeError, match=r"(?s)worker_init_fn raised.*bad init in worker 1"):
        list(DataLoader(Squares(), batch_size=2, num_workers=2, worker_init_fn=_init))


def test_default_collate_matches_pytorch_structure():
    pytest.importorskip("torch", reason="compares with torch's default_collate")
    from torch.utils.data import default_collate as tcollate

    from deepgrad.utils.data import default_collate

    batch = [{"x": np.ones(2) * i, "y": i, "z": 0.5 * i} for i in range(3)]
    ours, theirs = default_collate(batch), tcollate(batch)
    for key in ("x", "y", "z"):
        np.testing.assert_array_equal(ours[key].data, theirs[key].numpy())
        assert ours[key].data.dtype == theirs[key].numpy().dtype
