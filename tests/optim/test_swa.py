"""AveragedModel (uniform and EMA averages) and update_bn."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.nn.module import Module, Parameter


class Affine(Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = Parameter(np.zeros(3))
        self.b = Parameter(np.zeros(1))
        self.register_buffer("seen", dg.Tensor(np.zeros(1)))

    def forward(self, x):
        return x * self.w + self.b


class ToyBatchNorm(Module):
    """Running mean with PyTorch's momentum semantics (None: cumulative average)."""

    def __init__(self, momentum=0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", dg.Tensor(np.zeros(2)))
        self.register_buffer("running_var", dg.Tensor(np.ones(2)))
        self.register_buffer("num_batches_tracked", dg.Tensor(np.array(0)))

    def reset_running_stats(self) -> None:
        self.running_mean.data[...] = 0
        self.running_var.data[...] = 1
        self.num_batches_tracked.data[...] = 0

    def forward(self, x):
        if self.training:
            self.num_batches_tracked.data += 1
            n = int(self.num_batches_tracked.data)
            m = 1.0 / n if self.momentum is None else self.momentum
            self.running_mean.data[...] = (1 - m) * self.running_mean.data + m * x.data.mean(0)
        return x


def _snapshots(n=4):
    rng = np.random.default_rng(0)
    return [(rng.normal(size=3), rng.normal(size=1)) for _ in range(n)]


def test_uniform_average_is_the_mean_of_snapshots():
    model = Affine()
    avg = optim.AveragedModel(model)
    snaps = _snapshots()
    for w, b in snaps:
        model.w.data[...] = w
        model.b.data[...] = b
        model.seen.data += 1
        avg.update_parameters(model)
    np.testing.assert_allclose(avg.module.w.data, np.mean([w for w, _ in snaps], axis=0))
    np.testing.assert_allclose(avg.module.b.data, np.mean([b for _, b in snaps], axis=0))
    assert int(avg.n_averaged.data) == 4 and avg.module.seen.data[0] == 4  # buffers copied
    assert avg.module.w is not model.w
    x = dg.Tensor(np.ones(3))
    np.testing.assert_allclose(avg(x).data, avg.module.w.data + avg.module.b.data)


def test_ema_matches_the_formula():
    decay = 0.9
    model = Affine()
    avg = optim.AveragedModel(model, multi_avg_fn=optim.get_ema_multi_avg_fn(decay))
    snaps = _snapshots()
    ema = None
    for w, _ in snaps:
        model.w.data[...] = w
        avg.update_parameters(model)
        ema = w.copy() if ema is None else decay * ema + (1 - decay) * w
    np.testing.assert_allclose(avg.module.w.data, ema)
    avg2 = optim.AveragedModel(model, avg_fn=optim.swa_utils.get_ema_avg_fn(decay))
    for w, _ in snaps:
        model.w.data[...] = w
        avg2.update_parameters(model)
    np.testing.assert_allclose(avg2.module.w.data, ema)


def test_use_buffers_averages_buffers_too():
    model = Affine()
    avg = optim.AveragedModel(model, use_buffers=True)
    for k in range(1, 4):
        model.seen.data[...] = k
        avg.update_parameters(model)
    assert avg.module.seen.numpy()[0] == pytest.approx(2.0)


def test_update_bn_recomputes_running_statistics():
    bn = ToyBatchNorm(momentum=0.1)
    bn.running_mean.data[...] = 99.0
    bn.eval()
    rng = np.random.default_rng(0)
    batches = [(dg.Tensor(rng.normal(size=(8, 2)) + 3), dg.Tensor(np.zeros(8))) for _ in range(5)]
    optim.update_bn(batches, bn)
    want = np.mean([x.numpy().mean(0) for x, _ in batches], axis=0)
    np.testing.assert_allclose(bn.running_mean.data, want)
    assert bn.momentum == 0.1 and bn.training is False


def test_swa_pipeline_with_real_batch_norm():
    nn = pytest.importorskip("deepgrad.nn")
    if not hasattr(nn, "BatchNorm1d") or not hasattr(nn, "Linear"):
        pytest.skip("deepgrad.nn has no BatchNorm1d/Linear yet")
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    swa = optim.AveragedModel(model)
    rng = np.random.default_rng(1)
    batches = [(dg.Tensor(rng.normal(size=(16, 3)).astype(np.float32)),) for _ in range(4)]
    opt = optim.SGD(model.parameters(), lr=0.1)
    for (x,) in batches:
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        swa.update_parameters(model)
    optim.update_bn(batches, swa)
    bn = swa.module[1]
    with dg.no_grad():
        feats = [swa.module[0](x).data for (x,) in batches]
    np.testing.assert_allclose(
        bn.running_mean.data, np.mean([f.mean(0) for f in feats], 0), rtol=1e-5, atol=1e-6
    )
    assert bn.momentum == 0.1
