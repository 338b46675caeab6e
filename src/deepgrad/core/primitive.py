"""Primitives: the registry, the input domains tests sample from, and `apply`.

A primitive is a NumPy forward plus, for each positional input, one VJP rule
and one JVP rule (PyTorch's derivatives.yaml gives each input its formula on
one line; we do the same).  Rules receive `Tensor`s and use deepgrad ops only,
so a backward pass can itself be recorded and differentiated again.

    vjp[i](g, ans, *inputs, **params) -> gradient for input i (same shape as input i)
    jvp[i](t, ans, *inputs, **params) -> output tangent contributed by tangent t of input i

The output tangent is the sum of the per-input contributions (a JVP is linear
in the tangents).  Keyword arguments are static parameters.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .state import STATE

REGISTRY: dict[str, Primitive] = {}
# Composite functions the core's transforms need (e.g. "stack"), registered by ops at import.
FUNCTIONS: dict[str, Callable] = {}


@dataclass
class Case:
    """One input configuration for the registry test: input shapes and static params."""

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] | Callable[[np.random.Generator], dict[str, Any]] = field(
        default_factory=dict
    )


@dataclass
class ErrorCase:
    """An invalid call an op (or layer) must refuse, as PyTorch's OpInfo error inputs.

    `call()` makes the invalid call through the public function or module;
    the test suite checks that it raises `exc` with a message matching the
    regular expression `match` (which should name the function or module path,
    the argument and the value or shapes at fault).
    """

    call: Callable[[], Any]
    exc: type[BaseException]
    match: str
    name: str = ""


@dataclass
class Domain:
    """Where a primitive may be sampled: shapes, values and the public function to call.

    `cases` lists input shapes and params; values are drawn uniformly from
    [low, high] and kept at least `margin` away from each point in `avoid`
    (kinks such as |x| at 0).  `fn(*inputs, **params)` is the public function
    the property test differentiates (default: the primitive itself), so
    broadcasting wrappers are checked too.  `second_order=False` skips the
    second-order check for rules whose second derivative is zero almost
    everywhere but not smooth (piecewise-linear ops).  `errors` lists the
    invalid calls the op must refuse (`ErrorCase`).
    """

    cases: Sequence[Case]
    low: float = -2.0
    high: float = 2.0
    avoid: Sequence[float] = ()
    margin: float = 0.05
    fn: Callable[..., Any] | None = None
    second_order: bool = True
    fd_eps: float = 1e-6
    errors: Sequence[ErrorCase] = ()


class Primitive:
    """A named differentiable operation: forward, per-input VJP and JVP rules, domain.

    A primitive with `saves=True` may keep an intermediate of its forward for its
    rules (as PyTorch's `ctx.save_for_backward`): its forward takes `save: bool` and
    returns `(output, saved)`; when the call is recorded, `saved` lives on the graph
    node as the static param `saved` that every rule receives (None otherwise), and
    is freed with the node.
    """

    __slots__ = ("doc", "domain", "forward", "jvp", "name", "saves", "vjp")

    def __init__(self, name, forward, vjp, jvp, domain, saves=False):
        self.saves = saves
        self.name = name
        self.forward = forward
        self.vjp = tuple(vjp)
        self.jvp = tuple(jvp)
        self.domain = domain
        self.doc = forward.__doc__

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *inputs, **params):
        return apply(self, *inputs, **params)


def primitive(
    name: str,
    *,
    vjp: Sequence[Callable | None],
    jvp: Sequence[Callable | None],
    domain: Domain | None,
    saves: bool = False,
) -> Callable[[Callable], Primitive]:
    """Decorator turning a NumPy forward function into a registered `Primitive`."""

    def deco(forward: Callable) -> Primitive:
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        if len(vjp) != len(jvp):
            raise ValueError(f"primitive {name!r}: {len(vjp)} VJP rules but {len(jvp)} JVP rules")
        prim = Primitive(name, forward, vjp, jvp, domain, saves)
        REGISTRY[name] = prim
        return prim

    return deco


def _creation_site() -> str:
    """The first stack frame outside deepgrad, as 'file:line in func'."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/deepgrad/" not in frame.filename.replace("\\", "/"):
            return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return "<deepgrad internals>"


class AnomalyError(FloatingPointError):
    """A NaN or Inf appeared inside `detect_anomaly()`."""


def _check_finite(arr: np.ndarray, what: str, prim: Primitive, site: str | None) -> None:
    if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
        bad = "NaN" if np.isnan(arr).any() else "Inf"
        ctx = STATE.anomaly_ctx
        if ctx is not None and what == "the forward pass":
            # an op inside a VJP rule: report the op whose backward pass it belongs to
            what, step, (name, site) = "the backward pass", f" (in its '{prim.name}' step)", ctx
            where = f", created at {site}" if site else ""
            raise AnomalyError(f"detect_anomaly: {what} of '{name}' produced {bad}{step}{where}")
        where = f", created at {site}" if site else ""
        raise AnomalyError(f"detect_anomaly: {what} of '{prim.name}' produced {bad}{where}")


def apply(prim: Primitive, *inputs, **params):
    """Run `prim` forward on tensors and record it for reverse and forward mode."""
    if prim.saves:
        return _apply_saving(prim, inputs, params)
    if len(inputs) == 1:
        out = prim.forward(inputs[0].data, **params)
    else:
        out = prim.forward(*[x.data for x in inputs], **params)
    return _record(_wrap(out), prim, inputs, params)


def _apply_saving(prim: Primitive, inputs, params):
    """apply() for a primitive that keeps a forward intermediate on its node."""
    recording = STATE.grad and any(x.requires_grad for x in inputs)
    out, saved = prim.forward(*[x.data for x in inputs], save=recording, **params)
    return _record(_wrap(out), prim, inputs, {**params, "saved": saved if recording else None})


def _record(res, prim: Primitive, inputs, params):
    """Attach the graph node and forward-mode tangents to a fresh forward result."""
    if STATE.grad:
        for x in inputs:
            if x.requires_grad:
                res.requires_grad = True
                res._prim = prim
                res._inputs = inputs
                res._params = params
                if STATE.versioned:
                    res._saved_versions = tuple(getattr(x, "_version", 0) for x in inputs)
                break
    if STATE.fwd:
        _propagate_tangents(res, prim, inputs, params)
    if STATE.anomaly:
        site = _creation_site()
        if res._prim is not None:
            res._site = site
        _check_finite(res.data, "the forward pass", prim, site)
    return res


def _propagate_tangents(res, prim: Primitive, inputs, params) -> None:
    """Forward mode: compute the output tangent at every active level, outermost first.

    While the level-L tangent is computed, levels >= L are hidden, so the rule's
    own ops carry only outer (lower) levels: this is what keeps nested
    derivatives free of perturbation confusion (Siskind & Pearlmutter 2005).
    """
    active = STATE.levels
    cutoff = STATE.cutoff
    levels = set()
    for x in inputs:
        if x._tangents:
            levels.update(k for k in x._tangents if k < cutoff and k in active)
    for level in sorted(levels):
        STATE.cutoff = level
        try:
            total = None
            for i, x in enumerate(inputs):
                t = x._tangents.get(level) if x._tangents else None
                rule = prim.jvp[i]
                if t is None or rule is None:
                    continue
                c = rule(t, res, *inputs, **params)
                if c.shape != res.shape:
                    raise RuntimeError(
                        f"{prim.name}: JVP rule for input {i} returned shape {c.shape}, "
                        f"expected {res.shape}"
                    )
                total = c if total is None else total + c
        finally:
            STATE.cutoff = cutoff
        if total is not None:
            if res._tangents is None:
                res._tangents = {}
            res._tangents[level] = total


def _wrap(arr):
    """Fast Tensor construction from a forward result (set by tensor.py)."""
    raise RuntimeError("deepgrad.core.tensor not imported")  # replaced at import time
