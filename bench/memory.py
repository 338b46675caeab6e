"""Peak memory of the MLP training process (import + 200 training steps), deepgrad vs PyTorch.

Each framework runs in its own fresh process; the figure is the peak resident
set size (`ru_maxrss`).  Goal from BENCHMARKS.md: deepgrad <= 0.3x PyTorch.
"""

from __future__ import annotations

import subprocess
import sys

STEP = """
import resource, sys, time
sys.path.insert(0, "bench")
import numpy as np
t0 = time.perf_counter()
{imports}
t_import = time.perf_counter() - t0
from overhead import {builder}
rng = np.random.default_rng(0)
xb = rng.standard_normal((128, 784)).astype(np.float32)
yb = rng.integers(0, 10, 128).astype(np.int64)
step = {builder}({args}xb, yb)
for _ in range(200):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, t_import)
"""


def _peak(imports: str, builder: str, args: str) -> tuple[float, float] | None:
    code = STEP.format(imports=imports, builder=builder, args=args)
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    if out.returncode != 0:
        return None
    mb, t = out.stdout.split()
    return float(mb), float(t)


def main() -> None:
    ours = _peak("import deepgrad", "mlp_deepgrad", "")
    theirs = _peak("import torch; torch.set_num_threads(2)", "mlp_torch", "torch, ")
    print(f"peak RSS, MLP training   deepgrad {ours[0]:7.1f} MB (import {ours[1]:.2f} s)", end="")
    if theirs is None:
        print("   (PyTorch not installed)")
        return
    print(
        f"   PyTorch {theirs[0]:7.1f} MB (import {theirs[1]:.2f} s)   ratio {ours[0] / theirs[0]:.2f}x"
    )


if __name__ == "__main__":
    main()
