"""Run under `mpiexec -n N python mpi_worker.py SCENARIO OUT_DIR` by test_mpi.py.

Each scenario asserts on every rank; a failed assertion aborts the whole job
through deepgrad.distributed's exception hook (non-zero exit status).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

import deepgrad as dg
import deepgrad.distributed as dist
from deepgrad import nn
from deepgrad.data import TensorDataset


def _data(n: int = 24, d: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, 3, n)


def _model(sync_bn: bool) -> nn.Module:
    dg.manual_seed(0)
    norm = dist.SyncBatchNorm(6) if sync_bn else nn.BatchNorm1d(6)
    return nn.Sequential(nn.Linear(5, 6), norm, nn.Tanh(), nn.Linear(6, 3)).to(dtype=np.float64)


def _grads(model) -> list[np.ndarray]:
    return [p.grad.numpy().copy() for p in model.parameters()]


def _global_batch(n: int, loader, per_rank: int, epoch: int) -> np.ndarray:
    """The global batch: every rank's first batch of `epoch`, from the shared permutation."""
    world = dist.world_size()
    shards = [dist.DistributedSampler(n, world, r, True, loader.seed).indices(epoch)
              for r in range(world)]  # fmt: skip
    return np.concatenate([s[:per_rank] for s in shards])


def _check_step(model, ref, X, y, loader, per_rank: int, epoch: int) -> None:
    dist.broadcast_parameters(model)
    ref.load_state_dict(model.state_dict())
    loader.set_epoch(epoch)
    xb, yb = next(iter(loader))
    nn.functional.cross_entropy(model(xb), yb).backward()
    dist.all_reduce_gradients(model.parameters(), bucket_bytes=200)  # several buckets
    idx = _global_batch(len(X), loader, per_rank, epoch)
    nn.functional.cross_entropy(ref(dg.tensor(X[idx])), dg.tensor(y[idx])).backward()
    for g, w in zip(_grads(model), _grads(ref)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-15)


def scenario_grad(out: Path) -> None:
    """Averaged gradient == the single-process gradient of the global batch (float64), for
    an MLP and for one with SyncBatchNorm (whose statistics span the global batch)."""
    X, y = _data()
    per_rank = 3
    loader = dist.DistributedDataLoader(TensorDataset(X, y), batch_size=per_rank, shuffle=True,
                                        seed=7)  # fmt: skip
    dg.manual_seed(1)
    plain = [nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3)).to(dtype=np.float64)
             for _ in range(2)]  # fmt: skip
    _check_step(plain[0], plain[1], X, y, loader, per_rank, 0)
    _check_step(_model(True), _model(False), X, y, loader, per_rank, 1)
    if dist.is_main():
        (out / "grad.ok").write_text("ok")


def scenario_steps(out: Path) -> None:
    """100 steps of fit(distributed=True): parameters equal on every rank, written per rank."""
    X, y = _data(40)
    dg.manual_seed(100 + dist.rank())  # different inits: broadcast_parameters must fix them
    model = nn.Sequential(nn.Linear(5, 8), dist.SyncBatchNorm(8), nn.ReLU(), nn.Linear(8, 3))
    opt = dg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = dist.DistributedDataLoader(TensorDataset(X.astype(np.float32), y), batch_size=2,
                                        shuffle=True, seed=3)  # fmt: skip
    hist = dg.train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=100, max_steps=100,
                        verbose=0, distributed=True)  # fmt: skip
    assert hist.records, "no epoch recorded"
    state = model.state_dict()
    np.savez(out / f"params_rank{dist.rank()}.npz", **state)


def _resume_run(out: Path, epochs: int, ckpt: Path | None, resume: bool) -> dict:
    X, y = _data(30)
    dg.manual_seed(5)
    model = nn.Sequential(nn.Linear(5, 6), dist.SyncBatchNorm(6), nn.ReLU(), nn.Linear(6, 3))
    opt = dg.optim.Adam(model.parameters(), lr=0.01)
    loader = dist.DistributedDataLoader(TensorDataset(X.astype(np.float32), y), batch_size=2,
                                        shuffle=True, seed=11)  # fmt: skip
    dg.train.fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=epochs, verbose=0,
                 checkpoint_dir=ckpt, resume_from=ckpt / "last" if resume else None,
                 distributed=True)  # fmt: skip
    return model.state_dict()


def scenario_resume(out: Path) -> None:
    """Stopping after 2 epochs and resuming to 4 gives the uninterrupted run's weights."""
    straight = _resume_run(out, 4, None, False)
    ckpt = out / "ckpt"
    _resume_run(out, 2, ckpt, False)
    dist.barrier()  # rank 0 wrote the checkpoint every rank resumes from
    resumed = _resume_run(out, 4, ckpt, True)
    for k, v in straight.items():
        np.testing.assert_array_equal(resumed[k], v, err_msg=k)
    if dist.is_main():
        (out / "resume.ok").write_text("ok")


def scenario_search(out: Path) -> None:
    """grid_search with map_trials: each trial runs once, on rank i mod N; every rank gets
    all rows, equal to a local search's."""
    seen = []

    def fn(p):
        seen.append(p["a"])
        return {"score": (p["a"] - 2.0) ** 2, "on_rank": float(dist.rank())}

    grid = {"a": [0.0, 1.0, 2.0, 3.0, 4.0]}
    res = dg.train.grid_search(fn, grid, executor=dist.map_trials)
    n = dist.world_size()
    assert seen == grid["a"][dist.rank() :: n], seen
    rows = {r["params"]["a"]: r for r in res}
    for i, a in enumerate(grid["a"]):
        assert rows[a]["score"] == (a - 2.0) ** 2 and rows[a]["on_rank"] == i % n
    assert res.best_params == {"a": 2.0}
    assert dist.broadcast_object({"x": [1, 2]} if dist.is_main() else None) == {"x": [1, 2]}
    if dist.is_main():
        (out / "search.ok").write_text("ok")


def scenario_fail(out: Path) -> None:
    """Rank 1 fails while the others wait in a collective: the job must end, naming rank 1."""
    dist.barrier()
    if dist.rank() == 1:
        raise RuntimeError("boom on purpose")
    buf = np.ones(3)
    dist.all_reduce_array(buf)  # never completes: rank 1 is gone
    time.sleep(60)


if __name__ == "__main__":
    dist.init()
    name, out = sys.argv[1], Path(sys.argv[2])
    scenarios = {"grad": scenario_grad, "steps": scenario_steps, "resume": scenario_resume,
                 "search": scenario_search, "fail": scenario_fail}  # fmt: skip
    scenarios[name](out)
