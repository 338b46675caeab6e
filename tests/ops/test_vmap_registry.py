"""vmap against a Python loop for EVERY primitive, on each case of its declared domain.

For each primitive and case: the inputs get a batch axis of 3, and
`vmap(f)(xs)` must equal `stack([f(x[0]), f(x[1]), f(x[2])])`; with two or more
inputs, the last one is also shared (in_dims None).  Primitives with a batching
rule must not fall back to the loop.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.core.primitive import REGISTRY, apply
from deepgrad.ops import batching

NAMES = sorted(REGISTRY)
B = 3


def _fn(prim, params):
    dom = prim.domain
    fn = dom.fn if dom.fn is not None else (lambda *xs, **p: apply(prim, *xs, **p))

    def f(*xs):
        out = fn(*xs, **params)
        if isinstance(out, tuple):  # several outputs (eigh, qr, svd): compare them all
            out = dg.cat([o.reshape(-1) for o in out])
        return out

    return f


def _run(prim, f, inputs, in_dims):
    """vmap(f) with a record of loop fallbacks; returns (result, fell_back)."""
    batching._WARNED.discard(prim.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = dg.vmap(f, in_dims=in_dims)(*inputs)
    fell = any(f"'{prim.name}' has no batching rule" in str(w.message) for w in caught)
    return got, fell


@pytest.mark.parametrize("name", NAMES)
def test_vmap_matches_loop(name):
    prim = REGISTRY[name]
    for k, case in enumerate(prim.domain.cases):
        rng = np.random.default_rng(k)
        params = case.params(rng) if callable(case.params) else dict(case.params)
        f = _fn(prim, params)
        n = len(case.shapes)
        shared_options = [False, True] if n > 1 else [False]
        for shared_last in shared_options:
            xs = [dg.tensor(prim.domain.sample(rng, (B, *s))) for s in case.shapes]
            if shared_last:
                xs[-1] = dg.tensor(prim.domain.sample(rng, case.shapes[-1]))
            in_dims = tuple([0] * (n - 1) + [None if shared_last else 0])
            want = [
                f(*[x if (shared_last and i == n - 1) else x[b] for i, x in enumerate(xs)]).data
                for b in range(B)
            ]
            got, fell = _run(prim, f, xs, in_dims)
            np.testing.assert_allclose(
                got.data, np.stack(want), rtol=1e-12, atol=1e-12, err_msg=f"{name} case {k}"
            )
            if prim.batch is not None:
                assert not fell, f"{name} has a batching rule but vmap looped (case {k})"


def test_most_primitives_have_a_batching_rule():
    with_rule = {n for n in NAMES if REGISTRY[n].batch is not None}
    for n in ["add", "mul", "exp", "sum", "matmul", "einsum", "reshape", "getitem", "conv"]:
        assert n in with_rule, f"{n} has no batching rule"
    assert len(with_rule) >= 0.8 * len(NAMES)


def test_fallback_warns_once_and_loops():
    name = "channel_sum"
    assert REGISTRY[name].batch is None, "pick a primitive without a rule for this test"
    batching._WARNED.discard(name)
    x = dg.tensor(np.arange(2 * 1 * 2 * 3, dtype=float).reshape(2, 1, 2, 3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = dg.vmap(lambda v: apply(REGISTRY[name], v.reshape(1, 2, 3)))
        f(x)
        out = f(x)
    msgs = [str(w.message) for w in caught if name in str(w.message)]
    assert len(msgs) == 1 and "loop" in msgs[0]
    np.testing.assert_allclose(out.data, x.data.sum(axis=(1, 3)))
