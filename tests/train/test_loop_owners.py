"""One owner per concern in the loop: probes leave no trace, one policy writes checkpoints,
every stop goes through `stop_training` + a reason so `on_train_end` always runs."""

from __future__ import annotations

import os

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.train import Callback, Doctor, EarlyStopping, TerminateOnNaN, Trainer, lr_find
from deepgrad.train.callback_list import CallbackList
from deepgrad.train.checkpoint import read_checkpoint
from deepgrad.train.checkpoint_policy import CheckpointPolicy
from deepgrad.train.probe import isolated


def _setup(seed: int = 0):
    """A dropout MLP with Adam and a cosine schedule on the spiral (all generators seeded)."""
    dg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    X, y = dg.data.spiral(30, 3, noise=0.1, seed=0)  # the same data whatever the seed
    model = nn.Sequential(nn.Linear(2, 16, generator=rng), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(16, 3, generator=rng))  # fmt: skip
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
    train = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=seed)
    return model, opt, sched, train, rng


def _weights(model) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


class _Record(Callback):
    def __init__(self) -> None:
        self.ended = 0
        self.reason: str | None = None

    def on_train_end(self, trainer) -> None:
        self.ended += 1
        self.reason = trainer.stop_reason


def _fit(callbacks=(), epochs: int = 4, **kwargs):
    model, opt, sched, train, rng = _setup()
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, callbacks=callbacks,
                      verbose=0, generator=rng, **kwargs)  # fmt: skip
    trainer.fit(train, epochs=epochs)
    return trainer


def test_a_run_with_the_doctor_ends_bitwise_equal_to_one_without():
    plain = _fit()
    doctor = Doctor(num_classes=3, overfit_steps=20)
    probed = _fit([doctor])
    assert doctor.before, "the doctor ran no checks"
    a, b = _weights(plain.model), _weights(probed.model)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # same arrays, same layout: Linear keeps its column-major weight
    assert probed.model[0].weight.numpy().flags.f_contiguous
    assert plain.history.to_records()[-1]["loss"] == probed.history.to_records()[-1]["loss"]


def test_isolated_restores_arrays_in_place_optimizer_and_generators():
    model, opt, sched, _, rng = _setup()
    x = dg.tensor(np.ones((4, 2), np.float32))
    nn.CrossEntropyLoss()(model(x), dg.tensor(np.array([0, 1, 2, 0]))).backward()
    opt.step()
    arrays = [p.numpy() for p in model.parameters()]
    values = [a.copy() for a in arrays]
    moments = {k: v.copy() for k, v in opt.state[model[0].weight].items() if hasattr(v, "copy")}
    rng_state, default = rng.bit_generator.state, dg.default_generator().bit_generator.state
    with isolated(model, opt, scheduler=sched, generators=[rng]):
        for p in model.parameters():
            p.data = np.ascontiguousarray(p.data * 2)  # rebinding, as the old doctor did
        opt.step()
        sched.step()
        rng.normal(size=3)
        dg.default_generator().normal(size=3)
        model.eval()
    assert all(p.numpy() is a for p, a in zip(model.parameters(), arrays))
    assert all(np.array_equal(a, v) for a, v in zip(arrays, values))
    state = opt.state[model[0].weight]
    assert all(np.array_equal(state[k], v) for k, v in moments.items())
    assert sched.last_epoch == 0 and model.training
    assert rng.bit_generator.state == rng_state
    assert dg.default_generator().bit_generator.state == default


def test_lr_find_leaves_the_model_and_generator_as_they_were():
    model, opt, _, train, _ = _setup()
    arrays = [p.numpy() for p in model.parameters()]
    before, default = _weights(model), dg.default_generator().bit_generator.state
    lr_find(model, nn.CrossEntropyLoss(), train, opt, num_iter=5)
    assert all(p.numpy() is a for p, a in zip(model.parameters(), arrays))
    after = _weights(model)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert dg.default_generator().bit_generator.state == default  # dropout drew, then restored


def test_every_stop_runs_on_train_end_with_a_reason():
    rec = _Record()
    _fit([EarlyStopping(monitor="loss", patience=0, min_delta=10.0), rec])
    assert rec.ended == 1 and rec.reason.startswith("EarlyStopping")

    class Boom(Callback):
        def on_batch_end(self, trainer, step, logs):
            logs["loss"] = float("nan")

    rec = _Record()
    _fit([Boom(), TerminateOnNaN(), rec])
    assert rec.ended == 1 and rec.reason.startswith("TerminateOnNaN")

    rec = _Record()
    trainer = _fit([rec], max_steps=3)
    assert rec.ended == 1 and trainer.stop_kind == "max_steps" and trainer.global_step == 3


class _Interrupt(Callback):
    """What the runner's SIGINT handler does, at a chosen step."""

    def __init__(self, at: int) -> None:
        self.at = at

    def on_batch_end(self, trainer, step, logs):
        if step == self.at:
            trainer.request_stop("interrupted by Ctrl-C (SIGINT)", "interrupt")


def test_an_interrupt_checkpoints_the_unfinished_epoch_and_resumes_bitwise(tmp_path):
    full = _fit(epochs=4)
    rec = _Record()
    policy = CheckpointPolicy(tmp_path / "ck", every_s=3600)  # only the interrupt writes
    model, opt, sched, train, rng = _setup()
    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(),
        opt,
        scheduler=sched,
        verbose=0,
        generator=rng,
        callbacks=[_Interrupt(at=8), rec],
        checkpoint=policy,
    )
    trainer.fit(train, epochs=4)  # fmt: skip
    assert rec.ended == 1 and trainer.stop_kind == "interrupt"
    ckpt = read_checkpoint(tmp_path / "ck" / "last")
    assert ckpt.step == 8 and ckpt.extra["trainer"]["batch_in_epoch"] == 2  # 6 batches/epoch
    assert len(ckpt.history) == 1  # the unfinished epoch was not recorded
    model, opt, sched, train, rng = _setup(seed=1)  # other weights: all come from the file
    again = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0,
                    generator=rng, callbacks=[_Interrupt(at=-1), _Record()])  # fmt: skip
    again.fit(train, epochs=4, resume_from=tmp_path / "ck")
    a, b = _weights(full.model), _weights(again.model)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    losses = [r["loss"] for r in again.history.to_records()]
    assert losses == [r["loss"] for r in full.history.to_records()]


def test_policy_every_steps_and_keep_last(tmp_path):
    _fit(epochs=2, checkpoint=CheckpointPolicy(tmp_path, every_steps=4, keep_last=3))
    snapshots = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".last.ckpt-"))
    assert len(snapshots) == 3
    assert os.readlink(tmp_path / "last") == snapshots[-1]
    assert read_checkpoint(tmp_path / "last").step == 12  # the end of epoch 2
    assert not [p for p in tmp_path.iterdir() if ".link-" in p.name]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"every_s": -1.0}, "every_s"), ({"every_steps": 0}, "every_steps"),
     ({"keep_last": 0}, "keep_last"), ({"every_s": float("nan")}, "every_s")],
)  # fmt: skip
def test_policy_refuses_bad_settings(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=rf"CheckpointPolicy: {message}"):
        CheckpointPolicy(tmp_path, **kwargs)


def test_callback_list_calls_hooks_in_order():
    calls = []

    class Tag(Callback):
        def __init__(self, name, order):
            self.name, self.order = name, order

        def on_epoch_begin(self, trainer, epoch):
            calls.append((self.name, epoch))

    hooks = CallbackList([Tag("late", 5), Tag("early", -1), Tag("mid", 0)])
    hooks.on_epoch_begin(None, 3)
    assert calls == [("early", 3), ("mid", 3), ("late", 3)] and len(hooks) == 3


def _jitter(x, generator):
    """A random augmentation: Gaussian noise on the inputs from the loader's own generator."""
    return dg.tensor(x.data + generator.normal(0, 0.05, size=x.shape).astype(x.data.dtype))


def test_prefetching_loader_with_random_augmentation_resumes_bitwise(tmp_path):
    """The background thread draws from generators derived from (seed, epoch), never a global
    one, so an interrupted and resumed run sees the same augmented batches."""

    def run(callbacks, policy=None, resume=None):
        model, opt, sched, _, rng = _setup()
        X, y = dg.data.spiral(30, 3, noise=0.1, seed=0)
        train = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=3,
                           prefetch=2, transform=_jitter)  # fmt: skip
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=0,
                          generator=rng, callbacks=callbacks, checkpoint=policy)  # fmt: skip
        trainer.fit(train, epochs=3, resume_from=resume)
        return trainer

    full = run([_Record()])
    run([_Interrupt(at=7), _Record()], CheckpointPolicy(tmp_path / "ck", every_s=3600))
    again = run([_Interrupt(at=-1), _Record()], resume=tmp_path / "ck")
    a, b = _weights(full.model), _weights(again.model)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [r["loss"] for r in full.history] == [r["loss"] for r in again.history]


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "rmsprop", "adamw"])
def test_one_cycle_per_step_schedule_resumes_bitwise_after_interrupts(tmp_path, optimizer):
    """A user script: one-cycle stepped per batch, interrupted twice mid-epoch and resumed."""

    def run(callbacks, policy=None, resume=None):
        model, _, _, train, rng = _setup()
        params = model.parameters()
        opt = {"sgd_momentum": lambda: optim.SGD(params, lr=0.05, momentum=0.9),
               "rmsprop": lambda: optim.RMSprop(params, lr=0.01),
               "adamw": lambda: optim.AdamW(params, lr=0.01)}[optimizer]()  # fmt: skip
        sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=30)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched,
                          scheduler_interval="step", verbose=0, generator=rng,
                          callbacks=callbacks, checkpoint=policy)  # fmt: skip
        trainer.fit(train, epochs=5, resume_from=resume)
        return trainer

    full = run([_Record()])
    policy = CheckpointPolicy(tmp_path / "ck", every_s=3600)
    run([_Interrupt(at=4), _Record()], policy)
    run([_Interrupt(at=17), _Record()], policy, resume=tmp_path / "ck")
    again = run([_Interrupt(at=-1), _Record()], resume=tmp_path / "ck")
    a, b = _weights(full.model), _weights(again.model)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [r["lr"] for r in full.history] == [r["lr"] for r in again.history]


def test_request_stop_refuses_an_unknown_kind():
    model, opt, _, _, _ = _setup()
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, verbose=0)
    with pytest.raises(ValueError, match="Trainer.request_stop: kind must be"):
        trainer.request_stop("why", "pause")
    assert not trainer.stop_training
