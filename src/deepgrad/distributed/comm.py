"""The process group: MPI through mpi4py, initialised once by `init()`.

Before `init()` (or without MPI) the world is this one process: `rank() == 0`,
`world_size() == 1` and every collective is the identity, so code written for
N ranks runs unchanged in one.  mpi4py is imported by `init()` only, never when
deepgrad is imported.
"""

from __future__ import annotations

import itertools
import json
import sys
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

_COMM: Any = None  # mpi4py's COMM_WORLD once init() ran


def init() -> int:
    """Join the MPI job this process was started in (`mpiexec -n N ...`); return the rank.

    Installs an exception hook so that an uncaught error on any rank prints
    `deepgrad.distributed: rank R failed: ...` and aborts the whole job (MPI_Abort),
    instead of leaving the other ranks waiting in a collective forever.
    """
    global _COMM
    if _COMM is not None:
        return _COMM.Get_rank()
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "deepgrad.distributed.init: needs mpi4py and an MPI: pip install 'deepgrad[mpi]'"
        ) from e
    _COMM = MPI.COMM_WORLD
    sys.excepthook = _abort_on_error
    return _COMM.Get_rank()


def _abort_on_error(exc_type, exc, tb) -> None:
    """Report the failing rank and end every rank of the job with a non-zero status."""
    lines = "".join(traceback.format_exception(exc_type, exc, tb))
    abort(f"{exc_type.__name__}: {exc}\n{lines}")


def abort(message: str, code: int = 1) -> None:
    """Print `deepgrad.distributed: rank R failed: MESSAGE` and end the whole job (MPI_Abort),
    so no other rank waits forever in a collective this one will never join."""
    sys.stderr.write(f"deepgrad.distributed: rank {rank()} failed: {message.rstrip()}\n")
    sys.stderr.flush()
    if _COMM is not None and world_size() > 1:
        _COMM.Abort(code)
    sys.exit(code)


def is_initialized() -> bool:
    """True once `init()` joined an MPI job."""
    return _COMM is not None


def rank() -> int:
    """This process's rank in [0, world_size()); 0 before `init()`."""
    return 0 if _COMM is None else _COMM.Get_rank()


def world_size() -> int:
    """The number of processes in the job; 1 before `init()`."""
    return 1 if _COMM is None else _COMM.Get_size()


def is_main() -> bool:
    """True on rank 0, the rank that logs and writes checkpoints."""
    return rank() == 0


def barrier() -> None:
    """Wait until every rank reaches this call."""
    if _COMM is not None:
        _COMM.Barrier()


def all_reduce_array(buf: np.ndarray, op: str = "sum") -> np.ndarray:
    """Reduce a contiguous NumPy array across ranks in place ("sum", "mean", "max" or "min")."""
    if op not in ("sum", "mean", "max", "min"):
        raise ValueError(f"all_reduce: op must be 'sum', 'mean', 'max' or 'min', got {op!r}")
    if not buf.flags.c_contiguous:
        raise ValueError("all_reduce: the buffer must be C-contiguous")
    if _COMM is None or world_size() == 1:
        return buf
    from mpi4py import MPI

    mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}[op]
    _COMM.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    if op == "mean":
        buf /= world_size()
    return buf


def broadcast_array(buf: np.ndarray, root: int = 0) -> np.ndarray:
    """Overwrite `buf` (contiguous) on every rank with rank `root`'s copy."""
    if _COMM is not None and world_size() > 1:
        _COMM.Bcast(buf, root=root)
    return buf


def _json_bytes(obj: Any) -> np.ndarray:
    text = json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))
    return np.frombuffer(text.encode(), dtype=np.uint8)


def broadcast_object(obj: Any, root: int = 0) -> Any:
    """Rank `root`'s JSON-able object on every rank (sent as JSON text, never pickled)."""
    if _COMM is None or world_size() == 1:
        return obj
    data = _json_bytes(obj) if rank() == root else np.empty(0, np.uint8)
    n = broadcast_array(np.array([data.size], np.int64), root)
    buf = data.copy() if rank() == root else np.empty(int(n[0]), np.uint8)
    broadcast_array(buf, root)
    return json.loads(buf.tobytes().decode())


def allgather_object(obj: Any) -> list[Any]:
    """Every rank's JSON-able object, in rank order, on every rank (JSON text, no pickle)."""
    if _COMM is None or world_size() == 1:
        return [obj]
    data = _json_bytes(obj)
    sizes = np.empty(world_size(), np.int64)
    _COMM.Allgather(np.array([data.size], np.int64), sizes)
    buf = np.empty(int(sizes.sum()), np.uint8)
    _COMM.Allgatherv(data, [buf, sizes.tolist()])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return [json.loads(buf[a:b].tobytes().decode()) for a, b in itertools.pairwise(offsets)]


def map_trials(run: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """`[run(item) for item in items]`, item i computed on rank i mod world_size and the
    results shared with every rank (JSON-able results): a search spread over the ranks."""
    r, n = rank(), world_size()
    mine = {str(i): run(items[i]) for i in range(r, len(items), n)}
    merged: dict[str, Any] = {}
    for part in allgather_object(mine):
        merged.update(part)
    return [merged[str(i)] for i in range(len(items))]


def broadcast_parameters(module_or_tensors: Any, root: int = 0) -> None:
    """Give every rank rank `root`'s parameters and buffers (in place), as at the start of
    data-parallel training, so all replicas start equal."""
    if hasattr(module_or_tensors, "_state_tensors"):
        tensors: Iterable[Any] = module_or_tensors._state_tensors().values()
    else:
        tensors = module_or_tensors
    for t in tensors:
        arr = t._data
        if arr.flags.c_contiguous or arr.flags.f_contiguous:
            broadcast_array(arr, root)  # in place, keeping the layout (Linear is column-major)
        else:
            tmp = broadcast_array(np.ascontiguousarray(arr), root)
            arr[...] = tmp
