"""`deepgrad train RECIPE --distributed` under `mpiexec -n N`: rank 0 owns the run folder."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

_SCRATCH: set[Path] = set()


def start() -> int:
    """Join the MPI job; on ranks other than 0 silence stdout (rank 0 reports). Returns rank."""
    from deepgrad import distributed as dist

    r = dist.init()
    if r != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (lives as long as the process)
    return r


def scratch_unless_main(out_dir: str | os.PathLike) -> Path:
    """`out_dir` on rank 0; elsewhere a private scratch folder removed at exit, so the
    other ranks run the same callbacks (identical decisions) without racing on files."""
    from deepgrad import distributed as dist

    if dist.is_main() or Path(out_dir) in _SCRATCH:
        return Path(out_dir)
    scratch = Path(tempfile.mkdtemp(prefix=f"deepgrad-rank{dist.rank()}-"))
    src = Path(out_dir)
    if src.exists():  # a resumed run reads rank 0's checkpoint: every rank starts equal
        shutil.copytree(src, scratch, dirs_exist_ok=True, copy_function=_copy_if_still_there,
                        ignore=shutil.ignore_patterns(".deepgrad-write-test-*", ".*.tmp-*"))  # fmt: skip
    atexit.register(shutil.rmtree, scratch, True)
    _SCRATCH.add(scratch)
    return scratch


def _copy_if_still_there(src: str, dst: str) -> None:
    """Copy one file of rank 0's folder; rank 0 may be probing or atomically replacing files
    in it at the same moment, and a file that vanished meanwhile is not part of the run."""
    try:
        shutil.copy2(src, dst)
    except FileNotFoundError:
        pass


def guarded(run: Callable[[], int]) -> int:
    """`run()`, but an error or a non-zero status on this rank ends the whole MPI job."""
    from deepgrad import distributed as dist

    try:
        status = run()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # every rank must hear of it, or the others wait forever
        dist.abort(f"{type(e).__name__}: {e}", 2)
        raise
    if status != 0:
        dist.abort(f"exit status {status}", status)
    return status
