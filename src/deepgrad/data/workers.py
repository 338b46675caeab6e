"""Worker processes for `DataLoader(num_workers=k)`: batches built in parallel, yielded in order.

Each worker gets batches of indices on its own queue (round robin), loads and
collates them, and puts the result on a shared queue; the main process puts
them back in order.  Tensors travel as NumPy arrays (rebuilt on arrival).
Worker `i` seeds deepgrad's default generator with `base_seed + i` (as PyTorch
seeds each worker) and then calls `worker_init_fn(i)`; `get_worker_info()`
tells code running in a worker which one it is.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepgrad.core.random import manual_seed
from deepgrad.core.tensor import Tensor

__all__ = ["WorkerInfo", "get_worker_info"]

_INFO: list[WorkerInfo | None] = [None]


@dataclass(frozen=True)
class WorkerInfo:
    """What `get_worker_info()` returns inside a worker (PyTorch's fields)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """This worker's `WorkerInfo`, or None in the main process."""
    return _INFO[0]


class _Wire:
    """A Tensor on its way between processes: only its array and requires_grad travel."""

    def __init__(self, t: Tensor) -> None:
        self.array, self.requires_grad = t._data, t.requires_grad


def _to_wire(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return _Wire(obj)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_to_wire(v) for v in obj)
    if isinstance(obj, list):
        return [_to_wire(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _to_wire(v) for k, v in obj.items()}
    return obj


def _from_wire(obj: Any) -> Any:
    if isinstance(obj, _Wire):
        return Tensor(obj.array, requires_grad=obj.requires_grad)
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_from_wire(v) for v in obj)
    if isinstance(obj, list):
        return [_from_wire(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _from_wire(v) for k, v in obj.items()}
    return obj


def _worker_loop(fetch, dataset, index_q, result_q, worker_id, num_workers, seed, init_fn):
    """Worker body: seed, init, then fetch batches until the None sentinel."""
    _INFO[0] = WorkerInfo(worker_id, num_workers, seed + worker_id, dataset)
    try:
        manual_seed(seed + worker_id)
        if init_fn is not None:
            init_fn(worker_id)
    except BaseException:  # noqa: BLE001 - reported to the main process
        result_q.put((-1, None, f"worker_init_fn raised:\n{traceback.format_exc()}"))
        return
    while True:
        job = index_q.get()
        if job is None:
            return
        k, index = job
        try:
            result_q.put((k, _to_wire(fetch(dataset, index)), None))
        except BaseException:  # noqa: BLE001 - reported to the main process
            result_q.put((k, None, traceback.format_exc()))


def _context(requested: Any = None):
    if requested is not None:
        return mp.get_context(requested) if isinstance(requested, str) else requested
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def run_workers(
    fetch: Callable[[Any, np.ndarray], Any],
    dataset: Any,
    batches: list[np.ndarray],
    num_workers: int,
    seed: int,
    worker_init_fn: Callable[[int], None] | None,
    prefetch_factor: int,
    timeout: float,
    context: Any = None,
) -> Iterator[Any]:
    """Yield `fetch(dataset, b)` for each index batch b, computed by worker processes."""
    ctx = _context(context)
    result_q = ctx.Queue()
    index_qs = [ctx.Queue() for _ in range(num_workers)]
    procs = [
        ctx.Process(
            target=_worker_loop,
            args=(fetch, dataset, index_qs[i], result_q, i, num_workers, seed, worker_init_fn),
            daemon=True,
        )
        for i in range(num_workers)
    ]
    for p in procs:
        p.start()
    try:
        yield from _ordered_results(batches, index_qs, result_q, procs, prefetch_factor, timeout)
    finally:
        for q in index_qs:
            q.put(None)
        for p in procs:
            p.join(timeout=2.0)
            if p.is_alive():
                p.terminate()


def _ordered_results(batches, index_qs, result_q, procs, prefetch_factor, timeout):
    sent, done, ready = 0, 0, {}
    budget = prefetch_factor * len(procs)
    while done < len(batches):
        while sent < len(batches) and sent - done < budget:
            index_qs[sent % len(procs)].put((sent, batches[sent]))
            sent += 1
        while done not in ready:
            k, value, error = _get(result_q, procs, timeout)
            if error is not None:
                where = "a worker" if k < 0 else f"the worker loading batch {k}"
                raise RuntimeError(f"DataLoader: {where} failed:\n{error}")
            ready[k] = value
        yield _from_wire(ready.pop(done))
        done += 1


def _get(result_q, procs, timeout: float):
    """The next result; fail if a worker died or `timeout` (> 0) seconds pass."""
    waited = 0.0
    while True:
        try:
            return result_q.get(timeout=0.5)
        except queue.Empty:
            waited += 0.5
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(
                    f"DataLoader: worker (pid {dead[0].pid}) exited unexpectedly "
                    f"with code {dead[0].exitcode}"
                ) from None
            if timeout and waited >= timeout:
                raise RuntimeError(f"DataLoader: timed out after {timeout} s waiting for a batch")
