"""Tune glibc's malloc so large NumPy temporaries are recycled, not re-faulted.

Every training step allocates and frees the same multi-megabyte arrays
(activations, im2col columns, gradients).  glibc serves blocks above its mmap
threshold with fresh `mmap` calls and hands freed memory back to the OS, so each
step pays for thousands of page faults: the kernel must supply and zero every
page again on first touch (measured on the LeNet-5 step: about 4,000 faults and
2 ms of 9).  PyTorch avoids this with its own caching allocator; NumPy allocates
through `malloc`, so deepgrad raises the two thresholds instead:

    M_MMAP_THRESHOLD = 32 MiB   (blocks below it come from the heap and are reused)
    M_TRIM_THRESHOLD = 256 MiB  (free heap memory is kept for the next step)

The cost: memory freed by a step stays in the process (its resident size stays
at its high-water mark) instead of going back to the OS.  It is process-wide, so
it is opt-in: `import deepgrad` never changes malloc; the `deepgrad` command line
and the benchmarks call `tune_allocator()` (only on Linux with glibc; the
environment variable `DEEPGRAD_MALLOC_TUNING=0` leaves malloc alone even then).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 256 * 1024 * 1024

_applied: list[bool] = []


def tune_allocator(force: bool = False) -> bool:
    """Raise glibc's mmap and trim thresholds (see the module docstring).

    Returns True when the settings were applied, False where they do not apply
    (not Linux/glibc) or were turned off with DEEPGRAD_MALLOC_TUNING=0.
    """
    if _applied and not force:
        return _applied[0]
    ok = False
    if os.environ.get("DEEPGRAD_MALLOC_TUNING", "1") != "0" and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc (musl has no mallopt)
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            mallopt.restype = ctypes.c_int
            ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
    _applied[:] = [ok]
    return ok
