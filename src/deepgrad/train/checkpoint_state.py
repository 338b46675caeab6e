"""Checks on a checkpoint's states before a resume uses any of them (a run folder is untrusted).

The digests in the manifest prove only that the files are the ones the manifest
names; a manifest can be re-signed by whoever edits the folder.  So every value
a resume would use is checked for type and range first: weight dtypes and
shapes equal the model's, optimizer moments are finite arrays shaped like their
parameter (second moments non-negative), learning rates are finite and
non-negative (a cosine schedule ends at 0), counters are non-negative integers, scheduler values have the live
scheduler's types, generator states name the live bit generator, loader seeds
and epochs are non-negative, logger offsets lie within their log files.  The
first problem found raises `CheckpointError` with one line naming it.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from .checkpoint import Checkpoint, CheckpointError, check_model_match

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer

_SECOND_MOMENTS = ("exp_avg_sq", "max_exp_avg_sq", "square_avg", "sum", "acc_delta", "v")
_STOP_KINDS = (None, "final", "max_steps", "interrupt")


def _fail(ckpt: Checkpoint, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {ckpt.path}: {what}; nothing was loaded")


def _count(ckpt: Checkpoint, name: str, value: Any, upper: float = math.inf) -> int:
    """A non-negative integer (bool refused) not above `upper`."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or not 0 <= int(value) <= upper:
        bound = "" if upper == math.inf else f" and <= {upper}"
        raise _fail(ckpt, f"{name} must be an integer >= 0{bound}, got {value!r}")
    return int(value)


def _number(ckpt: Checkpoint, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.generic)):
        raise _fail(ckpt, f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(float(value)):
        raise _fail(ckpt, f"{name} must be finite, got {value!r}")
    return float(value)


def check_weights(ckpt: Checkpoint, model: Any) -> None:
    """Names and shapes (`check_model_match`), then dtypes equal the model's."""
    check_model_match(ckpt, model)
    own = model.state_dict()
    for key, saved in ckpt.model.items():
        if key in own and np.asarray(saved).dtype != np.asarray(own[key]).dtype:
            dtype = np.asarray(own[key]).dtype
            raise _fail(ckpt, f"weight {key} is {saved.dtype}, the model's is {dtype}")


def _check_param_state(ckpt: Checkpoint, where: str, state: Any, param: Any) -> None:
    if not isinstance(state, dict):
        raise _fail(ckpt, f"{where} must be a table, got {type(state).__name__}")
    for key, value in state.items():
        name = f"{where}.{key}"
        if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
            if value.shape != tuple(param.shape) or value.dtype != param._data.dtype:
                raise _fail(ckpt, f"{name} is {value.dtype}{list(value.shape)}, its parameter "
                                  f"is {param._data.dtype}{list(param.shape)}")  # fmt: skip
            if not np.all(np.isfinite(value)):
                raise _fail(ckpt, f"{name} holds NaN or Inf")
            if key in _SECOND_MOMENTS and np.any(value < 0):
                raise _fail(ckpt, f"{name} is a second moment but holds negative values")
        elif key == "step":
            _count(ckpt, name, value.item() if isinstance(value, np.generic) else value)
        elif isinstance(value, (numbers.Real, np.generic)) and not isinstance(value, bool):
            _number(ckpt, name, value)


def check_optimizer(ckpt: Checkpoint, optimizer: Any) -> None:
    """Group count and sizes, finite positive `lr`, finite settings, per-parameter states."""
    saved = ckpt.optimizer
    if not isinstance(saved, dict) or not isinstance(saved.get("param_groups"), list):
        raise _fail(ckpt, "the optimizer state is not {'state', 'param_groups'}")
    groups, own = saved["param_groups"], optimizer.param_groups
    if len(groups) != len(own):
        raise _fail(ckpt, f"the optimizer has {len(groups)} groups, this run's has {len(own)}")
    params = {}
    for i, (group, live) in enumerate(zip(groups, own)):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise _fail(ckpt, f"optimizer group {i} is not a table with 'params'")
        if len(group["params"]) != len(live["params"]):
            raise _fail(ckpt, f"optimizer group {i} has {len(group['params'])} parameters, "
                              f"this run's has {len(live['params'])}")  # fmt: skip
        lr = _number(ckpt, f"optimizer group {i} lr", group.get("lr", live.get("lr", 1.0)))
        if lr < 0:  # NOTE: 0 is legitimate: a cosine schedule ends at eta_min=0
            raise _fail(ckpt, f"optimizer group {i} lr must be >= 0, got {lr!r}")
        for key, value in group.items():
            if key != "params" and key in live:
                _like(ckpt, f"optimizer group {i} {key}", value, live[key])
        for index, p in zip(group["params"], live["params"]):
            params[_count(ckpt, f"optimizer group {i} param index", index)] = p
    state = saved.get("state")
    if not isinstance(state, dict):
        raise _fail(ckpt, "the optimizer's per-parameter state is not a table")
    for key, entry in state.items():
        try:
            param = params[int(key)]
        except (KeyError, ValueError, TypeError):
            raise _fail(ckpt, f"optimizer state names unknown parameter {key!r}") from None
        _check_param_state(ckpt, f"optimizer state {key}", entry, param)


def _like(ckpt: Checkpoint, name: str, saved: Any, live: Any) -> None:
    """`saved` has `live`'s structure: same keys, numbers finite where `live` is a number."""
    if isinstance(live, dict):
        if not isinstance(saved, dict) or set(saved) != set(live):
            raise _fail(ckpt, f"{name} does not have the keys {sorted(map(str, live))}")
        for key in live:
            _like(ckpt, f"{name}.{key}", saved[key], live[key])
    elif isinstance(live, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(live):
            raise _fail(ckpt, f"{name} must be a list of {len(live)}")
        for i, (s, v) in enumerate(zip(saved, live)):
            _like(ckpt, f"{name}[{i}]", s, v)
    elif isinstance(live, bool):
        if not isinstance(saved, bool):
            raise _fail(ckpt, f"{name} must be true or false, got {saved!r}")
    elif isinstance(live, (numbers.Real, np.generic)) and live is not None:
        if not math.isfinite(float(live)) and isinstance(saved, float):
            return  # e.g. ReduceLROnPlateau's best before any epoch: inf
        value = _number(ckpt, name, saved)
        if isinstance(live, numbers.Integral) and value != int(value):
            raise _fail(ckpt, f"{name} must be an integer, got {saved!r}")


def check_rng(ckpt: Checkpoint, generator: np.random.Generator | None) -> None:
    """Each saved bit-generator state names the live bit generator and has its keys."""
    from deepgrad.core.random import get_rng_state

    if not isinstance(ckpt.rng, dict):
        raise _fail(ckpt, "the generator states are not a table")
    live = {"default": get_rng_state()}
    if generator is not None:
        live["generator"] = generator.bit_generator.state
    for name, state in ckpt.rng.items():
        if name not in live:
            raise _fail(ckpt, f"unknown generator {name!r}")
        if not isinstance(state, dict) or state.get("bit_generator") != live[name]["bit_generator"]:
            raise _fail(ckpt, f"generator {name!r} is not a {live[name]['bit_generator']} state")
        _like(ckpt, f"generator {name!r}", state, live[name])


def _check_callbacks(ckpt: Checkpoint, trainer: Trainer) -> None:
    saved = ckpt.callbacks_state or []
    own = trainer.user_callbacks
    if not isinstance(saved, list) or len(saved) != len(own):
        raise _fail(ckpt, f"it holds {len(saved)} callback states but this run has {len(own)} "
                          "callbacks (pass the callbacks of the original run, in order)")  # fmt: skip
    for callback, entry in zip(own, saved):
        name = type(callback).__name__
        if not isinstance(entry, dict) or entry.get("class") != name:
            found = entry.get("class") if isinstance(entry, dict) else entry
            raise _fail(ckpt, f"callback {name} sits where the checkpoint has {found!r}")
        if not isinstance(entry.get("state"), dict):
            raise _fail(ckpt, f"callback {name}'s state is not a table")
        offset = entry["state"].get("offset")
        path = getattr(callback, "path", None)
        if offset is not None and path is not None:
            size = os.lstat(path).st_size if os.path.lexists(path) else 0
            _count(ckpt, f"{name} offset into {path}", offset, size)


def _check_loop(ckpt: Checkpoint, trainer: Trainer) -> None:
    _count(ckpt, "epoch", ckpt.epoch)
    _count(ckpt, "step", ckpt.step)
    loop = (ckpt.extra or {}).get("trainer", {}) if isinstance(ckpt.extra, dict) else None
    if not isinstance(loop, dict):
        raise _fail(ckpt, "the loop state is not a table")
    per_epoch = trainer.batches_per_epoch()
    _count(ckpt, "batch_in_epoch", loop.get("batch_in_epoch", 0),
           math.inf if per_epoch is None else per_epoch)  # fmt: skip
    if loop.get("stop_kind") not in _STOP_KINDS:
        raise _fail(ckpt, f"stop_kind must be one of {_STOP_KINDS}, got {loop['stop_kind']!r}")
    _number(ckpt, "epoch_time", loop.get("epoch_time", 0.0))
    _like(ckpt, "loss_mean", loop.get("loss_mean"), trainer.loss_mean.state_dict())
    for loader in ("train", "val"):
        state = (ckpt.loader_state or {}).get(loader)
        if state is not None:
            if not isinstance(state, dict):
                raise _fail(ckpt, f"the {loader} loader state is not a table")
            _count(ckpt, f"{loader} loader seed", state.get("seed"), 2**64 - 1)
            _count(ckpt, f"{loader} loader epoch", state.get("epoch"))
    history = ckpt.history or []
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise _fail(ckpt, "the history is not a list of records")


def check_trainer_state(ckpt: Checkpoint, trainer: Trainer) -> None:
    """Every check above against `trainer`'s own model, optimizer, scheduler and callbacks."""
    check_weights(ckpt, trainer.model)
    if trainer.optimizer is not None:
        check_optimizer(ckpt, trainer.optimizer)
    if trainer.scheduler is not None:
        _like(ckpt, "the scheduler state", ckpt.scheduler, trainer.scheduler.state_dict())
    check_rng(ckpt, trainer.generator)
    _check_loop(ckpt, trainer)
    _check_callbacks(ckpt, trainer)
