"""The fit loop: it learns, it switches modes, its knobs do what they say, it resumes exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_helpers import mlp

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.train import Callback, History, JSONLinesLogger, evaluate, fit, predict


def _loader(X, y, batch_size=16, shuffle=True, seed=0):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle, seed=seed)


def test_mlp_reaches_99_percent_training_accuracy_on_spiral():
    # recipe: standardised inputs, 2 hidden layers of 100 ReLU, Adam 1e-2, 1000 full-batch steps
    X, y = dg.data.spiral(100, 3, noise=0.05, seed=0)
    X = (X - X.mean(0)) / X.std(0)
    model = mlp((2, 100, 100, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loader = _loader(X, y, batch_size=300)
    history = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=1000, verbose=0)
    assert history[-1]["loss"] < history[0]["loss"]
    assert evaluate(model, _loader(X, y, 300, False), metrics=["accuracy"])["accuracy"] >= 0.99


class _ModeSpy(nn.Module):
    """Records (training flag, grad enabled) at every forward."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(2, 3)
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.seen.append((self.training, dg.is_grad_enabled()))
        return self.inner(x)


def test_train_mode_for_training_eval_and_no_grad_for_validation(spiral_data):
    X, y = spiral_data
    model = _ModeSpy()
    opt = optim.SGD(model.parameters(), lr=0.1)
    train, val = _loader(X, y, 50), _loader(X, y, 150, shuffle=False)
    fit(model, nn.CrossEntropyLoss(), opt, train, val, epochs=2, verbose=0)
    # per epoch: 3 training batches (train mode, grad) then 1 validation batch (eval, no grad)
    assert model.seen == [(True, True)] * 3 + [(False, False)] + [(True, True)] * 3 + [
        (False, False)
    ]
    assert model.training


def test_history_records_and_keras_view(spiral_data):
    X, y = spiral_data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, nn.CrossEntropyLoss(), opt, _loader(X, y), _loader(X, y), epochs=3,
            metrics=["loss", "accuracy", "f1"], verbose=0)  # fmt: skip
    assert isinstance(h, History) and len(h) == 3
    keys = ["epoch", "loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr", "time"]
    assert list(h[0]) == keys
    assert h.history["epoch"] == [0, 1, 2] and len(h.history["val_loss"]) == 3
    assert h.best("val_loss")["val_loss"] == min(h.history["val_loss"])
    assert h.best("val_accuracy")["val_accuracy"] == max(h.history["val_accuracy"])
    assert h.to_records()[1] == h[1]


def test_overfit_batches_memorises_a_fixed_batch(spiral_data):
    X, y = spiral_data
    model = mlp((2, 64, 64, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    loader = _loader(X, y, batch_size=16)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=150, overfit_batches=1,
            metrics=["accuracy"], verbose=0)  # fmt: skip
    assert h[-1]["accuracy"] == 1.0 and h[-1]["loss"] < 0.05
    xb, yb = next(iter(DataLoader(TensorDataset(X, y), 16, shuffle=True, seed=loader.seed)))
    assert evaluate(model, [(xb, yb)], metrics=["accuracy"])["accuracy"] == 1.0


def test_max_steps_and_limit_batches(spiral_data):
    X, y = spiral_data
    counted = []

    class Count(Callback):
        def on_batch_end(self, trainer, step, logs):
            counted.append(step)

    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, nn.CrossEntropyLoss(), opt, _loader(X, y), epochs=10, max_steps=13,
            limit_batches=5, callbacks=[Count()], verbose=0)  # fmt: skip
    assert counted == list(range(1, 14)) and len(h) == 3  # 5 + 5 + 3 steps
    counted.clear()
    fit(model, nn.CrossEntropyLoss(), opt, _loader(X, y), epochs=1, limit_batches=0.5,
        callbacks=[Count()], verbose=0)  # fmt: skip
    assert len(counted) == 5  # half of 10 batches


def test_step_scheduler_and_gradient_clipping(spiral_data):
    X, y = spiral_data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    norms = []

    class Norm(Callback):
        def on_batch_end(self, trainer, step, logs):
            g = [p.grad.numpy() for p in trainer.model.parameters()]
            norms.append(float(np.sqrt(sum(np.sum(x.astype(np.float64) ** 2) for x in g))))

    h = fit(model, nn.CrossEntropyLoss(), opt, _loader(X, y, 50), epochs=2, scheduler=sched,
            scheduler_interval="step", clip_grad_norm=0.01, callbacks=[Norm()], verbose=0)  # fmt: skip
    assert h[0]["lr"] == pytest.approx(0.5**3) and h[1]["lr"] == pytest.approx(0.5**6)
    assert max(norms) <= 0.01 * (1 + 1e-4)


def test_clip_grad_value(spiral_data):
    X, y = spiral_data
    model = mlp()
    seen = []

    class Max(Callback):
        def on_batch_end(self, trainer, step, logs):
            seen.append(
                max(float(np.abs(p.grad.numpy()).max()) for p in trainer.model.parameters())
            )

    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), _loader(X, y),
        clip_grad_value=1e-3, callbacks=[Max()], verbose=0)  # fmt: skip
    assert max(seen) <= np.float32(1e-3)


def test_labels_outside_the_classes_raise_clearly(spiral_data):
    X, y = spiral_data
    y = y.copy()
    y[7] = 5
    model = mlp()
    with pytest.raises((ValueError, IndexError), match="5"):
        fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
            _loader(X, y), metrics=["accuracy"], verbose=0)  # fmt: skip


def test_batch_size_must_be_positive(spiral_data):
    with pytest.raises(ValueError, match="batch_size must be positive"):
        DataLoader(TensorDataset(*spiral_data), batch_size=0)


def test_evaluate_and_predict_restore_the_mode(spiral_data):
    X, y = spiral_data
    model = mlp()
    model.train()
    out = predict(model, X, batch_size=32)
    assert out.shape == (150, 3) and model.training
    np.testing.assert_allclose(out, model(dg.tensor(X)).data, rtol=1e-6)
    res = evaluate(model, _loader(X, y, 40, False), nn.CrossEntropyLoss(), ["accuracy", "mse"][:1])
    full = nn.CrossEntropyLoss()(model(dg.tensor(X)), dg.tensor(y)).item()
    assert res["loss"] == pytest.approx(full, rel=1e-5)  # weighted by batch size: exact mean
    assert res["accuracy"] == pytest.approx(np.mean(out.argmax(1) == y))


class _Crash(Callback):
    """Raises at a given global step, as a killed process would stop."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, logs):
        if step == self.at:
            raise KeyboardInterrupt


def _run(folder, spiral, epochs=5, crash=None, resume=None):
    X, y = spiral
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    callbacks = [JSONLinesLogger(folder / "metrics.jsonl", exclude=("time",))]
    callbacks += [dg.train.EarlyStopping(patience=50, restore_best_weights=True)]
    callbacks += [_Crash(crash or -1)]
    fit(model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(X, y), 16, shuffle=True),
        DataLoader(TensorDataset(X, y), 64), epochs=epochs, metrics=["accuracy"],
        scheduler=sched, callbacks=callbacks, checkpoint_dir=folder / "ckpt",
        checkpoint_every_steps=4, resume_from=resume, verbose=0)  # fmt: skip
    return model


@pytest.mark.parametrize("crash_at", [6, 8, 10, 27])
def test_resume_mid_epoch_is_bitwise_identical(tmp_path, spiral_data, crash_at):
    reference = _run(tmp_path / "a", spiral_data)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b", spiral_data, crash=crash_at)
    resumed = _run(tmp_path / "b", spiral_data, crash=None, resume=tmp_path / "b" / "ckpt")
    for k, v in reference.state_dict().items():
        assert np.array_equal(v, resumed.state_dict()[k]), k
    lines_a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    lines_b = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert lines_a == lines_b and len(lines_a) == 5
    assert [json.loads(line)["epoch"] for line in lines_b] == [0, 1, 2, 3, 4]
