"""Recurrent training steps, side by side with PyTorch (issue 14's speed targets).

    lstm: LSTM input 64, hidden 256, 35 steps, batch 32, a linear head on the last
          state, MSE loss, backward and an SGD momentum 0.9 step (target <= 1.5x)
    gru:  the same with a GRU
    transformer: TransformerEncoderLayer(256, 4, dim_feedforward=1024, batch_first=True),
          batch 16, length 64, mean-pooled linear head, MSE, backward, SGD momentum
          (target <= 1.5x)

Run: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/sequence.py [lstm gru transformer]
[--cpu-time]`;
`--profile` prints the CPU time of a deepgrad step by primitive, forward and backward.
Ratios < 1 mean deepgrad is faster; float32 throughout.  With `--cpu-time` both run on one
thread and each step is timed by the process's CPU time (`time.process_time`), in
alternating blocks: on a machine shared with other jobs this is far steadier than wall
time, and it compares the work each framework does rather than its parallelism.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import cpu_side_by_side, report, side_by_side, try_torch

import deepgrad as dg

STEPS, BATCH, IN, HIDDEN = 35, 32, 64, 256


def recurrent_step(lib, kind: str, x, y):
    """A closure: one training step of `kind` (LSTM or GRU) + linear head (deepgrad or torch)."""
    nn = lib.nn
    rnn = getattr(nn, kind)(IN, HIDDEN)
    head = nn.Linear(HIDDEN, 1)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = lib.optim.SGD(params, lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()

    def step():
        opt.zero_grad()
        _, state = rnn(x)
        h = state[0] if kind == "LSTM" else state
        loss = loss_fn(head(h[-1]), y)
        loss.backward()
        opt.step()

    return step


def recurrent_flops(kind: str) -> float:
    """Matrix-product FLOPs of one training step: the input projection and the recurrent
    product forward, then dh @ W_hh, dW_hh and dW_ih backward (no input gradient: x is
    data); elementwise work and the head are not counted."""
    gates = {"LSTM": 4, "GRU": 3}[kind] * HIDDEN
    proj = 2 * STEPS * BATCH * IN * gates
    rec = 2 * STEPS * BATCH * HIDDEN * gates
    return 2 * proj + 3 * rec


def transformer_step(lib, x, y):
    """A closure: one training step of a TransformerEncoderLayer + linear head."""
    nn = lib.nn
    layer = nn.TransformerEncoderLayer(256, 4, dim_feedforward=1024, batch_first=True)
    head = nn.Linear(256, 1)
    params = list(layer.parameters()) + list(head.parameters())
    opt = lib.optim.SGD(params, lr=0.01, momentum=0.9)
    loss_fn = nn.MSELoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(head(layer(x).mean(1)), y)
        loss.backward()
        opt.step()

    return step


def profile(step, calls: int = 5) -> str:
    """A table of CPU milliseconds per step by primitive, forward and backward (VJP rules),
    exclusive of the primitives they call; the rest (engine, optimizer, Python) last."""
    from collections import defaultdict

    from deepgrad.core.primitive import REGISTRY, each

    spent: dict[tuple[str, str], float] = defaultdict(float)
    stack: list[list[float]] = []

    def timed(fn, key):
        def wrapper(*a, **k):
            stack.append([time.process_time(), 0.0])
            try:
                return fn(*a, **k)
            finally:
                t0, child = stack.pop()
                elapsed = time.process_time() - t0
                spent[key] += elapsed - child
                if stack:
                    stack[-1][1] += elapsed

        return wrapper

    originals = {}
    for name, prim in REGISTRY.items():
        originals[name] = (prim.forward, prim.vjp)
        prim.forward = timed(prim.forward, (name, "forward"))
        if not isinstance(prim.vjp, each):
            prim.vjp = tuple(r if r is None else timed(r, (name, "backward")) for r in prim.vjp)
    try:
        step()
        spent.clear()
        t0 = time.process_time()
        for _ in range(calls):
            step()
        total = (time.process_time() - t0) * 1e3 / calls
    finally:
        for name, (fwd, vjp) in originals.items():
            REGISTRY[name].forward, REGISTRY[name].vjp = fwd, vjp
    rows = sorted(spent.items(), key=lambda kv: -kv[1])
    lines = [f"{'primitive':<24} {'pass':<9} {'ms/step':>8} {'share':>6}"]
    for (name, kind), sec in rows:
        ms = sec * 1e3 / calls
        if ms >= 0.05:
            lines.append(f"{name:<24} {kind:<9} {ms:8.2f} {ms / total:6.1%}")
    rest = total - sum(spent.values()) * 1e3 / calls
    lines.append(f"{'(engine, optimizer, Python)':<34} {rest:8.2f} {rest / total:6.1%}")
    lines.append(f"{'total':<34} {total:8.2f}")
    return "\n".join(lines)


def main(which: list[str]) -> None:
    if "--profile" in which:
        rng = np.random.default_rng(0)
        xb = dg.tensor(rng.standard_normal((STEPS, BATCH, IN)).astype(np.float32))
        yb = dg.tensor(rng.standard_normal((BATCH, 1)).astype(np.float32))
        for kind in ("LSTM", "GRU"):
            if kind.lower() in which:
                print(f"{kind} step, CPU time by primitive (deepgrad)")
                print(profile(recurrent_step(dg, kind, xb, yb)))
        if "transformer" in which:
            xt = dg.tensor(rng.standard_normal((16, 64, 256)).astype(np.float32))
            yt = dg.tensor(rng.standard_normal((16, 1)).astype(np.float32))
            print("TransformerEncoderLayer step, CPU time by primitive (deepgrad)")
            print(profile(transformer_step(dg, xt, yt)))
        return
    cpu = "--cpu-time" in which
    torch = try_torch()
    if cpu and torch is not None:
        torch.set_num_threads(1)
    timer = (
        partial(cpu_side_by_side, repeat=8, block=2, warmup=1)
        if cpu and torch is not None
        else _wall
    )
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((STEPS, BATCH, IN)).astype(np.float32)
    yb = rng.standard_normal((BATCH, 1)).astype(np.float32)
    for kind in ("LSTM", "GRU"):
        if kind.lower() not in which:
            continue
        ours = recurrent_step(dg, kind, dg.tensor(xb), dg.tensor(yb))
        theirs = None
        if torch is not None:
            theirs = recurrent_step(torch, kind, torch.from_numpy(xb), torch.from_numpy(yb))
        t_ours, t_theirs = timer(ours, theirs)
        print(report(f"{kind} {IN}-{HIDDEN} T{STEPS} b{BATCH} step", t_ours, t_theirs))
        gf = recurrent_flops(kind) / 1e6  # GFLOP/s = MFLOP / ms
        line = f"    {gf / 1e3:.2f} GFLOP of products per step: deepgrad {gf / t_ours:.0f} GFLOP/s"
        print(line + (f", PyTorch {gf / t_theirs:.0f} GFLOP/s" if t_theirs else ""))
    if "transformer" in which:
        xb = rng.standard_normal((16, 64, 256)).astype(np.float32)
        yb = rng.standard_normal((16, 1)).astype(np.float32)
        ours = transformer_step(dg, dg.tensor(xb), dg.tensor(yb))
        theirs = None
        if torch is not None:
            theirs = transformer_step(torch, torch.from_numpy(xb), torch.from_numpy(yb))
        t_ours, t_theirs = timer(ours, theirs)
        print(report("TransformerEncoderLayer b16 L64", t_ours, t_theirs))


def _wall(ours, theirs):
    return side_by_side(ours, theirs, repeat=20, block=5, warmup=2)


if __name__ == "__main__":
    args = sys.argv[1:]
    if not [a for a in args if not a.startswith("--")]:
        args += ["lstm", "gru", "transformer"]
    main(args)
