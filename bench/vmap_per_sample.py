"""Per-sample gradients: vmap(grad(loss)) against a Python loop of single-sample grads.

MLP 784-256-10 (float32), batch 64: the vmapped version runs every primitive once
for the whole batch through its batching rule; the loop runs 64 small backward
passes.  Medians of alternating blocks (bench/_timing.py).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/vmap_per_sample.py
"""

from __future__ import annotations

import numpy as np
from _timing import side_by_side

import deepgrad as dg
from deepgrad import func


def main() -> None:
    rng = np.random.default_rng(0)
    net = dg.nn.Sequential(dg.nn.Linear(784, 256), dg.nn.ReLU(), dg.nn.Linear(256, 10))
    params = {k: v.detach() for k, v in net.named_parameters()}
    xs = dg.tensor(rng.standard_normal((64, 784)).astype(np.float32))
    onehot = dg.tensor(np.eye(10, dtype=np.float32)[rng.integers(0, 10, 64)])

    def loss(p, x, t):
        logits = func.functional_call(net, p, (x.reshape(1, 784),))
        return dg.nn.functional.cross_entropy(logits, t.reshape(1, 10))

    per_sample = func.vmap(func.grad(loss), in_dims=(None, 0, 0))
    one = func.grad(loss)

    def batched():
        return per_sample(params, xs, onehot)

    def loop():
        return [one(params, xs[i], onehot[i]) for i in range(64)]

    got, want = batched(), loop()
    for k in params:
        assert np.allclose(got[k].data, np.stack([w[k].data for w in want]), atol=1e-5)
    t_vmap, t_loop = side_by_side(batched, loop, repeat=10, block=2, warmup=2)
    print(
        f"per-sample grads, MLP 784-256-10, batch 64: vmap {t_vmap:.1f} ms, loop {t_loop:.1f} ms "
        f"({t_loop / t_vmap:.1f}x faster with vmap)"
    )


if __name__ == "__main__":
    main()
