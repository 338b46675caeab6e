"""`LRScheduler`: the base class of learning-rate schedules (torch.optim.lr_scheduler's API).

A schedule maps the epoch counter t (`last_epoch`) to a learning rate per
parameter group, lr_t = f(t, base_lr), and writes it into `group["lr"]`.
Construction performs step 0, so `group["lr"]` holds lr_0 right away.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any

from ..core.state import host_call
from .optimizer import Optimizer


class LRScheduler(ABC):
    """Base class: `step()` advances `last_epoch` and sets each group's lr_t = f(t).

    Subclasses implement `get_lr()` (PyTorch's chainable form, reading the current
    group lrs) and, where one exists, `_get_closed_form_lr()` (from `base_lrs`).
    """

    _is_initial = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # a step is a host call: deepgrad.compile replays it inside a compiled step
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = host_call(cls.step)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer"
            )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: param_groups[{i}] has no 'initial_lr' while "
                        f"resuming with last_epoch={last_epoch}; load the optimizer state first"
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    @abstractmethod
    def get_lr(self) -> list[float]:
        """The learning rates for the current `last_epoch` (chainable form)."""

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest `step()`, one per parameter group."""
        return list(self._last_lr)

    @host_call
    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (or jump to `epoch`, using the closed form when there is one)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (numbers and lists: JSON-serialisable)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the attributes saved by `state_dict()`."""
        self.__dict__.update(copy.deepcopy(state_dict))
