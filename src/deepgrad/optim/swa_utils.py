"""Weight averaging: Polyak-Ruppert averages and EMAs of a model (torch.optim.swa_utils).

Uniform (Polyak & Juditsky 1992; SWA, Izmailov et al. 2018):
    theta_bar_n = theta_bar_{n-1} + (theta_n - theta_bar_{n-1}) / n
Exponential moving average with decay d:
    theta_bar_n = d theta_bar_{n-1} + (1 - d) theta_n

Averaging functions work on ndarrays (the parameters' `.data`) in place.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..core.state import host_call, no_grad
from ..core.tensor import Tensor
from ..nn.module import Module

AvgFn = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
MultiAvgFn = Callable[[list[np.ndarray], list[np.ndarray], int], None]


def get_swa_avg_fn() -> AvgFn:
    """avg(a, x, n) = a + (x - a) / (n + 1): the uniform running mean."""

    def swa_update(averaged: np.ndarray, current: np.ndarray, num_averaged: int) -> np.ndarray:
        return averaged + (current - averaged) / (num_averaged + 1)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> AvgFn:
    """avg(a, x, n) = decay * a + (1 - decay) * x."""
    _check_decay(decay)

    def ema_update(averaged: np.ndarray, current: np.ndarray, num_averaged: int) -> np.ndarray:
        return decay * averaged + (1 - decay) * current

    return ema_update


def get_swa_multi_avg_fn() -> MultiAvgFn:
    """In place over lists: a_i += (x_i - a_i) / (n + 1)."""

    def swa_update(averaged: list[np.ndarray], current: list[np.ndarray], num_averaged: int):
        for a, x in zip(averaged, current):
            a += (x - a) / (num_averaged + 1)

    return swa_update


def get_ema_multi_avg_fn(decay: float = 0.999) -> MultiAvgFn:
    """In place over lists: a_i += (1 - decay) (x_i - a_i), i.e. a_i = decay a_i + (1 - decay) x_i."""
    _check_decay(decay)

    def ema_update(averaged: list[np.ndarray], current: list[np.ndarray], num_averaged: int):
        for a, x in zip(averaged, current):
            a += (1 - decay) * (x - a)

    return ema_update


def _check_decay(decay: float) -> None:
    if not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
        raise ValueError(f"EMA: decay must be in [0, 1], got decay={decay!r}")


class AveragedModel(Module):
    """A deep copy of `model` whose parameters hold a running average of `model`'s.

    Default: uniform (Polyak-Ruppert/SWA) average theta_bar_n = mean(theta_1..theta_n);
    `avg_fn(a, x, n)` or `multi_avg_fn(as, xs, n)` replace it (e.g. `get_ema_multi_avg_fn`).
    With `use_buffers`, buffers are averaged too; otherwise they are copied from `model`.
    """

    def __init__(
        self,
        model: Module,
        avg_fn: AvgFn | None = None,
        multi_avg_fn: MultiAvgFn | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor(np.array(0, dtype=np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the averaged copy of the model."""
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model: Module) -> tuple[list[Tensor], list[Tensor]]:
        if self.use_buffers:
            mine = itertools.chain(self.module.parameters(), self.module.buffers())
            theirs = itertools.chain(model.parameters(), model.buffers())
        else:
            mine, theirs = self.module.parameters(), model.parameters()
        mine, theirs = list(mine), list(theirs)
        if len(mine) != len(theirs):
            raise ValueError(
                f"AveragedModel.update_parameters: the model has {len(theirs)} tensors to "
                f"average but the averaged copy has {len(mine)}"
            )
        return mine, theirs

    @host_call  # NumPy on the averaged copies: deepgrad.compile replays it
    def update_parameters(self, model: Module) -> None:
        """Fold `model`'s current parameters into the average (the first call copies them)."""
        mine, theirs = self._averaged_tensors(model)
        n = int(self.n_averaged._data)
        averaged = [t._data for t in mine]
        current = [t._data for t in theirs]
        for a, x in zip(averaged, current):
            if a.shape != x.shape:
                raise ValueError(f"AveragedModel: shape {x.shape} does not match {a.shape}")
        if n == 0:
            for a, x in zip(averaged, current):
                a[...] = x
        elif self.avg_fn is not None:
            for a, x in zip(averaged, current):
                a[...] = self.avg_fn(a, x, n)
        else:
            (self.multi_avg_fn or get_swa_multi_avg_fn())(averaged, current, n)
        if not self.use_buffers:  # keep the buffers in sync with the source model
            for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                b_avg._data[...] = b_model._data
        self.n_averaged._data[...] = n + 1


def _is_batchnorm(m: Any) -> bool:
    return (
        hasattr(m, "running_mean") and hasattr(m, "momentum") and hasattr(m, "reset_running_stats")
    )


def update_bn(loader: Iterable[Any], model: Module) -> None:
    """Recompute every batch-norm layer's running statistics with one pass over `loader`.

    Statistics are reset and averaged cumulatively (momentum=None) over all batches,
    then each layer's momentum and the model's train/eval mode are restored.
    """
    momenta = {}
    for m in model.modules():
        if _is_batchnorm(m):
            m.reset_running_stats()
            momenta[m] = m.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for m in momenta:
        m.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                model(batch)
    finally:
        for m, momentum in momenta.items():
            m.momentum = momentum
        model.train(was_training)
