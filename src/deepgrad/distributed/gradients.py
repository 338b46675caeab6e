"""Averaging gradients across ranks: one flat buffer per bucket, one Allreduce per bucket.

Data-parallel SGD (each rank a shard of the global batch, equal shard sizes) needs
$g = \\frac{1}{N} \\sum_r g_r$, the gradient of the global-batch mean loss.  Sending
every parameter's gradient in its own message pays the network latency once per
tensor; packing them into a few large buffers pays it once per bucket (PyTorch
DDP's buckets, 25 MiB by default).  The buckets are filled in parameter order,
per dtype, so every rank builds the same layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ..core.tensor import Tensor
from .comm import all_reduce_array, world_size

DEFAULT_BUCKET_BYTES = 25 * 2**20


class GradientReducer:
    """Packs gradients into reusable flat buckets, all-reduces them, unpacks the mean.

    $g_p \\leftarrow \\frac{1}{N} \\sum_{r=1}^{N} g_{p,r}$ for every parameter p.  A
    parameter with no gradient on this rank contributes zeros (and receives the
    average), so every rank sends buffers of the same size.
    """

    def __init__(self, params: Iterable[Tensor], bucket_bytes: int = DEFAULT_BUCKET_BYTES) -> None:
        if bucket_bytes <= 0:
            raise ValueError(f"GradientReducer: bucket_bytes must be positive, got {bucket_bytes}")
        self.params = [p for p in params if p.requires_grad]
        self.buckets: list[tuple[list[Tensor], np.ndarray]] = []
        current: list[Tensor] = []
        size = 0
        for p in self.params:
            if current and (
                p._data.dtype != current[0]._data.dtype or size + p._data.nbytes > bucket_bytes
            ):
                self._add_bucket(current)
                current, size = [], 0
            current.append(p)
            size += p._data.nbytes
        if current:
            self._add_bucket(current)

    def _add_bucket(self, params: Sequence[Tensor]) -> None:
        n = sum(p._data.size for p in params)
        self.buckets.append((list(params), np.empty(n, dtype=params[0]._data.dtype)))

    def reduce(self) -> None:
        """Replace every gradient by its average over the ranks (in place)."""
        if world_size() == 1:
            return
        for params, buf in self.buckets:
            offset = 0
            for p in params:
                n = p._data.size
                if p.grad is None:
                    buf[offset : offset + n] = 0
                else:
                    buf[offset : offset + n] = p.grad._data.reshape(-1)
                offset += n
            all_reduce_array(buf, "mean")
            offset = 0
            for p in params:
                n = p._data.size
                avg = buf[offset : offset + n].reshape(p._data.shape)
                if p.grad is None:
                    p.grad = Tensor(avg.copy())
                else:
                    p.grad._data[...] = avg
                offset += n


def all_reduce_gradients(
    params: Iterable[Tensor], bucket_bytes: int = DEFAULT_BUCKET_BYTES
) -> None:
    """Average the gradients of `params` over all ranks, bucketed (see `GradientReducer`)."""
    GradientReducer(params, bucket_bytes).reduce()
