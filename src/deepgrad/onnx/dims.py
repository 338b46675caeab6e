"""Dynamic dimensions, found by tracing the forward at perturbed input sizes.

The exporter records the forward once at the example sizes and once more per
named dynamic axis ("batch", "sequence", ...) with that axis one longer.  Every
integer of the recording (a shape entry, a reshape target) that changes between
the runs is refitted as $k \\prod_s n_s^{e_s}$: `k` a constant, $n_s$ the run-time
size of the dynamic axis `s` and $e_s \\in \\{1, 2, 3\\}$ (a batch axis scales like
$N$, a flattened batch of sequences like $N T$, a flattened T x T matrix like $T^2$).
Everything that does not change is static.  Comparing runs is what makes the
graph shape-polymorphic without asking every lowering to propagate symbolic
shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dyn:
    """A dimension equal to `k` times the product of dynamic sizes `syms` ((name, power)
    pairs); `Dyn(k)` is k times the batch size."""

    k: int
    syms: tuple[tuple[str, int], ...] = (("batch", 1),)

    def label(self) -> str:
        """Its name as an ONNX `dim_param`: "batch", "2*batch", "batch*sequence"."""
        parts = [s for s, e in self.syms for _ in range(e)]
        return "*".join(([str(self.k)] if self.k != 1 else []) + parts)

    def __repr__(self) -> str:
        return self.label()


Dim = int | Dyn


class DynamicShapeError(ValueError):
    """A recorded number changes with a dynamic axis in a way the graph cannot express."""


def fit_dim(a: int, others: dict[str, int], sizes: dict[str, int], what: str) -> Dim:
    """Entry `a` of the example run, given its value in each perturbed run (`others`, by axis
    name): an int when no run changes it, else the `Dyn` that reproduces every run."""
    syms = []
    for s, b in others.items():
        if b == a:
            continue
        n = sizes[s]
        e = next((e for e in (1, 2, 3) if a * (n + 1) ** e == b * n**e), None)
        if e is None or a == 0:
            raise DynamicShapeError(
                f"onnx.export: {what} changes with the {s} size ({a} at {s}={n}, {b} at "
                f"{s}={n + 1}) but is not a multiple of its power"
            )
        syms.append((s, e))
    if not syms:
        return int(a)
    denom = math.prod(sizes[s] ** e for s, e in syms)
    if a % denom:
        raise DynamicShapeError(f"onnx.export: {what} ({a}) is not a multiple of {syms}")
    return Dyn(int(a // denom), tuple(sorted(syms)))


def _is_int(a) -> bool:
    return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_))


def merge(a, others: dict[str, object], sizes: dict[str, int], what: str):
    """Merge the recordings of a static param or shape (nested tuples of ints, arrays and
    plain values) from the example run (`a`) and the perturbed runs (`others`)."""
    if isinstance(a, tuple):
        if not all(isinstance(b, tuple) and len(b) == len(a) for b in others.values()):
            raise DynamicShapeError(f"onnx.export: {what} differs between the traced sizes")
        return tuple(
            merge(u, {s: b[i] for s, b in others.items()}, sizes, what) for i, u in enumerate(a)
        )
    if isinstance(a, dict):
        if not all(isinstance(b, dict) and b.keys() == a.keys() for b in others.values()):
            raise DynamicShapeError(f"onnx.export: {what} differs between the traced sizes")
        return {
            k: merge(u, {s: b[k] for s, b in others.items()}, sizes, f"{what}[{k!r}]")
            for k, u in a.items()
        }
    if isinstance(a, np.ndarray):
        for b in others.values():
            if not (isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)):
                raise DynamicShapeError(
                    f"onnx.export: {what} is an array computed from the input outside "
                    "deepgrad's primitives (a NumPy mask or index), so the graph cannot "
                    "recompute it"
                )
        return a
    if _is_int(a) and all(_is_int(b) for b in others.values()):
        return fit_dim(int(a), {s: int(b) for s, b in others.items()}, sizes, what)
    for s, b in others.items():
        if type(a) is not type(b) or not _equal(a, b):
            raise DynamicShapeError(
                f"onnx.export: {what} depends on the {s} size ({a!r} vs {b!r}), which the "
                "graph cannot express"
            )
    return a


def _equal(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # objects whose == is elementwise or undefined
        return a is b
