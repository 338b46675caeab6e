"""Refitting the numbers of a trace as dynamic dimensions (no onnx needed)."""

from __future__ import annotations

import numpy as np
import pytest

from deepgrad.onnx.dims import Dyn, DynamicShapeError, fit_dim, merge

SIZES = {"batch": 3, "sequence": 5}


@pytest.mark.parametrize(
    ("a", "others", "want"),
    [
        (7, {"batch": 7, "sequence": 7}, 7),  # static
        (6, {"batch": 8, "sequence": 6}, Dyn(2)),  # 2 N
        (15, {"batch": 20, "sequence": 18}, Dyn(1, (("batch", 1), ("sequence", 1)))),  # N T
        (50, {"batch": 50, "sequence": 72}, Dyn(2, (("sequence", 2),))),  # 2 T^2
    ],
)
def test_fit_dim(a, others, want):
    got = fit_dim(a, others, SIZES, "x")
    assert got == want
    if isinstance(want, Dyn):  # the fitted dim reproduces every run
        for s, b in others.items():
            sizes = {**SIZES, s: SIZES[s] + 1}
            assert want.k * np.prod([sizes[n] ** e for n, e in want.syms]) == b


def test_labels():
    assert Dyn(1).label() == "batch"
    assert Dyn(2, (("batch", 1), ("sequence", 2))).label() == "2*batch*sequence*sequence"


def test_numbers_that_do_not_scale_are_refused():
    with pytest.raises(DynamicShapeError, match=r"x changes with the batch size \(4 at batch=3, "):
        fit_dim(4, {"batch": 5, "sequence": 4}, SIZES, "x")  # N + 1: not a multiple
    with pytest.raises(DynamicShapeError, match=r"depends on the sequence size"):
        merge(slice(0, 4), {"batch": slice(0, 4), "sequence": slice(0, 5)}, SIZES, "idx")
    with pytest.raises(DynamicShapeError, match=r"an array computed from the input"):
        merge(np.arange(3), {"batch": np.arange(4)}, SIZES, "index")


def test_merge_recurses_into_tuples_and_dicts():
    got = merge({"shape": (6, 4)}, {"batch": {"shape": (8, 4)}}, SIZES, "p")
    assert got == {"shape": (Dyn(2), 4)}
