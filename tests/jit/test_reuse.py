"""jit/reuse.py: which elementwise calls may write into a dead input's buffer."""

from __future__ import annotations

import numpy as np

from deepgrad.core.primitive import REGISTRY
from deepgrad.jit.ir import Call, Slot, generate
from deepgrad.jit.reuse import reuse_buffers

MUL = REGISTRY["mul"].forward


def _program(b_layout: str, result_layout: str):
    """v2 = make_b(v0); v3 = mul(v0, v2); return v3 (v0 is the input, kept)."""
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.asfortranarray(a + 1) if b_layout == "F" else a + 1
    out = np.asfortranarray(a * b) if result_layout == "F" else np.ascontiguousarray(a * b)
    values = {0: a, 2: b, 3: out}
    make = Call(lambda x: x + 1, (Slot(0),), {}, 2, "make")
    mul = Call(MUL, (Slot(0), Slot(2)), {}, 3, "mul")
    return [make, mul], values


def test_a_dead_buffer_with_the_results_layout_is_written_into():
    calls, values = _program("C", "C")
    assert reuse_buffers(calls, values, keep={0, 3}) == 1
    assert calls[1].kwargs["out"] == Slot(2)  # b, not the input a
    replay = generate(calls, [0], [Slot(3)])
    x = np.ones((2, 3), np.float32)
    assert np.array_equal(replay(x)[0], x * (x + 1))


def test_another_layout_is_not_written_into():
    """A later sum runs in memory order: an F buffer for a C result would change its bits."""
    calls, values = _program("F", "C")
    assert reuse_buffers(calls, values, keep={0, 3}) == 0


def test_inputs_and_buffers_read_later_are_not_written_into():
    calls, values = _program("C", "C")
    calls.append(Call(np.sum, (Slot(2),), {}, 4, "sum"))  # b is read after the mul
    values[4] = np.sum(values[2])
    assert reuse_buffers(calls, values, keep={0, 3, 4}) == 0
