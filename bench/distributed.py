"""Data-parallel steps per second at 1, 2 and 4 MPI ranks (weak scaling: batch per rank fixed).

    model: MLP 784-512-256-10, ReLU, batch 64 per rank, SGD momentum 0.9; each step is
    forward, backward, one bucketed all-reduce of the 0.53M gradients (2.1 MB), update.

Run: `python bench/distributed.py` (it starts `mpiexec -n N` itself for N = 1, 2, 4).
Report: steps/s per rank count, samples/s (steps/s x 64 x N) and the share of the step
spent in the all-reduce.  On a machine with fewer cores than ranks the ranks share cores,
so the numbers there show oversubscription, not scaling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BATCH, STEPS, WARMUP = 64, 40, 5


def worker() -> None:
    import deepgrad as dg
    import deepgrad.distributed as dist
    from deepgrad import nn

    dist.init()
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))  # fmt: skip
    dist.broadcast_parameters(model)
    opt = dg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.rank())
    x = dg.tensor(rng.standard_normal((BATCH, 784)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 10, BATCH))
    params = list(model.parameters())
    reducer = dist.GradientReducer(params)
    reduce_s = 0.0
    for i in range(WARMUP + STEPS):
        if i == WARMUP:
            dist.barrier()
            start, reduce_s = time.perf_counter(), 0.0
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        t = time.perf_counter()
        reducer.reduce()
        reduce_s += time.perf_counter() - t
        opt.step()
    dist.barrier()
    wall = time.perf_counter() - start
    if dist.is_main():
        print(json.dumps({"ranks": dist.world_size(), "steps_per_s": STEPS / wall,
                          "allreduce_share": reduce_s / wall}))  # fmt: skip


def main() -> None:
    mpiexec = Path(sys.executable).parent / "mpiexec"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    print(f"{'ranks':>5} {'steps/s':>8} {'samples/s':>10} {'all-reduce share':>17}")
    for n in (1, 2, 4):
        cmd = [str(mpiexec), "-n", str(n), sys.executable, __file__, "--worker"]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        sps = r["steps_per_s"]
        print(f"{n:>5} {sps:>8.1f} {sps * BATCH * n:>10.0f} {r['allreduce_share']:>16.0%}")


if __name__ == "__main__":
    worker() if "--worker" in sys.argv else main()
