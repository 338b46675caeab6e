"""Callbacks: early stopping on scripted curves, checkpoints, schedulers, loggers, NaN, progress."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
from train_helpers import mlp

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLinesLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
    fit,
    read_checkpoint,
)


class Scripted(Callback):
    """Replaces the epoch's `key` by a scripted curve and remembers each epoch's weights."""

    order = -100

    def __init__(self, key: str, curve: list[float]) -> None:
        self.key, self.curve, self.weights = key, curve, []

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.key] = self.curve[epoch]
        self.weights.append(trainer.model.state_dict())


def _fit(spiral, callbacks, epochs, **kw):
    X, y = spiral
    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=50, shuffle=True, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, nn.CrossEntropyLoss(), opt, loader, loader, epochs=epochs,
            callbacks=callbacks, verbose=0, **kw)  # fmt: skip
    return model, h


CURVE = [1.0, 0.8, 0.6, 0.65, 0.61, 0.7, 0.5, 0.4, 0.3, 0.2]


@pytest.mark.parametrize(
    ("patience", "min_delta", "stop_epoch", "best_epoch"),
    [(0, 0.0, 3, 2), (1, 0.0, 3, 2), (3, 0.0, 5, 2), (4, 0.0, 9, 9), (1, 0.25, 1, 0)],
)
def test_early_stopping_stops_at_the_right_epoch(
    spiral_data, patience, min_delta, stop_epoch, best_epoch
):
    script = Scripted("val_loss", CURVE)
    stopper = EarlyStopping(
        "val_loss", patience=patience, min_delta=min_delta, restore_best_weights=True
    )
    model, h = _fit(spiral_data, [script, stopper], epochs=10)
    assert h.epochs[-1] == stop_epoch
    assert stopper.best_epoch == best_epoch
    final = model.state_dict()
    for k, v in script.weights[best_epoch].items():
        assert np.array_equal(final[k], v), "best weights were not restored"


def test_early_stopping_mode_max_and_baseline():
    trainer = SimpleNamespace(model=mlp(), stop_training=False)
    acc = EarlyStopping("val_accuracy", patience=2)  # mode auto -> max
    assert acc.mode == "max"
    for epoch, value in enumerate([0.5, 0.6, 0.6, 0.59]):
        acc.on_epoch_end(trainer, epoch, {"val_accuracy": value})
    assert trainer.stop_training and acc.stopped_epoch == 3 and acc.best == 0.6
    trainer.stop_training = False
    base = EarlyStopping("val_loss", patience=2, baseline=0.5)
    for epoch, value in enumerate([0.9, 0.8]):  # never beats the baseline
        base.on_epoch_end(trainer, epoch, {"val_loss": value})
    assert trainer.stop_training and base.best_epoch is None


def test_early_stopping_nan_never_improves_and_missing_monitor_is_clear():
    trainer = SimpleNamespace(model=mlp(), stop_training=False)
    stopper = EarlyStopping(patience=1)
    stopper.on_epoch_end(trainer, 0, {"val_loss": 1.0})
    stopper.on_epoch_end(trainer, 1, {"val_loss": float("nan")})
    assert trainer.stop_training
    with pytest.raises(KeyError, match="val_loss.*need a val_loader"):
        stopper.on_epoch_end(trainer, 2, {"loss": 1.0})


def test_model_checkpoint_saves_last_and_best(tmp_path, spiral_data):
    script = Scripted("val_loss", [1.0, 0.5, 0.7, 0.6])
    _fit(spiral_data, [script, ModelCheckpoint(tmp_path)], epochs=4)
    assert read_checkpoint(tmp_path / "best").history[-1]["epoch"] == 1
    last = read_checkpoint(tmp_path / "last")
    assert last.epoch == 4 and len(last.history) == 4
    assert np.array_equal(last.model["0.weight"], script.weights[3]["0.weight"])


def test_reduce_on_plateau_through_the_callback(spiral_data):
    X, y = spiral_data
    model = mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    script = Scripted("val_loss", [1.0, 1.0, 1.0, 1.0])
    h = fit(model, nn.CrossEntropyLoss(), opt, DataLoader(TensorDataset(X, y), 50),
            DataLoader(TensorDataset(X, y), 50), epochs=4, verbose=0,
            callbacks=[script, LRSchedulerCallback(plateau)])  # fmt: skip
    assert h.history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.025])


def test_loggers_write_one_line_per_epoch(tmp_path, spiral_data):
    jsonl, csv_path = tmp_path / "m.jsonl", tmp_path / "m.csv"
    _, h = _fit(spiral_data, [JSONLinesLogger(jsonl), CSVLogger(csv_path)], epochs=3)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert records == [{k: v for k, v in r.items()} for r in h.to_records()]
    rows = list(csv.DictReader(csv_path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[1]["val_loss"]) == pytest.approx(h[1]["val_loss"])


def test_logger_resume_truncates_lines_written_after_the_checkpoint(tmp_path):
    path = tmp_path / "m.jsonl"
    trainer = SimpleNamespace(resumed=False)
    log = JSONLinesLogger(path)
    log.on_train_begin(trainer)
    log.on_epoch_end(trainer, 0, {"epoch": 0, "loss": float("nan")})
    state = log.state_dict()
    log.on_epoch_end(trainer, 1, {"epoch": 1, "loss": 0.5})  # written, then the process died
    again = JSONLinesLogger(path)
    again.load_state_dict(state)
    again.on_train_begin(SimpleNamespace(resumed=True))
    again.on_epoch_end(trainer, 1, {"epoch": 1, "loss": 0.25})
    assert path.read_text().splitlines() == [
        '{"epoch": 0, "loss": null}',
        '{"epoch": 1, "loss": 0.25}',
    ]


def test_terminate_on_nan_stops_at_that_batch(spiral_data):
    X, y = spiral_data
    calls = []

    def loss_fn(out, target):
        calls.append(1)
        loss = nn.CrossEntropyLoss()(out, target)
        return loss * float("nan") if len(calls) == 4 else loss

    model = mlp()
    loader = DataLoader(TensorDataset(X, y), batch_size=10)
    h = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.1), loader, epochs=5,
            callbacks=[TerminateOnNaN()], verbose=0)  # fmt: skip
    assert len(calls) == 4 and len(h) == 1


def test_progress_in_a_log_is_a_few_evenly_spaced_lines_with_an_eta(spiral_data):
    stream = io.StringIO()
    _fit(spiral_data, [ProgressBar(stream, lines=5)], epochs=20)
    header, *lines = stream.getvalue().splitlines()
    assert header.split() == ["epoch", "loss", "val_loss", "lr", "time", "epochs/s", "ETA"], header
    epochs = [int(line.split()[1].split("/")[0]) for line in lines]
    assert epochs == [1, 4, 8, 12, 16, 20], epochs
    assert all(len(line.split()) == len(header.split()) + 1 for line in lines)  # a table
    assert lines[-1].endswith(" 0s")  # the time left at the end


def test_progress_bar_prints_one_line_per_epoch_without_a_terminal(spiral_data):
    stream = io.StringIO()
    _fit(spiral_data, [ProgressBar(stream)], epochs=2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[1].startswith("epoch 1/2 ") and "val_loss" in lines[0]
    assert lines[2].startswith("epoch 2/2 ")


def test_stop_training_from_any_callback(spiral_data):
    class StopAt(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            trainer.stop_training = epoch == 1

    _, h = _fit(spiral_data, [StopAt()], epochs=10)
    assert len(h) == 2
    dg.manual_seed(0)


def test_csv_logger_append_keeps_old_rows_and_one_header(tmp_path):
    path = tmp_path / "m.csv"
    trainer = SimpleNamespace(resumed=False)
    for epoch_offset, append in ((0, False), (2, True)):
        log = CSVLogger(path, append=append)
        log.on_train_begin(trainer)
        for e in range(2):
            log.on_epoch_end(trainer, e + epoch_offset, {"epoch": e + epoch_offset, "loss": 1.0})
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss" and len(lines) == 5 and lines[-1] == "3,1.0"
