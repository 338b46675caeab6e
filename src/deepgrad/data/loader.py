"""`DataLoader`: batches of a dataset in an order that is a pure function of (seed, epoch).

The loader draws one seed when it is built (from `generator`, else from
deepgrad's default generator).  Epoch `e` shuffles with
`np.random.default_rng([seed, e])`, so a run resumed from `state_dict()` sees
exactly the batches it would have seen, and no global RNG state is touched.
"""

from __future__ import annotations

import inspect
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from deepgrad.core.random import default_generator
from deepgrad.core.tensor import Tensor

from .dataset import Dataset
from .workers import run_workers

_DONE = object()  # end-of-epoch marker put on the prefetch queue


class _Raised:
    """An exception raised in the prefetch thread, carried to the consumer."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples: arrays/numbers/Tensors -> one Tensor; tuples/dicts recurse.

    >>> import numpy as np
    >>> x, y = default_collate([(np.ones(2, np.float32), 0), (np.zeros(2, np.float32), 1)])
    >>> x.shape, x.dtype, y.tolist()
    ((2, 2), dtype('float32'), [0, 1])
    """
    first = batch[0]
    if isinstance(first, (tuple, list)):
        return tuple(default_collate(list(field)) for field in zip(*batch))
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (str, bytes)):
        return list(batch)
    arrays = [s._data if isinstance(s, Tensor) else np.asarray(s) for s in batch]
    return Tensor(np.stack(arrays))


def default_convert(data: Any) -> Any:
    """Arrays (and NumPy scalars) to Tensors, keeping tuples, lists and dicts: what the
    loader yields per sample when `batch_size=None` (PyTorch's default_convert)."""
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "biuf":
        return Tensor(np.asarray(data))
    if isinstance(data, tuple) and not hasattr(data, "_fields"):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, list):
        return [default_convert(d) for d in data]
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    return data


def _fetch(dataset: Any, index: np.ndarray, collate_fn: Callable | None, unbatched: bool) -> Any:
    """One collated batch: fancy indexing on `dataset.arrays` when possible."""
    if unbatched:
        sample = dataset[int(index[0])]
        return (collate_fn or default_convert)(sample)
    arrays = getattr(dataset, "arrays", None) if collate_fn is None else None
    if arrays is not None:
        return tuple(Tensor(a[index]) for a in arrays)
    samples = [dataset[int(i)] for i in index]
    return (collate_fn or default_collate)(samples)


def _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers) -> None:
    """PyTorch's rules for which loader options exclude each other."""
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
    ):
        raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
    if batch_size is not None and batch_size <= 0:
        raise ValueError(f"DataLoader: batch_size must be positive, got {batch_size}")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler is mutually exclusive with shuffle=True")
    if batch_sampler is not None and (
        batch_size != 1 or shuffle or sampler is not None or drop_last
    ):
        raise ValueError(
            "DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, "
            "sampler and drop_last"
        )
    if batch_size is None and drop_last:
        raise ValueError("DataLoader: drop_last=True needs a batch_size (got batch_size=None)")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r}")


def _accepts_generator(fn: Callable) -> bool:
    """Whether `fn` can be called as `fn(x, generator=rng)`."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "generator" or p.kind is p.VAR_KEYWORD for p in params)


class DataLoader:
    """Iterate over `dataset` in batches; `len(loader)` batches per epoch, never an empty one.

    Shuffled order for epoch `e` is `default_rng([seed, e]).permutation(n)`; the
    epoch counter advances after each full pass (or set it with `set_epoch`).
    `transform` is applied to each batch (to its first element when the batch is
    a tuple), receiving a generator derived from (seed, epoch) when it takes one.
    `prefetch=k > 0` builds up to `k` batches ahead in a background thread.

    PyTorch's options work as there: `sampler` (indices in its order) or
    `batch_sampler` (lists of indices) replace the shuffled order; `batch_size=None`
    yields single converted samples; `num_workers=k` loads batches in k worker
    processes (seeded per worker, then `worker_init_fn(i)`), yielded in order and
    identical to `num_workers=0`; `pin_memory` and `persistent_workers` are
    accepted and have no effect (CPU only; workers start each epoch).

    >>> import numpy as np
    >>> from deepgrad.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0)), batch_size=4, shuffle=True, seed=0)
    >>> [len(xb) for (xb,) in loader] == [4, 4, 2]
    True
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Iterable[int] | None = None,
        batch_sampler: Iterable[Sequence[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: np.random.Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        seed: int | None = None,
        prefetch: int = 0,
        transform: Callable | None = None,
    ) -> None:
        shuffle = bool(shuffle)
        _check_options(batch_size, shuffle, sampler, batch_sampler, drop_last, num_workers)
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError(
                "DataLoader: prefetch_factor is only used with worker processes (num_workers > 0)"
            )
        if prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be >= 0, got {prefetch}")
        n = len(dataset)
        if drop_last and batch_sampler is None and sampler is None and 0 < n < batch_size:
            raise ValueError(
                f"DataLoader: drop_last=True with a dataset of {n} samples, shorter than one "
                f"batch of {batch_size}: every epoch would be empty"
            )
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = shuffle
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.drop_last = drop_last
        self.collate_fn = collate_fn
        self.num_workers, self.timeout = int(num_workers), float(timeout)
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor = 2 if prefetch_factor is None else int(prefetch_factor)
        # Accepted for PyTorch compatibility: deepgrad has no pinned (page-locked) memory,
        # and workers are started for each epoch.
        self.pin_memory, self.persistent_workers = pin_memory, persistent_workers
        self.prefetch = int(prefetch)
        self.transform = transform
        self._transform_takes_rng = transform is not None and _accepts_generator(transform)
        if seed is None:
            source = generator if generator is not None else default_generator()
            seed = int(source.integers(0, 2**63 - 1))
        if seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed}")
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        source = self.sampler if self.sampler is not None else self.dataset
        n = len(source)  # type: ignore[arg-type]
        if self.batch_size is None:
            return n
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next `__iter__` produce epoch `epoch`'s batches."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        """`{"seed", "epoch"}`: all a resumed run needs to see the same batches (JSON-safe)."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Restore `seed` and `epoch` saved by `state_dict`."""
        self.seed = int(state["seed"])
        self.epoch = int(state["epoch"])

    def batch_indices(self, epoch: int | None = None) -> list[np.ndarray]:
        """The sample indices of every batch of `epoch` (default: the current one)."""
        epoch = self.epoch if epoch is None else int(epoch)
        if self.batch_sampler is not None:
            return [np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler]
        if self.sampler is not None:
            order = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        elif self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(len(self.dataset))
        else:
            order = np.arange(len(self.dataset))
        n, size = len(order), self.batch_size or 1
        stops = range(size, n + size, size)
        batches = [order[stop - size : stop] for stop in stops]
        if self.drop_last and batches and len(batches[-1]) < size:
            batches.pop()
        return [b for b in batches if len(b)]

    def _fetch(self, index: np.ndarray) -> Any:
        """One collated batch (or, with batch_size=None, one converted sample)."""
        return _fetch(self.dataset, index, self.collate_fn, self.batch_size is None)

    def _apply_transform(self, batch: Any, rng: np.random.Generator) -> Any:
        """`transform` on the batch, or on its first element when the batch is a tuple."""
        kwargs = {"generator": rng} if self._transform_takes_rng else {}
        if isinstance(batch, tuple):
            return (self.transform(batch[0], **kwargs), *batch[1:])
        if isinstance(batch, list):
            return [self.transform(batch[0], **kwargs), *batch[1:]]
        return self.transform(batch, **kwargs)

    def _batches(self, epoch: int) -> Iterator[Any]:
        """Produce epoch `epoch`'s batches (runs in the consumer or the prefetch thread)."""
        rng = np.random.default_rng([self.seed, epoch, 1]) if self.transform is not None else None
        indices = self.batch_indices(epoch)
        if self.num_workers > 0:
            fetch = partial(_fetch, collate_fn=self.collate_fn, unbatched=self.batch_size is None)
            base_seed = int(np.random.default_rng([self.seed, epoch, 2]).integers(0, 2**31))
            source = run_workers(
                fetch, self.dataset, indices, self.num_workers, base_seed, self.worker_init_fn,
                self.prefetch_factor, self.timeout, self.multiprocessing_context,
            )  # fmt: skip
        else:
            source = (self._fetch(index) for index in indices)
        for batch in source:
            if self.transform is not None:
                batch = self._apply_transform(batch, rng)
            yield batch

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        source = self._batches(epoch) if self.prefetch == 0 else _prefetched(self, epoch)
        yield from source
        self.epoch = epoch + 1


def _producer(batches: Iterator[Any], out: queue.Queue, stop: threading.Event) -> None:
    """Thread body: put batches on `out` until done, stopped, or failed."""

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for batch in batches:
            if not put(batch):
                return
    except BaseException as exc:  # noqa: BLE001 -- re-raised in the consumer
        put(_Raised(exc))
        return
    put(_DONE)


def _prefetched(loader: DataLoader, epoch: int) -> Iterator[Any]:
    """Epoch `epoch`'s batches built ahead in a daemon thread with a bounded queue.

    Stopping early (break, exception, garbage collection of the iterator) sets
    the stop event, so the thread exits instead of blocking on a full queue.
    """
    out: queue.Queue = queue.Queue(maxsize=loader.prefetch)
    stop = threading.Event()
    thread = threading.Thread(
        target=_producer, args=(loader._batches(epoch), out, stop), daemon=True
    )
    thread.start()
    try:
        while True:
            item = out.get()
            if item is _DONE:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        thread.join(timeout=5.0)
