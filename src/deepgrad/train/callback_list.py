"""`CallbackList`: the one object that calls every callback's hooks, in order (Keras' design).

The loop calls `callbacks.on_epoch_end(trainer, epoch, logs)`, a method like any
other, never a hook looked up by its name as a string: a misspelt hook is an
AttributeError at the call site, and a type checker sees every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from .callbacks import Callback

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .fit import Trainer


class CallbackList:
    """Callbacks stably sorted by their `order`; each hook calls the callbacks' hooks in turn."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = sorted(callbacks, key=lambda c: getattr(c, "order", 0))

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def on_train_begin(self, trainer: Trainer) -> None:
        """Before the first epoch (also after a resume restored every state)."""
        for callback in self.callbacks:
            callback.on_train_begin(trainer)

    def on_train_end(self, trainer: Trainer) -> None:
        """After the last epoch, or after any stop (early stopping, NaN, Ctrl-C, max_steps)."""
        for callback in self.callbacks:
            callback.on_train_end(trainer)

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        """Before epoch `epoch`'s first batch."""
        for callback in self.callbacks:
            callback.on_epoch_begin(trainer, epoch)

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        """After validation, with the epoch's record."""
        for callback in self.callbacks:
            callback.on_epoch_end(trainer, epoch, logs)

    def on_batch_begin(self, trainer: Trainer, step: int) -> None:
        """Before optimizer step `step`."""
        for callback in self.callbacks:
            callback.on_batch_begin(trainer, step)

    def on_batch_end(self, trainer: Trainer, step: int, logs: dict[str, Any]) -> None:
        """After the optimizer step, with the batch's logs."""
        for callback in self.callbacks:
            callback.on_batch_end(trainer, step, logs)
