"""Implicit differentiation: gradients of solutions through the implicit function theorem.

For x*(theta) with F(x*, theta) = 0, differentiating gives
    dx*/dtheta = -(dF/dx)^{-1} dF/dtheta,
so a cotangent g of x* pulls back to theta as
    dL/dtheta = (dF/dtheta)^T w,   where   (dF/dx)^T w = -g          (the adjoint solve).
The solve uses only VJPs of F (one reverse sweep per Krylov iteration: GMRES, or
conjugate gradient when dF/dx is symmetric definite), never the unrolled solver,
so memory does not grow with the number of forward iterations; forward mode solves
(dF/dx) dx = -(dF/dtheta) dtheta the same way with JVPs (Bai, Kolter & Koltun
2019, "Deep Equilibrium Models"; Blondel et al. 2022, "Efficient and modular
implicit differentiation").  A fixed point x* = f(x*, theta) is the root of
F = f - x.  Second-order derivatives through the solve are not supported (the
adjoint is a numerical solve, recorded as a constant).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..autograd.function import _node
from ..core import autodiff
from ..core.state import enable_grad, no_grad
from ..core.tensor import Tensor, _wrap

_METHODS = ("gmres", "cg")


def cg(matvec: Callable, b: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """Conjugate gradient for A w = b with A symmetric positive definite (Hestenes-Stiefel)."""
    w = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rs = float(r @ r)
    stop = tol**2 * max(float(b @ b), 1e-300)
    for _ in range(max_iter):
        if rs <= stop:
            break
        ap = matvec(p)
        alpha = rs / float(p @ ap)
        w += alpha * p
        r -= alpha * ap
        new = float(r @ r)
        p = r + (new / rs) * p
        rs = new
    return w


def gmres(matvec: Callable, b: np.ndarray, tol: float, max_iter: int, restart: int = 40):
    """Restarted GMRES for A w = b (Saad & Schultz 1986): least squares on a Krylov basis."""
    n = b.size
    w = np.zeros_like(b)
    bnorm = max(float(np.linalg.norm(b)), 1e-300)
    done = 0
    while done < max_iter:
        r = b - matvec(w)
        beta = float(np.linalg.norm(r))
        if beta <= tol * bnorm:
            break
        m = min(restart, n, max_iter - done)
        q = np.zeros((m + 1, n))
        h = np.zeros((m + 1, m))
        q[0] = r / beta
        k = 0
        for k in range(m):
            v = matvec(q[k])
            for j in range(k + 1):  # modified Gram-Schmidt
                h[j, k] = q[j] @ v
                v = v - h[j, k] * q[j]
            h[k + 1, k] = np.linalg.norm(v)
            done += 1
            if h[k + 1, k] <= 1e-14 * beta:
                break
            q[k + 1] = v / h[k + 1, k]
        e1 = np.zeros(k + 2)
        e1[0] = beta
        y = np.linalg.lstsq(h[: k + 2, : k + 1], e1, rcond=None)[0]
        w = w + q[: k + 1].T @ y
    return w


def _check(name: str, x0, params, adjoint: str) -> list[Tensor]:
    if not isinstance(x0, Tensor):
        raise TypeError(f"{name}: x0 must be a Tensor, got {type(x0).__name__}")
    if adjoint not in _METHODS:
        raise ValueError(f"{name}: adjoint must be one of {_METHODS}, got {adjoint!r}")
    bad = [i for i, p in enumerate(params) if not isinstance(p, Tensor)]
    if bad:
        raise TypeError(f"{name}: params must be tensors; params {bad} are not")
    return list(params)


def _adjoint_vjp(name, F, params, adjoint, tol, max_iter, negative=False):
    """vjp_all for the node x*(params): one adjoint solve, then one VJP to the params."""

    def vjp_all(g, ans):
        with enable_grad():
            xs = _wrap(ans._data.copy()).requires_grad_(True)
            ps = [_wrap(p._data).requires_grad_(True) for p in params]
            out = F(xs, *ps)
        if out.shape != xs.shape:
            raise ValueError(f"{name}: F(x, *params) has shape {out.shape}, x has {xs.shape}")

        def jt(v: np.ndarray) -> np.ndarray:  # (dF/dx)^T v
            u = _wrap(v.reshape(xs.shape).astype(xs.dtype))
            (r,) = autodiff.grad(out, [xs], [u], retain_graph=True, allow_unused=True)
            return np.zeros_like(v) if r is None else r._data.reshape(-1)

        rhs = -g._data.reshape(-1).astype(np.float64)
        if adjoint == "cg" and negative:  # fixed point: dF/dx = J - I is negative definite
            w = cg(lambda v: -jt(v), -rhs, tol, max_iter)
        elif adjoint == "cg":
            w = cg(jt, rhs, tol, max_iter)
        else:
            w = gmres(jt, rhs, tol, max_iter)
        u = _wrap(w.reshape(xs.shape).astype(xs.dtype))
        with no_grad():
            gs = autodiff.grad(out, ps, [u], allow_unused=True)
        return [None if gi is None else _wrap(gi._data) for gi in gs]

    return vjp_all


def _isolated_jvp(f, primals, tangents):
    """`jvp` on graph-free values from inside a JVP rule: the rule hides the levels at
    and above its own (perturbation confusion guard), and this computation touches
    none of them, so the guard is lifted for it."""
    from ..core.func import jvp
    from ..core.state import STATE

    cutoff, STATE.cutoff = STATE.cutoff, 1 << 62
    try:
        return jvp(f, primals, tangents)[1]
    finally:
        STATE.cutoff = cutoff


def _ift_jvp(F, params, tol, max_iter):
    """jvp_all for the node x*(params): dx = -(dF/dx)^{-1} (dF/dparams) dparams (GMRES)."""

    def jvp_all(tangents, ans):
        xs = _wrap(ans._data.copy())
        ps = [_wrap(p._data) for p in params]
        ts = [_wrap(np.zeros_like(p._data)) if t is None else _wrap(t._data) for t, p in
              zip(tangents, params)]  # fmt: skip
        with no_grad():
            r = _isolated_jvp(lambda *qs: F(xs, *qs), ps, ts)

            def jx(v: np.ndarray) -> np.ndarray:
                u = _wrap(v.reshape(xs.shape).astype(xs.dtype))
                return _isolated_jvp(lambda z: F(z, *ps), (xs,), (u,))._data.reshape(-1)

            v = gmres(jx, -r._data.reshape(-1).astype(np.float64), tol, max_iter)
        return _wrap(v.reshape(ans.shape).astype(ans.dtype))

    return jvp_all


def implicit_root(
    F: Callable[..., Tensor],
    x0: Tensor,
    params: Sequence[Tensor],
    solver: Callable[[Callable[[Tensor], Tensor], Tensor], Tensor] | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
    adjoint: str = "gmres",
) -> Tensor:
    """x* with F(x*, *params) = 0, differentiable in `params` by the implicit function theorem.

    `solver(G, x0)` finds a root of G(x) = F(x, *params) (default: Newton's method with
    the dense Jacobian, for small x).  Gradients: (dF/dx)^T w = -g solved by `adjoint`
    ('gmres' or 'cg' for symmetric definite dF/dx) to `tol`, then
    dL/dparams = (dF/dparams)^T w.  No graph of the solver is kept.
    """
    params = _check("implicit_root", x0, params, adjoint)
    consts = [p.detach() for p in params]
    with no_grad():
        solve = solver or _newton
        x = solve(lambda z: F(z, *consts), x0.detach())
    if not isinstance(x, Tensor) or x.shape != x0.shape:
        raise ValueError(f"implicit_root: the solver must return a tensor of shape {x0.shape}")
    vjp_all = _adjoint_vjp("implicit_root", F, params, adjoint, tol, max_iter)
    jvp_all = _ift_jvp(F, params, tol, max_iter)
    return _node("implicit_root", params, x._data, vjp_all, jvp_all)


def _newton(G: Callable[[Tensor], Tensor], x0: Tensor, iters: int = 50) -> Tensor:
    from ..core.func import jacobian

    x = x0
    for _ in range(iters):
        r = G(x)
        if float(np.abs(r._data).max(initial=0.0)) < 1e-13:
            break
        with enable_grad():
            j = jacobian(G)(x)._data.reshape(x.numel(), x.numel())
        x = _wrap(x._data - np.linalg.solve(j, r._data.reshape(-1)).reshape(x.shape))
    return x


def fixed_point(
    f: Callable[..., Tensor],
    x0: Tensor,
    params: Sequence[Tensor],
    solver: Callable[[Callable[[Tensor], Tensor], Tensor], Tensor] | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 500,
    adjoint: str = "gmres",
) -> Tensor:
    """x* = f(x*, *params), differentiable in `params` by the implicit function theorem.

    `solver(g, x0)` finds a fixed point of g(x) = f(x, *params) (default: plain
    iteration until the step is below `tol`, for contractive maps).  Gradients solve
    (I - df/dx)^T w = g with `adjoint` ('gmres'; 'cg' when df/dx is symmetric, as for
    a gradient step) and return (df/dparams)^T w, as in deep equilibrium models.
    """
    params = _check("fixed_point", x0, params, adjoint)
    consts = [p.detach() for p in params]
    with no_grad():
        if solver is None:
            x = _iterate(lambda z: f(z, *consts), x0.detach(), tol, max_iter)
        else:
            x = solver(lambda z: f(z, *consts), x0.detach())
    if not isinstance(x, Tensor) or x.shape != x0.shape:
        raise ValueError(f"fixed_point: the solver must return a tensor of shape {x0.shape}")

    def F(z, *ps):
        return f(z, *ps) - z

    vjp_all = _adjoint_vjp("fixed_point", F, params, adjoint, tol, max_iter, negative=True)
    return _node("fixed_point", params, x._data, vjp_all, _ift_jvp(F, params, tol, max_iter))


def _iterate(g: Callable[[Tensor], Tensor], x: Tensor, tol: float, max_iter: int) -> Tensor:
    for _ in range(max_iter):
        nxt = g(x)
        step = float(np.abs(nxt._data - x._data).max(initial=0.0))
        x = nxt
        if step <= tol:
            return x
    raise RuntimeError(
        f"fixed_point: no convergence in {max_iter} iterations (last step {step:.3g} > "
        f"tol {tol:g}); is the map contractive? Pass a solver= or raise max_iter"
    )
