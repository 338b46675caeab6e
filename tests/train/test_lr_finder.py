"""The learning-rate range test (Smith 2015) on a linear regression."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.nn.module import Module, Parameter
from deepgrad.train.lr_finder import LRFinderResult, lr_find


class LinearModel(Module):
    def __init__(self, n_in: int) -> None:
        super().__init__()
        self.w = Parameter(np.zeros(n_in))
        self.b = Parameter(np.zeros(1))

    def forward(self, x):
        return x @ self.w + self.b


def _loader(n_batches=10, batch=32, seed=0):
    rng = np.random.default_rng(seed)
    w = np.array([2.0, -1.0, 0.5, 3.0])
    out = []
    for _ in range(n_batches):
        x = rng.normal(size=(batch, 4))
        y = x @ w + 1.0 + 0.1 * rng.normal(size=batch)
        out.append((dg.Tensor(x), dg.Tensor(y)))
    return out


def mse(pred, y):
    return ((pred - y) ** 2).mean()


def test_lr_find_restores_model_and_suggests_a_good_lr(tmp_path):
    model = LinearModel(4)
    model.w.data[...] = [0.1, 0.2, 0.3, 0.4]
    before = {k: v.copy() for k, v in model.state_dict().items()}
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    res = lr_find(
        model,
        mse,
        _loader(),
        optimizer=opt,
        start_lr=1e-5,
        end_lr=10,
        num_iter=60,
        plot=tmp_path / "lr.png",
    )
    assert isinstance(res, LRFinderResult)
    for k, v in model.state_dict().items():
        assert np.array_equal(v, before[k])
    assert opt.param_groups[0]["lr"] == 0.01 and opt.state == {}
    # diverges somewhere above lr ~ 1 (the curvature of the loss is ~2), stops early
    assert res.diverged and len(res.lrs) < 60
    assert 1e-3 <= res.suggestion <= 0.5, res.suggestion
    assert (tmp_path / "lr.png").stat().st_size > 1000
    assert len(res.losses) == len(res.raw_losses) == len(res.lrs)


def test_sweep_is_exponential_and_smoothing_is_an_ema():
    model = LinearModel(4)
    res = lr_find(model, mse, _loader(2), start_lr=1e-6, end_lr=1e-3, num_iter=10, smooth_f=0.5)
    np.testing.assert_allclose(res.lrs, 1e-6 * 1000 ** (np.arange(10) / 9))
    ema = [res.raw_losses[0]]
    for loss in res.raw_losses[1:]:
        ema.append(0.5 * loss + 0.5 * ema[-1])
    np.testing.assert_allclose(res.losses, ema)
    assert not res.diverged


def test_bad_arguments():
    with pytest.raises(ValueError, match="start_lr"):
        lr_find(LinearModel(4), mse, _loader(1), start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="step_mode"):
        lr_find(LinearModel(4), mse, _loader(1), step_mode="cos")


def test_suggestion_ignores_the_recovery_after_a_spike():
    from deepgrad.train.lr_finder import suggest_lr

    lrs = np.logspace(-4, 1, 60)
    x = np.log10(lrs)
    loss = 2.0 - 1.5 / (1 + np.exp(-4 * (x + 2)))  # falls steepest near lr = 1e-2
    loss[x > -0.5] += 3.0 * (x[x > -0.5] + 0.5)  # then diverges
    loss[45:48] += 4.0  # a spike and its steep recovery, past the minimum
    lr = suggest_lr(lrs.tolist(), loss.tolist())
    assert 3e-3 < lr < 3e-2, lr
    assert lr < lrs[int(np.argmin(loss))]
