"""deepgrad.distributed in one process: sharding, buckets, SyncBatchNorm, the fit hook."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.distributed as dist
from deepgrad import nn
from deepgrad.data import TensorDataset


@pytest.mark.parametrize(
    ("n", "world", "drop_last"), [(10, 3, False), (10, 3, True), (8, 4, False)]
)
def test_shards_are_disjoint_equal_and_cover_the_permutation(n, world, drop_last):
    shards = [dist.DistributedSampler(n, world, r, True, 5, drop_last).indices(2)
              for r in range(world)]  # fmt: skip
    assert len({len(s) for s in shards}) == 1
    perm = np.random.default_rng([5, 2]).permutation(n)
    if drop_last:
        together = np.concatenate(shards)
        assert len(set(together.tolist())) == len(together) == (n // world) * world
    else:
        assert set(np.concatenate(shards).tolist()) == set(range(n))
        padded = len(shards[0]) * world - n
        distinct = [set(s.tolist()) for s in shards]
        overlap = sum(len(a & b) for i, a in enumerate(distinct) for b in distinct[i + 1 :])
        assert overlap <= padded  # only the wrapped-around padding repeats
    # rank r holds every world-th element of the shared permutation, from position r
    np.testing.assert_array_equal(
        shards[1][: len(perm[1::world])], perm[1::world][: len(shards[1])]
    )


def test_distributed_loader_batches_the_shard_and_resumes_by_state():
    X = np.arange(20.0).reshape(10, 2)
    loader = dist.DistributedDataLoader(TensorDataset(X), batch_size=2, shuffle=True, seed=3,
                                        num_replicas=2, rank=1)  # fmt: skip
    assert len(loader) == 3
    shard = dist.DistributedSampler(10, 2, 1, True, 3).indices(0)
    rows = np.concatenate([xb.data[:, 0] / 2 for (xb,) in loader]).astype(int)
    np.testing.assert_array_equal(rows, shard)
    again = dist.DistributedDataLoader(TensorDataset(X), batch_size=2, shuffle=True, seed=99,
                                       num_replicas=2, rank=1)  # fmt: skip
    again.load_state_dict(loader.state_dict())
    np.testing.assert_array_equal(
        np.concatenate(again.batch_indices()), np.concatenate(loader.batch_indices())
    )


def test_bad_sampler_and_bucket_arguments():
    with pytest.raises(
        ValueError, match=r"DistributedSampler: rank must be in \[0, num_replicas\)"
    ):
        dist.DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match=r"DistributedSampler: 1 samples cannot fill 2 shards"):
        dist.DistributedSampler(1, 2, 0, drop_last=True)
    with pytest.raises(ValueError, match=r"GradientReducer: bucket_bytes must be positive"):
        dist.GradientReducer([], bucket_bytes=0)
    with pytest.raises(ValueError, match=r"all_reduce: op must be 'sum' or 'mean', got 'max'"):
        dist.all_reduce(dg.ones(2), op="max")


def test_buckets_split_by_size_and_dtype():
    params = [nn.Parameter(np.zeros(n, dt)) for n, dt in
              [(10, np.float32), (10, np.float32), (30, np.float32), (4, np.float64)]]  # fmt: skip
    reducer = dist.GradientReducer(params, bucket_bytes=80)
    sizes = [(len(ps), buf.size, buf.dtype) for ps, buf in reducer.buckets]
    assert sizes == [(2, 20, np.float32), (1, 30, np.float32), (1, 4, np.float64)]


def test_sync_batchnorm_in_one_process_is_batchnorm():
    dg.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    bn, sync = nn.BatchNorm2d(3).to(dtype=np.float64), dist.SyncBatchNorm(3).to(dtype=np.float64)
    outs = []
    for layer in (bn, sync):
        xt = dg.tensor(x, requires_grad=True)
        y = layer(xt)
        (y * y * dg.tensor(np.arange(48.0).reshape(4, 3, 2, 2))).sum().backward()
        outs.append((y.data, xt.grad.data, layer.running_var.numpy().copy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    sync.eval()
    np.testing.assert_allclose(sync(dg.tensor(x)).data, bn.eval()(dg.tensor(x)).data, rtol=1e-12)


def test_convert_sync_batchnorm_keeps_the_statistics():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
    model[1].running_mean.data[...] = [0.5, -0.5]
    converted = dist.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], dist.SyncBatchNorm)
    np.testing.assert_array_equal(converted[1].running_mean.data, [0.5, -0.5])


def test_fit_distributed_in_one_process_equals_plain_fit():
    X = np.random.default_rng(0).standard_normal((12, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    finals = []
    for distributed in (False, True):
        dg.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        opt = dg.optim.SGD(model.parameters(), lr=0.1)
        cls = dist.DistributedDataLoader if distributed else dg.data.DataLoader
        loader = cls(TensorDataset(X, y), batch_size=4, shuffle=True, seed=1)
        dg.train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, verbose=0,
                     distributed=distributed)  # fmt: skip
        finals.append(model.state_dict())
    for k in finals[0]:
        np.testing.assert_array_equal(finals[0][k], finals[1][k])


def test_scratch_copy_skips_rank0_probe_files_and_files_that_vanish(tmp_path, monkeypatch):
    """Rank 0 probes and atomically replaces files in the run folder while the other ranks
    copy it (a CI failure: copytree raised on a probe file removed mid-copy)."""
    from deepgrad.recipes import _distributed

    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / ".deepgrad-write-test-0123456789ab").write_text("")
    (run / ".config.json.tmp-deadbeef").write_text("partial")
    (run / "checkpoint" / "gone").write_text("x")
    real_copy2 = shutil.copy2

    def vanish_then_copy(src, dst, **kw):
        if Path(src).name == "gone":
            Path(src).unlink()  # rank 0 replaced it between listing and copying
        return real_copy2(src, dst, **kw)

    monkeypatch.setattr(dist, "is_main", lambda: False)
    monkeypatch.setattr(dist, "rank", lambda: 1)
    monkeypatch.setattr(_distributed.shutil, "copy2", vanish_then_copy)
    scratch = _distributed.scratch_unless_main(run)
    try:
        assert scratch != run
        assert sorted(p.name for p in scratch.iterdir()) == ["checkpoint", "config.json"]
        assert not (scratch / "checkpoint" / "gone").exists()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _distributed._SCRATCH.discard(scratch)
