"""Sharding the data: every rank a disjoint slice of one shared seeded permutation."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..data.loader import DataLoader
from .comm import broadcast_object
from .comm import rank as _rank
from .comm import world_size as _world_size


class DistributedSampler:
    """The indices rank `rank` reads in an epoch (as torch.utils.data.DistributedSampler).

    Every rank draws the same permutation `default_rng([seed, epoch]).permutation(n)`
    (no communication needed), pads it by wrapping around to a multiple of
    `num_replicas` (or drops the tail with `drop_last`), and keeps every
    `num_replicas`-th index from position `rank`: the shards are disjoint, equal in
    size and together cover the dataset.
    """

    def __init__(
        self,
        n: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.num_replicas = _world_size() if num_replicas is None else int(num_replicas)
        self.rank = _rank() if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(
                f"DistributedSampler: rank must be in [0, num_replicas), got rank {self.rank} "
                f"of {self.num_replicas}"
            )
        if n < 1 or (drop_last and n < self.num_replicas):
            raise ValueError(
                f"DistributedSampler: {n} samples cannot fill {self.num_replicas} shards"
            )
        self.n, self.shuffle, self.seed, self.drop_last = int(n), shuffle, int(seed), drop_last
        self.epoch = 0

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.num_replicas
        return (self.n + self.num_replicas - 1) // self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Use epoch `epoch`'s permutation next."""
        self.epoch = int(epoch)

    def indices(self, epoch: int | None = None) -> np.ndarray:
        """This rank's sample indices for `epoch` (default: the current one)."""
        epoch = self.epoch if epoch is None else int(epoch)
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        total = len(self) * self.num_replicas
        order = np.resize(order, total)  # wraps around to pad, or truncates with drop_last
        return order[self.rank : total : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())


class DistributedDataLoader(DataLoader):
    """A `DataLoader` over this rank's shard (`DistributedSampler`), batch_size per rank.

    The global batch is `batch_size * world_size`; every rank gets the same number
    of batches of the same sizes, so the mean of the ranks' mean losses is the mean
    loss of the global batch.  The state (`seed`, `epoch`) and the batch order are
    those of `DataLoader`, so resume works the same way.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, num_replicas: int | None = None,
                 rank: int | None = None, **kwargs) -> None:  # fmt: skip
        super().__init__(dataset, batch_size, shuffle, drop_last=drop_last, **kwargs)
        self.seed = int(broadcast_object(self.seed))  # a seed drawn per rank would differ
        self.sampler = DistributedSampler(len(dataset), num_replicas, rank, shuffle, self.seed)

    def __len__(self) -> int:
        n = len(self.sampler)
        return (
            n // self.batch_size if self.drop_last else (n + self.batch_size - 1) // self.batch_size
        )

    def batch_indices(self, epoch: int | None = None) -> list[np.ndarray]:
        """This rank's batches for `epoch`: its shard of the shared permutation, in order."""
        epoch = self.epoch if epoch is None else int(epoch)
        self.sampler.seed = self.seed  # load_state_dict may have restored another seed
        order = self.sampler.indices(epoch)
        bs = self.batch_size
        batches = [order[i : i + bs] for i in range(0, len(order), bs)]
        if self.drop_last and batches and len(batches[-1]) < bs:
            batches.pop()
        return batches
