"""What a benchmark ran on: the machine, the BLAS kernel in use and the matrix-product peak.

The same NumPy runs at very different speeds depending on the kernel OpenBLAS picks
for the CPU: with `OPENBLAS_CORETYPE=Haswell` forced on an AVX-512 machine its float32
2048x2048 product reaches about a third of what the SkylakeX kernel does.  So every
run records the kernel (through threadpoolctl, when installed), the thread count, and
the peak GFLOP/s of a plain float32 matrix product measured in the same run: each
workload's achieved GFLOP/s is read against that peak.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

GUARD_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what `platform` knows."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cores() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine() -> dict:
    """The machine in a few fields: CPU, usable cores, OS, Python."""
    return {
        "cpu": cpu_name(),
        "cores": cores(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def kernel() -> dict:
    """NumPy's BLAS: library, version, core type (the kernel) and threads; the guard
    variables' values if set (None when unset, as on a user's machine)."""
    out: dict = {"numpy": np.__version__, "blas": None}
    out["environment"] = {name: os.environ.get(name) for name in GUARD_VARIABLES}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        out["blas"] = {"note": "install threadpoolctl to see the BLAS kernel"}
        return out
    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            out["blas"] = {
                "library": pool.get("internal_api"),
                "version": pool.get("version"),
                "core_type": pool.get("architecture"),
                "threads": pool.get("num_threads"),
            }
            break
    return out


def set_threads(threads: int, torch=None) -> object | None:
    """Use `threads` threads for NumPy's BLAS (threadpoolctl) and PyTorch (intra-op).

    Returns the threadpoolctl limiter; keep it alive for the limit to hold."""
    limiter = None
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=threads)
    except ImportError:
        pass  # OPENBLAS_NUM_THREADS from the environment (the Makefile sets it) then rules
    if torch is not None:
        torch.set_num_threads(threads)
    return limiter


def matmul_gflops(n: int = 2048, repeat: int = 7, torch=None, clock=time.perf_counter) -> float:
    """Median GFLOP/s of a float32 n x n matrix product (2 n^3 operations) in NumPy,
    or in PyTorch when `torch` is given, into a preallocated output, timed by `clock`."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    if torch is None:

        def product():
            np.matmul(a, b, out=out)
    else:
        ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)

        def product():
            torch.mm(ta, tb, out=tout)

    product()  # first call: thread start-up and kernel buffers
    times = []
    for _ in range(repeat):
        t0 = clock()
        product()
        times.append(clock() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9
