"""Peak memory of one training step with and without recomputation (dg.checkpoint).

Each configuration runs in its own fresh process; the figure is the growth of the
peak resident set size (`ru_maxrss`) during one forward + backward pass, over the
process's peak before it (imports, weights, input).  Workloads: a deep MLP
(checkpointed in sqrt(depth) segments) and a CIFAR ResNet-20 (each residual
block checkpointed).  The script also checks that gradients are bitwise equal.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/checkpoint_memory.py
"""

from __future__ import annotations

import subprocess
import sys

STEP = """
import resource, sys, time, hashlib
import numpy as np
import deepgrad as dg
from deepgrad.utils.checkpoint import checkpoint, checkpoint_sequential
dg.manual_seed(0)
rng = np.random.default_rng(0)
kind, mode = sys.argv[1], sys.argv[2]
if kind == "mlp":
    depth, width = 32, 512
    layers = []
    for _ in range(depth):
        layers += [dg.nn.Linear(width, width), dg.nn.ReLU()]
    net = dg.nn.Sequential(*layers)
    x = dg.tensor(rng.standard_normal((256, width)).astype(np.float32))
    def forward(x):
        return checkpoint_sequential(net, 6, x) if mode == "checkpoint" else net(x)
else:
    from deepgrad.models.resnet import resnet20
    net = resnet20()
    x = dg.tensor(rng.standard_normal((32, 3, 32, 32)).astype(np.float32))
    def forward(x):
        if mode != "checkpoint":
            return net(x)
        h = dg.relu(net.bn1(net.conv1(x)))
        for stage in (net.layer1, net.layer2, net.layer3):
            for block in stage:
                h = checkpoint(block, h)
        return net.fc(h.mean(axis=(2, 3)))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
(forward(x) ** 2).mean().backward()
dt = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
digest = hashlib.sha256(b"".join(p.grad.numpy().tobytes() for p in net.parameters())).hexdigest()
print(peak - before, dt, digest[:16])
"""


def _run(kind: str, mode: str) -> tuple[float, float, str]:
    out = subprocess.run(
        [sys.executable, "-c", STEP, kind, mode], check=False, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind}/{mode} failed:\n{out.stderr[-2000:]}")
    mb, dt, digest = out.stdout.split()
    return float(mb), float(dt), digest


def main() -> None:
    for kind, label in (("mlp", "MLP 32x512, batch 256"), ("resnet", "ResNet-20, batch 32")):
        plain = _run(kind, "plain")
        ckpt = _run(kind, "checkpoint")
        same = "bitwise-equal grads" if plain[2] == ckpt[2] else "GRADIENTS DIFFER"
        print(
            f"{label:24s} step peak growth: plain {plain[0]:7.1f} MB, checkpoint "
            f"{ckpt[0]:7.1f} MB ({ckpt[0] / plain[0]:.2f}x); time {plain[1]:.2f} s vs "
            f"{ckpt[1]:.2f} s; {same}"
        )


if __name__ == "__main__":
    main()
