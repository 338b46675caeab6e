"""`evaluate` and `predict`: the model in eval mode, under no_grad, over a loader or an array.

`fit` validates with `evaluate` on the validation loader and never sees the
test split: call `evaluate(model, test_loader, ...)` once, explicitly, after
model selection is finished, so the test score stays an unbiased estimate.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor

from .metrics import Mean, Metric, get_metric

MetricSpec = str | Metric


def as_tensor(x: Any) -> Any:
    """A Tensor for arrays and numbers; Tensors, tuples and dicts pass through (recursively)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (tuple, list)):
        return type(x)(as_tensor(v) for v in x)
    if isinstance(x, dict):
        return {k: as_tensor(v) for k, v in x.items()}
    return Tensor(np.asarray(x))


def split_batch(batch: Any) -> tuple[Any, Any]:
    """`(inputs, targets)` of a batch: `(x, y)`, `(x, y, ...)`, `{"x"|"input", "y"|"target"}`,
    or a bare `x` (targets None)."""
    if isinstance(batch, dict):
        x = next((batch[k] for k in ("x", "input", "inputs") if k in batch), None)
        y = next((batch[k] for k in ("y", "target", "targets", "label") if k in batch), None)
        if x is None:
            raise KeyError(f"batch dict needs an 'x' or 'input' key, got {sorted(batch)}")
        return as_tensor(x), None if y is None else as_tensor(y)
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return as_tensor(batch[0]), None
        return as_tensor(batch[0]), as_tensor(batch[1])
    return as_tensor(batch), None


def batch_size_of(x: Any) -> int:
    """Number of samples in a batch of inputs (first dimension)."""
    if isinstance(x, (tuple, list)):
        return batch_size_of(x[0])
    if isinstance(x, dict):
        return batch_size_of(next(iter(x.values())))
    return int(np.shape(x._data if isinstance(x, Tensor) else x)[0])


def make_metrics(specs: Iterable[MetricSpec]) -> list[Metric]:
    """Fresh streaming metrics for `specs` ("loss" is handled by the caller and skipped)."""
    out = []
    for spec in specs:
        if isinstance(spec, str) and spec == "loss":
            continue
        metric = copy.deepcopy(spec) if isinstance(spec, Metric) else get_metric(spec)
        metric.reset()
        out.append(metric)
    return out


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """`model.eval()` and no_grad inside the block; the previous train/eval mode after it."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with no_grad():
            yield
    finally:
        if was_training and hasattr(model, "train"):
            model.train()


def _detached(out: Any) -> Any:
    """The ndarray(s) of a model output."""
    if isinstance(out, Tensor):
        return out._data
    if isinstance(out, (tuple, list)):
        return out[0]._data if isinstance(out[0], Tensor) else np.asarray(out[0])
    return np.asarray(out)


def evaluate(
    model: Any,
    loader: Iterable[Any],
    loss_fn: Any = None,
    metrics: Sequence[MetricSpec] = ("loss", "accuracy"),
    limit_batches: int | None = None,
) -> dict[str, float]:
    """Loss (batch-size weighted mean) and metrics over `loader`, exact over all samples.

    Runs in eval mode under no_grad and restores the model's mode afterwards.
    `loss` is reported only when `loss_fn` is given.
    """
    trackers = make_metrics(metrics)
    loss_mean = Mean("loss")
    with eval_mode(model):
        for i, batch in enumerate(loader):
            if limit_batches is not None and i >= limit_batches:
                break
            x, y = split_batch(batch)
            out = model(x)
            if loss_fn is not None and y is not None:
                loss_mean.update(loss_fn(out, y)._data, batch_size_of(x))
            if y is not None:
                pred = _detached(out)
                for metric in trackers:
                    metric.update(pred, y._data if isinstance(y, Tensor) else y)
    result = {"loss": loss_mean.compute()} if loss_fn is not None else {}
    result.update({m.name: m.compute() for m in trackers})
    return result


def predict(model: Any, data: Any, batch_size: int = 256) -> np.ndarray:
    """Model outputs for a loader or an array (in batches of `batch_size`), concatenated.

    >>> import numpy as np
    >>> predict(lambda x: x * 2, np.arange(3.0)).tolist()
    [0.0, 2.0, 4.0]
    """
    if batch_size <= 0:
        raise ValueError(f"predict: batch_size must be positive, got {batch_size}")
    if isinstance(data, (np.ndarray, Tensor)):
        arr = data._data if isinstance(data, Tensor) else data
        batches: Iterable[Any] = (arr[i : i + batch_size] for i in range(0, len(arr), batch_size))
    else:
        batches = data
    outputs = []
    with eval_mode(model):
        for batch in batches:
            x, _ = split_batch(batch)
            outputs.append(_detached(model(x)))
    if not outputs:
        raise ValueError("predict: no batches to predict on")
    return np.concatenate(outputs, axis=0)
