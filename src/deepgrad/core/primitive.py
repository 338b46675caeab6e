"""Primitives: the registry, the input domains tests sample from, and `apply`.

A primitive is a NumPy forward plus, for each positional input, one VJP rule
and one JVP rule (PyTorch's derivatives.yaml gives each input its formula on
one line; we do the same).  Rules receive `Tensor`s and use deepgrad ops only,
so a backward pass can itself be recorded and differentiated again.

    vjp[i](g, ans, *inputs, **params) -> gradient for input i (same shape as input i)
    jvp[i](t, ans, *inputs, **params) -> output tangent contributed by tangent t of input i

The output tangent is the sum of the per-input contributions (a JVP is linear
in the tangents).  Keyword arguments are static parameters.  Rules declared
with `ans=False` are called without `ans`; a linear op may declare only its
transpose (`linear=True, transpose=[...]`) and get both rules derived.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .state import STATE
from .tensor import _wrap

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

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Float64 values uniform on [low, high], each within `margin` of a point in
        `avoid` pushed out to 1.5 margins on its own side."""
        x = rng.uniform(self.low, self.high, size=shape)
        for a in self.avoid:
            away = a + np.where(x >= a, self.margin, -self.margin) * 1.5
            x = np.where(np.abs(x - a) < self.margin, away, x)
        return x

    def with_errors(self, *errors: ErrorCase) -> Domain:
        """This domain with its own invalid calls (for a domain shared by several ops)."""
        return replace(self, errors=list(errors))


class each(Sequence):
    """The per-input rules of a variadic primitive (concatenate, einsum): rule i is
    `factory(i)`, made on first use, so one primitive serves every number of inputs.

    >>> rules = each(lambda i: (lambda g, ans, *xs: g * i))
    >>> rules[3](2, None)
    6
    """

    __slots__ = ("_rules", "factory")

    def __init__(self, factory: Callable[[int], Callable]) -> None:
        self.factory = factory
        self._rules: dict[int, Callable] = {}

    def __len__(self) -> int:
        return 1  # as a declaration: one rule (factory) for all inputs

    def __getitem__(self, i: int) -> Callable:
        rule = self._rules.get(i)
        if rule is None:
            rule = self._rules[i] = self.factory(i)
        return rule

    def __iter__(self):
        yield self[0]


class Primitive:
    """A named differentiable operation: forward, per-input VJP and JVP rules, domain.

    A primitive with `saves=True` may keep an intermediate of its forward for its
    rules (as PyTorch's `ctx.save_for_backward`): its forward takes `save: bool` and
    returns `(output, saved)`; when the call is recorded, `saved` lives on the graph
    node as the static param `saved` that every rule receives (None otherwise), and
    is freed with the node.
    """

    __slots__ = ("ans", "batch", "doc", "domain", "forward", "jvp", "name", "saves", "vjp")

    def __init__(
        self, name, forward, vjp, jvp, domain, saves=False, ans=True, batch=None, doc=None
    ):
        self.ans = ans  # do the rules take the output `ans` after the cotangent/tangent?
        self.saves = saves
        # vmap's batching rule: batch(xs, batched, size, **params) -> output with the batch
        # axis first (see ops/batching.py); None: vmap loops over the batch
        self.batch = batch
        self.name = name
        self.forward = forward
        self.vjp = vjp if isinstance(vjp, each) else tuple(vjp)
        self.jvp = jvp if isinstance(jvp, each) else tuple(jvp)
        self.domain = domain
        self.doc = doc or forward.__doc__

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *inputs, **params):
        return apply(self, *inputs, **params)


def primitive(
    name: str,
    *,
    vjp: Sequence[Callable | None] | None = None,
    jvp: Sequence[Callable | None] | None = None,
    domain: Domain | None,
    saves: bool = False,
    batch: Callable | None = None,
    linear: bool = False,
    transpose: Sequence[Callable | None] | None = None,
    ans: bool | None = None,
    doc: str | None = None,
) -> Callable[[Callable], Primitive]:
    r"""Decorator turning a NumPy forward function into a registered `Primitive`.

    Rules are given per input (`vjp=[...]`, `jvp=[...]`), or derived:

    * `linear=True`: the op is linear in each input, so its JVP is the op itself,
      $\dot y = f(0, \ldots, \dot x_i, \ldots, 0)$ (PyTorch's `auto_linear`, JAX's
      `deflinear`); with `transpose=[T_i(g, *inputs, **params)]` the VJP is that
      transpose, so a linear op is declared once.
    * `ans=False`: the rules do not take the output; they are called as
      `vjp(g, *inputs, **params)` / `jvp(t, *inputs, **params)`.  Derived rules never
      need it, so `ans` defaults to False when every rule is derived.

    `ops._base.elementwise(...)` builds both rules of an elementwise op from its partials.

    `doc` gives the math when the forward is a NumPy function (whose own docstring must not
    be overwritten); otherwise the forward's docstring is the primitive's.

    `batch` is the optional vmap batching rule, `batch(xs, batched, size, **params)`:
    `xs[i]` has the batch axis first where `batched[i]`, and the rule returns the
    output for all `size` samples, batch axis first (see `ops/batching.py`).
    """

    def deco(forward: Callable) -> Primitive:
        if name in REGISTRY:
            raise ValueError(f"primitive {name!r} is already registered")
        takes_ans = ans if ans is not None else (vjp is not None or jvp is not None)
        cell: list[Primitive] = []
        v, j = _derive(name, vjp, jvp, linear, transpose, takes_ans, cell)
        if len(v) != len(j):
            raise ValueError(f"primitive {name!r}: {len(v)} VJP rules but {len(j)} JVP rules")
        prim = Primitive(name, forward, v, j, domain, saves, takes_ans, batch, doc)
        cell.append(prim)
        REGISTRY[name] = prim
        return prim

    return deco


# the installed package's own folder (`Path(deepgrad.__file__).parent`): a frame is deepgrad's
# when its file lies under it, whatever the folder a user cloned the repository into is called
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _derive(name, vjp, jvp, linear, transpose, takes_ans, cell):
    """The VJP and JVP rule lists, derived from linearity and the transpose where not given."""
    if vjp is None:
        if transpose is None:
            raise ValueError(f"primitive {name!r}: give vjp=[...] or transpose=[...]")
        vjp = [_adapt(t, takes_ans) for t in transpose]
    if jvp is None:
        if not linear:
            raise ValueError(f"primitive {name!r}: give jvp=[...] or declare linear=True")
        n = len(vjp)
        jvp = [_adapt(_linear_jvp(cell, i, n), takes_ans) for i in range(n)]
    return vjp, jvp


def _adapt(rule: Callable | None, takes_ans: bool) -> Callable | None:
    """A rule written without `ans`, for a primitive whose other rules take it."""
    if rule is None or not takes_ans:
        return rule
    return lambda g, ans, *xs, **p: rule(g, *xs, **p)


def _linear_jvp(cell: list[Primitive], i: int, n: int) -> Callable:
    """JVP of input i of a linear op: the op applied to the tangent (others zero)."""
    if n == 1:
        return lambda t, x, **p: apply(cell[0], t, **p)

    def rule(t, *xs, **p):
        args = [t if k == i else _wrap(np.zeros_like(x._data)) for k, x in enumerate(xs)]
        return apply(cell[0], *args, **p)

    return rule


def _creation_site() -> str:
    """The first stack frame outside the deepgrad package, as 'file:line in func'."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
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
    if STATE.batch is not None:  # inside vmap: batched inputs go to the batching rule
        return STATE.batch.apply(prim, inputs, params)
    return _apply(prim, inputs, params)


def _apply(prim: Primitive, inputs, params):
    """apply() on plain (unbatched) tensors."""
    if prim.saves:
        return _apply_saving(prim, inputs, params)
    n = len(inputs)
    if n == 1:
        out = prim.forward(inputs[0]._data, **params)
    elif n == 2:
        out = prim.forward(inputs[0]._data, inputs[1]._data, **params)
    else:
        out = prim.forward(*[x._data for x in inputs], **params)
    return _record(_wrap(out), prim, inputs, params)


def _apply_saving(prim: Primitive, inputs, params):
    """apply() for a primitive that keeps a forward intermediate on its node."""
    recording = STATE.grad and any(x.requires_grad for x in inputs)
    out, saved = prim.forward(*[x._data for x in inputs], save=recording, **params)
    return _record(_wrap(out), prim, inputs, {**params, "saved": saved if recording else None})


def _record(res, prim: Primitive, inputs, params):
    """Make a fresh forward result the graph node of `prim(*inputs)` when one is needed."""
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
    if STATE.fwd:  # forward mode, vmap, a tracer or anomaly mode: each sees every op
        _observe(res, prim, inputs, params)
    return res


def _observe(res, prim: Primitive, inputs, params) -> None:
    """Forward-mode tangents, anomaly checks and the op tracer, for one applied op."""
    _propagate_tangents(res, prim, inputs, params)
    if STATE.anomaly:
        site = _creation_site()
        if res._prim is not None:
            res._site = site
        _check_finite(res._data, "the forward pass", prim, site)
    if STATE.tracer is not None:
        STATE.tracer(res, prim, inputs, params)


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
                c = rule(t, res, *inputs, **params) if prim.ans else rule(t, *inputs, **params)
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
