"""Loss functions (`deepgrad.nn.functional`): regression, binary, distribution and embedding
losses.  Cross-entropy, NLL and multi-margin live in `crossentropy_functional.py`.

Every loss takes `reduction` in 'none' | 'mean' | 'sum' (validated), as PyTorch; the
legacy `size_average`/`reduce` arguments are not supported.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..core.tensor import Tensor, _wrap, as_tensor
from ..ops import elementwise as E
from ..ops.cast import cast
from ..ops.nnops import binary_cross_entropy_elementwise, softplus_unit
from ..ops.reduce import mean
from ..ops.reduce import sum as _sum
from ..ops.shape import unsqueeze
from ..ops.validation import check_float

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss",
    "mse_loss", "smooth_l1_loss",
]  # fmt: skip

_REDUCTIONS = ("none", "mean", "sum")


def check_reduction(name: str, reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    """Raise ValueError naming the loss unless `reduction` is one of `allowed`."""
    if reduction not in allowed:
        raise ValueError(
            f"{name}: reduction={reduction!r} is not valid; use one of "
            + ", ".join(repr(r) for r in allowed)
        )


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """'mean' -> mean, 'sum' -> sum, 'none' -> unchanged."""
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return _sum(loss)
    return loss


def _pair(name: str, input: Tensor, target) -> tuple[Tensor, Tensor]:
    """Target as a tensor of the input's dtype; warn, as PyTorch, when the shapes differ."""
    check_float(name, "input", input)
    target = _like(target, input)
    if target.shape != input.shape:
        warnings.warn(
            f"{name}: target shape {target.shape} differs from input shape {input.shape}; "
            "they will be broadcast, which is rarely intended",
            UserWarning,
            stacklevel=3,
        )
    return input, target


def _same_shape(name: str, input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        raise ValueError(
            f"{name}: target shape {target.shape} must equal input shape {input.shape}"
        )


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """$\\ell = (x - y)^2$."""
    check_reduction("mse_loss", reduction)
    x, y = _pair("mse_loss", input, target)
    d = E.sub(x, y)
    return reduce(E.mul(d, d), reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """$\\ell = |x - y|$."""
    check_reduction("l1_loss", reduction)
    x, y = _pair("l1_loss", input, target)
    return reduce(E.abs(E.sub(x, y)), reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """$\\frac12 d^2$ if $|d| < \\delta$ else $\\delta (|d| - \\frac12 \\delta)$ (Huber 1964)."""
    check_reduction("huber_loss", reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _pair("huber_loss", input, target)
    d = E.sub(x, y)
    z = E.abs(d)
    quad = E.mul(E.mul(d, d), 0.5)
    lin = E.mul(E.sub(z, 0.5 * delta), delta)
    return reduce(E.where(z._data < delta, quad, lin), reduction)


def smooth_l1_loss(input: Tensor, target, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """$\\frac{d^2}{2\\beta}$ if $|d| < \\beta$ else $|d| - \\frac{\\beta}{2}$ (Girshick 2015);
    beta = 0 is the L1 loss."""
    check_reduction("smooth_l1_loss", reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    if beta == 0:
        return l1_loss(input, target, reduction)
    x, y = _pair("smooth_l1_loss", input, target)
    d = E.sub(x, y)
    z = E.abs(d)
    quad = E.mul(E.mul(d, d), 0.5 / beta)
    return reduce(E.where(z._data < beta, quad, E.sub(z, 0.5 * beta)), reduction)


def _like(value, x: Tensor) -> Tensor:
    """`value` as a tensor of x's dtype (weights given as float64 arrays, Python numbers)."""
    t = as_tensor(value, like=x)
    return t if t._data.dtype == x._data.dtype else cast(t, x._data.dtype)


def _apply_weight(loss: Tensor, weight) -> Tensor:
    return loss if weight is None else E.mul(loss, _like(weight, loss))


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """$\\ell = -w [y \\log x + (1 - y) \\log(1 - x)]$ on probabilities x, each log clamped at
    -100 as PyTorch, so x = 0 or 1 gives a finite loss."""
    check_reduction("binary_cross_entropy", reduction)
    x = input
    y = as_tensor(target, like=x)
    _same_shape("binary_cross_entropy", x, y)
    if x.numel() and (x._data.min() < 0 or x._data.max() > 1):
        raise ValueError(
            f"binary_cross_entropy: input must be probabilities in [0, 1], got values in "
            f"[{x._data.min():.4g}, {x._data.max():.4g}] (use binary_cross_entropy_with_logits "
            "for logits)"
        )
    y = cast(y, x._data.dtype)
    loss = binary_cross_entropy_elementwise(x, y)
    return reduce(_apply_weight(loss, weight), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target, weight=None, reduction: str = "mean", pos_weight=None
) -> Tensor:
    """$\\ell = (1 - y) x + (1 + (p_w - 1) y) \\log(1 + e^{-x})$: sigmoid + BCE in one stable
    formula ($= \\max(x, 0) - x y + \\log(1 + e^{-|x|})$ when $p_w = 1$)."""
    check_reduction("binary_cross_entropy_with_logits", reduction)
    x = input
    y = _like(target, x)
    _same_shape("binary_cross_entropy_with_logits", x, y)
    sp = softplus_unit(E.neg(x))  # log(1 + e^{-x}), finite for any x
    if pos_weight is not None:
        lw = E.add(E.mul(E.sub(_like(pos_weight, x), 1.0), y), 1.0)
        sp = E.mul(sp, lw)
    loss = E.add(E.mul(E.rsub(y, 1.0), x), sp)
    return reduce(_apply_weight(loss, weight), reduction)


def kl_div(input: Tensor, target, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """$\\ell = p (\\log p - x)$ for log-probabilities x and target p (0 where p = 0); with
    `log_target`, $e^t (t - x)$.  Use reduction='batchmean' for the true KL divergence."""
    check_reduction("kl_div", reduction, _REDUCTIONS + ("batchmean",))
    t = _like(target, input)
    if log_target:
        loss = E.mul(E.exp(t), E.sub(t, input))
    else:
        pos = t._data > 0
        logt = E.log(E.where(pos, t, 1.0))  # xlogy: 0 log 0 = 0
        loss = E.mul(t, E.sub(logt, input))
    if reduction == "batchmean":
        n = input.shape[0] if input.ndim else 1
        return E.div(_sum(loss), float(n))
    return reduce(loss, reduction)


def _check_var(input: Tensor, var: Tensor) -> Tensor:
    if var.shape == input.shape:
        return var
    if input.ndim and var.shape == input.shape[:-1]:
        return unsqueeze(var, -1)  # one variance per sample (homoscedastic over the last axis)
    if input.ndim and var.shape[:-1] == input.shape[:-1] and var.shape[-1:] == (1,):
        return var
    raise ValueError(
        f"gaussian_nll_loss: var shape {var.shape} must equal the input shape {input.shape}, "
        f"or drop or set to 1 its last axis"
    )


def gaussian_nll_loss(
    input: Tensor, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """$\\ell = \\frac12 (\\log \\max(v, \\epsilon) + (x - y)^2 / \\max(v, \\epsilon))$ (+ $\\frac12
    \\log 2\\pi$ if full) (Nix & Weigend 1994).  The clamp passes gradients through, as PyTorch."""
    check_reduction("gaussian_nll_loss", reduction)
    var = _check_var(input, _like(var, input))
    if np.any(var._data < 0):
        raise ValueError("gaussian_nll_loss: var has negative entries")
    y = _like(target, input)
    shift = np.maximum(var._data, eps) - var._data  # PyTorch clamps under no_grad: identity slope
    v = E.add(var, _wrap(shift.astype(var._data.dtype)))
    d = E.sub(input, y)
    loss = E.mul(E.add(E.log(v), E.div(E.mul(d, d), v)), 0.5)
    if full:
        loss = E.add(loss, 0.5 * math.log(2 * math.pi))
    return reduce(loss, reduction)


def _sign_target(name: str, target, shape: tuple[int, ...]) -> np.ndarray:
    y = np.asarray(target._data if isinstance(target, Tensor) else target)
    if y.shape != shape:
        raise ValueError(f"{name}: target shape {y.shape} must be {shape}")
    if y.size and not np.all((y == 1) | (y == -1)):
        bad = y[(y != 1) & (y != -1)].flat[0]
        raise ValueError(f"{name}: target values must be 1 or -1, got {bad}")
    return y


def hinge_embedding_loss(
    input: Tensor, target, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """$\\ell = x$ if $y = 1$, $\\max(0, m - x)$ if $y = -1$ (distances of similar/dissimilar pairs)."""
    check_reduction("hinge_embedding_loss", reduction)
    y = _sign_target("hinge_embedding_loss", target, input.shape)
    hinge = E.relu(E.rsub(input, margin))
    loss = E.add(
        E.mul(hinge, _wrap((y != 1).astype(input.dtype))),
        E.mul(input, _wrap((y != -1).astype(input.dtype))),
    )
    return reduce(loss, reduction)


_COS_EPS = 1e-12  # PyTorch's epsilon inside the norms


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """$\\ell = 1 - \\cos(x_1, x_2)$ if $y = 1$, $\\max(0, \\cos(x_1, x_2) - m)$ if $y = -1$."""
    check_reduction("cosine_embedding_loss", reduction)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ValueError(
            f"cosine_embedding_loss: inputs must both be (N, D) or (D,), got {input1.shape} "
            f"and {input2.shape}"
        )
    y = _sign_target("cosine_embedding_loss", target, input1.shape[:-1])
    ax = input1.ndim - 1
    dot = _sum(E.mul(input1, input2), axis=ax)
    m1 = E.add(_sum(E.mul(input1, input1), axis=ax), _COS_EPS)
    m2 = E.add(_sum(E.mul(input2, input2), axis=ax), _COS_EPS)
    cos = E.div(dot, E.sqrt(E.mul(m1, m2)))
    pos = E.mul(E.rsub(cos, 1.0), _wrap((y == 1).astype(input1.dtype)))
    neg = E.mul(E.relu(E.sub(cos, margin)), _wrap((y == -1).astype(input1.dtype)))
    return reduce(E.add(pos, neg), reduction)
