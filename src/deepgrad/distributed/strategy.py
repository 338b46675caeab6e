"""`Trainer(distributed=True)`: what the training loop does differently on N ranks.

The loop (`deepgrad.train.fit`) sits below this package and never imports it;
it calls a strategy object through four hooks, and this module registers the
MPI one under `distributed=True`:

- `setup(trainer)`: broadcast rank 0's parameters and buffers (replicas start equal);
- `reduce_gradients(params)`: after backward, average the gradients (bucketed);
- `reduce_record(record)`: average the epoch's numbers over ranks, so every rank's
  callbacks (early stopping, schedulers) decide the same thing;
- `is_main`: only rank 0 prints progress and writes checkpoints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .comm import all_reduce_array, barrier, broadcast_parameters, is_main, world_size
from .gradients import DEFAULT_BUCKET_BYTES, GradientReducer


class MPIStrategy:
    """Data-parallel training over the MPI world (see the module docstring)."""

    def __init__(self, bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        self.bucket_bytes = bucket_bytes
        self._reducer: GradientReducer | None = None
        self._params: list[int] | None = None

    @property
    def is_main(self) -> bool:
        return is_main()

    @property
    def world_size(self) -> int:
        return world_size()

    def setup(self, trainer: Any) -> None:
        broadcast_parameters(trainer.model)

    def reduce_gradients(self, params: list[Any]) -> None:
        ids = [id(p) for p in params]  # by identity: Tensor == is elementwise
        if self._reducer is None or self._params != ids:
            self._reducer, self._params = GradientReducer(params, self.bucket_bytes), ids
        self._reducer.reduce()

    def reduce_record(self, record: dict[str, Any]) -> dict[str, Any]:
        keys = sorted(k for k, v in record.items() if isinstance(v, float) and k != "time")
        if not keys or world_size() == 1:
            return record
        buf = np.array([record[k] for k in keys], dtype=np.float64)
        all_reduce_array(buf, "mean")
        return {**record, **{k: float(v) for k, v in zip(keys, buf)}}

    def barrier(self) -> None:
        barrier()
