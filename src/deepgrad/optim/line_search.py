"""Line searches on flat float64 vectors (Nocedal & Wright 2006, chapter 3).

Every search takes `f(x) -> (loss, grad)`, the point x, a descent direction d,
and the loss and gradient at x; it looks for a step alpha along d with

    sufficient decrease (Armijo):  f(x + a d) <= f(x) + c1 a g^T d
    curvature (strong Wolfe):      |g(x + a d)^T d| <= c2 |g^T d|

and returns a `LineSearchResult`. Any optimizer can use them through a
flattening of its parameters (see `deepgrad.optim.flat`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class LineSearchResult(NamedTuple):
    """alpha: the step; f, g: loss and gradient at x + alpha d; n_evals: calls of f."""

    alpha: float
    f: float
    g: np.ndarray
    n_evals: int
    success: bool


def armijo_backtracking(
    f: Objective,
    x: np.ndarray,
    d: np.ndarray,
    fx: float,
    gx: np.ndarray,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    rho: float = 0.5,
    max_iter: int = 30,
) -> LineSearchResult:
    """Backtracking: alpha <- rho * alpha until f(x + alpha d) <= f(x) + c1 alpha g^T d.

    Nocedal & Wright, Algorithm 3.1. On failure returns the last (smallest) step tried.
    """
    if not 0 < rho < 1:
        raise ValueError(f"armijo_backtracking: rho must be in (0, 1), got rho={rho!r}")
    if not 0 < c1 < 1:
        raise ValueError(f"armijo_backtracking: c1 must be in (0, 1), got c1={c1!r}")
    gtd = float(np.dot(gx, d))
    alpha = float(alpha0)
    f_new, g_new = fx, gx
    for k in range(1, max_iter + 1):
        f_new, g_new = f(x + alpha * d)
        if np.isfinite(f_new) and f_new <= fx + c1 * alpha * gtd:
            return LineSearchResult(alpha, float(f_new), g_new, k, True)
        alpha *= rho
    return LineSearchResult(alpha / rho, float(f_new), g_new, max_iter, False)


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clipped to `bounds`.

    Nocedal & Wright eq. 3.59; falls back to the midpoint when the cubic has no minimum.
    """
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 * d1 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return float(min(max(pos, lo), hi))
    return (lo + hi) / 2.0


def strong_wolfe(
    f: Objective,
    x: np.ndarray,
    d: np.ndarray,
    fx: float,
    gx: np.ndarray,
    alpha0: float = 1.0,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> LineSearchResult:
    """A step satisfying the strong Wolfe conditions: bracket, then zoom by cubic interpolation.

    Nocedal & Wright, Algorithms 3.5 (bracketing) and 3.6 (zoom); the same steps and
    safeguards as PyTorch's LBFGS line search.
    """
    gtd = float(np.dot(gx, d))
    d_norm = float(np.max(np.abs(d))) if d.size else 0.0

    def phi(t):
        fv, gv = f(x + t * d)
        return float(fv), gv, float(np.dot(gv, d))

    t = float(alpha0)
    f_new, g_new, gtd_new = phi(t)
    evals, ls_iter, done = 1, 0, False
    t_prev, f_prev, g_prev, gtd_prev = 0.0, fx, gx, gtd
    while ls_iter < max_ls:
        if f_new > fx + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, done = [[t, f_new, g_new, gtd_new]], True
            break
        if gtd_new >= 0:
            br = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        lo, hi = t + 0.01 * (t - t_prev), t * 10
        t_next = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(lo, hi))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new, gtd_new = phi(t)
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:
        br = [[0.0, fx, gx, gtd], [t, f_new, g_new, gtd_new]]
    t, evals, done = _zoom(
        phi, br, fx, gtd, c1, c2, d_norm, tolerance_change, max_ls, ls_iter, evals, done
    )
    return LineSearchResult(t[0], t[1], t[2], evals, done)


def _zoom(phi, br, fx, gtd, c1, c2, d_norm, tolerance_change, max_ls, ls_iter, evals, done):
    """Shrink the bracket `br` (entries [t, f, g, g^T d]) until a strong Wolfe step is found."""
    insuf_progress = False
    low, high = (0, 1) if br[0][1] <= br[-1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        a, b = br[0][0], br[1][0]
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(a, br[0][1], br[0][3], b, br[1][1], br[1][3])
        top, bot = max(a, b), min(a, b)
        eps = 0.1 * (top - bot)
        if min(top - t, t - bot) < eps:  # too close to an end: move inwards
            if insuf_progress or t >= top or t <= bot:
                t = top - eps if abs(t - top) < abs(t - bot) else bot + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new, gtd_new = phi(t)
        evals += 1
        ls_iter += 1
        if f_new > fx + c1 * t * gtd or f_new >= br[low][1]:
            br[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if br[0][1] <= br[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high][0] - br[low][0]) >= 0:
                br[high] = br[low]
            br[low] = [t, f_new, g_new, gtd_new]
    return br[low], evals, done
