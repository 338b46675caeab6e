"""bench/primitive_profile.py: per-primitive forward/backward accounting of a step (the
counts and the bookkeeping are checked, never how long anything took)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import primitive_profile as pp

import deepgrad as dg
from deepgrad.core.primitive import REGISTRY


def _mlp_step(train: bool = True):
    gen = np.random.default_rng(0)
    net = dg.nn.Sequential(dg.nn.Linear(8, 16, generator=gen), dg.nn.ReLU(),
                           dg.nn.Linear(16, 3, generator=gen))  # fmt: skip
    x = dg.tensor(gen.standard_normal((4, 8)).astype(np.float32))

    def step():
        net.zero_grad()
        if train:
            net(x).sum().backward()
        else:
            with dg.no_grad():
                net(x)

    return step


def test_each_primitive_is_counted_per_step_with_its_backward():
    prof = pp.profile_step(_mlp_step(), steps=4)
    rows = {r["name"]: r for r in prof["primitives"]}
    assert rows["linear"]["calls"] == 2 and rows["relu"]["calls"] == 1
    assert rows["linear"]["backward_ms"] > 0 and rows["relu"]["backward_ms"] > 0
    inside = sum(r["forward_ms"] + r["backward_ms"] for r in prof["primitives"])
    assert prof["step_ms"] > 0 and abs(prof["outside_ms"] - (prof["step_ms"] - inside)) < 1e-9
    totals = [r["forward_ms"] + r["backward_ms"] for r in prof["primitives"]]
    assert totals == sorted(totals, reverse=True)


def test_primitives_called_inside_a_vjp_rule_are_charged_to_the_rule():
    forwards_before = {n: p.forward for n, p in REGISTRY.items()}
    with pp.timed_primitives() as stats:
        a = dg.tensor(np.ones((3, 4), np.float32), requires_grad=True)
        b = dg.tensor(np.ones((4, 2), np.float32), requires_grad=True)
        (a @ b).sum().backward()
    assert stats["matmul"][0] == 1  # the two matmuls of its backward are not forwards
    assert stats["matmul"][2] > 0
    assert {n: p.forward for n, p in REGISTRY.items()} == forwards_before  # wrappers removed
    assert np.array_equal(a.grad.data, np.full((3, 4), 2, np.float32))


def test_without_grad_there_is_no_backward_time_and_the_text_table_lists_it():
    prof = pp.profile_step(_mlp_step(train=False), steps=2)
    assert all(r["backward_ms"] == 0 for r in prof["primitives"])
    text = pp.format_profile("tiny", prof, top=1)
    assert text.splitlines()[0].startswith("tiny: ") and "outside primitives" in text
    assert "others)" in text  # relu (and anything else) summed below the top one
