"""Gradient checking for users' functions: finite differences and dot-product tests.

    gradcheck      reverse-mode Jacobian vs float64 central differences
    gradgradcheck  the same, one order up (the VJP itself differentiated)
    check_vjp      <u, J v> == <J^T u, v> with J v by finite differences
    check_jvp      forward mode against reverse mode: <J v, u> == <v, J^T u>

Tolerances default to PyTorch's gradcheck (eps=1e-6, atol=1e-5, rtol=1e-3).
A failure names the input and the element that disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .core import autodiff
from .core.func import jvp as _jvp
from .core.tensor import Tensor, _wrap


class GradcheckError(AssertionError):
    """Analytical and numerical derivatives disagree."""


def _outputs(f, inputs) -> list[Tensor]:
    out = f(*inputs)
    return [out] if isinstance(out, Tensor) else list(out)


def _flat_out(f, inputs) -> np.ndarray:
    outs = _outputs(f, inputs)  # with grad on: f may itself differentiate (gradgradcheck)
    return (
        np.concatenate([o._data.astype(np.float64).ravel() for o in outs]) if outs else np.zeros(0)
    )


class _no_grad:
    def __enter__(self):
        from .core.state import STATE

        self.old, STATE.grad = STATE.grad, False

    def __exit__(self, *exc):
        from .core.state import STATE

        STATE.grad = self.old


def _check_inputs(inputs: Sequence[Tensor]) -> list[Tensor]:
    inputs = list(inputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradcheck: input {i} is a {type(x).__name__}, expected a Tensor")
        if x.requires_grad and x.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {x.dtype}; finite differences need float64"
            )
    return inputs


def numerical_jacobian(f, inputs, i: int, eps: float = 1e-6) -> np.ndarray:
    """d f(inputs) / d inputs[i] by central differences, shape (n_out, n_in)."""
    x = inputs[i]
    base = x._data
    flat = base.astype(np.float64).ravel().copy()
    cols = []
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        x._data = flat.reshape(base.shape).copy()
        plus = _flat_out(f, inputs)
        flat[k] = orig - eps
        x._data = flat.reshape(base.shape).copy()
        minus = _flat_out(f, inputs)
        flat[k] = orig
        cols.append((plus - minus) / (2 * eps))
    x._data = base
    n_out = _flat_out(f, inputs).size
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def analytical_jacobian(f, inputs, i: int) -> np.ndarray:
    """d f / d inputs[i] by reverse mode, one VJP per output element, shape (n_out, n_in)."""
    outs = _outputs(f, inputs)
    sizes = [o.numel() for o in outs]
    rows = []
    for j, o in enumerate(outs):
        for k in range(o.numel()):
            if not o.requires_grad:
                rows.append(np.zeros(inputs[i].numel()))
                continue
            e = np.zeros(o.numel(), dtype=o.dtype)
            e[k] = 1
            gos = [
                _wrap(e.reshape(o.shape)) if m == j else _wrap(np.zeros(q.shape, q.dtype))
                for m, q in enumerate(outs)
            ]
            live = [(q, g) for q, g in zip(outs, gos) if q.requires_grad]
            (g,) = autodiff.grad(
                [q for q, _ in live], [inputs[i]], [g for _, g in live], retain_graph=True
            )
            rows.append(g._data.astype(np.float64).ravel())
    n = sum(sizes)
    return np.stack(rows, axis=0) if rows else np.zeros((n, inputs[i].numel()))


def _compare(ana, num, i, atol, rtol, what, raise_exception) -> bool:
    bad = ~np.isclose(ana, num, atol=atol, rtol=rtol)
    if not bad.any():
        return True
    r, c = np.argwhere(bad)[0]
    msg = (
        f"{what}: input {i}, element {c} (flat index), output element {r}: "
        f"analytical {ana[r, c]!r} vs numerical {num[r, c]!r} "
        f"({int(bad.sum())} of {bad.size} entries disagree; atol={atol}, rtol={rtol})"
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradcheck(
    f: Callable,
    inputs: Sequence[Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    check_forward: bool = True,
) -> bool:
    """Check reverse (and forward) mode derivatives of `f` against central differences.

    Every input with requires_grad=True is checked; J_ana must match
    (f(x + eps e_k) - f(x - eps e_k)) / (2 eps) entrywise within atol + rtol |J_num|.
    With `check_forward`, the forward-mode Jacobian (one JVP per input element)
    is checked too.
    """
    inputs = _check_inputs(inputs)
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        num = numerical_jacobian(f, inputs, i, eps)
        ana = analytical_jacobian(f, inputs, i)
        if not _compare(ana, num, i, atol, rtol, "gradcheck (reverse mode)", raise_exception):
            return False
        if check_forward:
            fwd = forward_jacobian(f, inputs, i)
            if not _compare(fwd, num, i, atol, rtol, "gradcheck (forward mode)", raise_exception):
                return False
    return True


def forward_jacobian(f, inputs, i: int) -> np.ndarray:
    """d f / d inputs[i] by forward mode, one JVP per input element, shape (n_out, n_in)."""
    x = inputs[i]
    cols = []
    for k in range(x.numel()):
        e = np.zeros(x.numel(), dtype=x.dtype)
        e[k] = 1

        def fi(xi):
            args = list(inputs)
            args[i] = xi
            return f(*args)

        _, t = _jvp(fi, (x,), (_wrap(e.reshape(x.shape)),))
        ts = [t] if isinstance(t, Tensor) else list(t)
        cols.append(np.concatenate([q._data.astype(np.float64).ravel() for q in ts]))
    n_out = _flat_out(f, inputs).size
    return np.stack(cols, axis=1) if cols else np.zeros((n_out, 0))


def gradgradcheck(
    f: Callable,
    inputs: Sequence[Tensor],
    grad_outputs: Sequence[Tensor] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
    check_forward: bool = True,
) -> bool:
    """Second order: gradcheck of x -> J_f(x)^T u (the VJP itself), with a fixed random u.

    `check_forward=False` skips forward-over-reverse (for functions without a JVP rule,
    such as a custom_vjp)."""
    inputs = _check_inputs(inputs)
    rng = np.random.default_rng(seed)
    diff = [i for i, x in enumerate(inputs) if x.requires_grad]
    with _no_grad():
        outs = _outputs(f, inputs)
    if grad_outputs is None:
        grad_outputs = [_wrap(rng.standard_normal(o.shape)) for o in outs]

    def first(*xs):
        os_ = _outputs(f, xs)
        live = [(o, u) for o, u in zip(os_, grad_outputs) if o.requires_grad]
        if not live:
            return tuple(_wrap(np.zeros(xs[i].shape)) for i in diff)
        return autodiff.grad(
            [o for o, _ in live],
            [xs[i] for i in diff],
            [u for _, u in live],
            create_graph=True,
        )

    return gradcheck(first, inputs, eps, atol, rtol, raise_exception, check_forward=check_forward)


def check_vjp(
    f: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, rtol: float = 1e-5, seed: int = 0
) -> None:
    """Dot-product test of the VJP: <u, J v> (finite differences) == <J^T u, v> (reverse mode)."""
    inputs = _check_inputs(inputs)
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(x.shape) if x.requires_grad else None for x in inputs]
    base = [x._data for x in inputs]
    for x, v, b in zip(inputs, vs, base):
        if v is not None:
            x._data = b + eps * v
    plus = _flat_out(f, inputs)
    for x, v, b in zip(inputs, vs, base):
        if v is not None:
            x._data = b - eps * v
    minus = _flat_out(f, inputs)
    for x, b in zip(inputs, base):
        x._data = b
    jv = (plus - minus) / (2 * eps)
    u = rng.standard_normal(jv.shape)
    lhs = float(u @ jv)
    rhs = _vjp_dot(f, inputs, u, vs)
    if not np.isclose(lhs, rhs, rtol=rtol, atol=1e-6 * (1 + abs(lhs))):
        raise GradcheckError(f"check_vjp: <u, J v> = {lhs!r} but <J^T u, v> = {rhs!r}")


def _vjp_dot(f, inputs, u, vs) -> float:
    outs = _outputs(f, inputs)
    gos, off = [], 0
    for o in outs:
        gos.append(_wrap(u[off : off + o.numel()].reshape(o.shape).astype(o.dtype)))
        off += o.numel()
    live = [(o, g) for o, g in zip(outs, gos) if o.requires_grad]
    diff = [i for i, v in enumerate(vs) if v is not None]
    if not live:
        return 0.0
    grads = autodiff.grad([o for o, _ in live], [inputs[i] for i in diff], [g for _, g in live])
    return float(sum(np.sum(g._data * vs[i]) for g, i in zip(grads, diff)))


def check_jvp(f: Callable, inputs: Sequence[Tensor], rtol: float = 1e-7, seed: int = 0) -> None:
    """Dot-product test between modes: <J v, u> (forward) == <v, J^T u> (reverse), no FD."""
    inputs = _check_inputs(inputs)
    rng = np.random.default_rng(seed)
    diff = [i for i, x in enumerate(inputs) if x.requires_grad]
    vs = [rng.standard_normal(x.shape) if x.requires_grad else None for x in inputs]

    def fd(*xs):
        args = list(inputs)
        for i, x in zip(diff, xs):
            args[i] = x
        return f(*args)

    _, t = _jvp(fd, [inputs[i] for i in diff], [_wrap(vs[i].astype(inputs[i].dtype)) for i in diff])
    ts = [t] if isinstance(t, Tensor) else list(t)
    jv = np.concatenate([q._data.astype(np.float64).ravel() for q in ts])
    u = rng.standard_normal(jv.shape)
    lhs = float(u @ jv)
    rhs = _vjp_dot(f, inputs, u, vs)
    if not np.isclose(lhs, rhs, rtol=rtol, atol=1e-9 * (1 + abs(lhs))):
        raise GradcheckError(f"check_jvp: <J v, u> = {lhs!r} (forward) but <v, J^T u> = {rhs!r}")
