"""Classification losses over class indices or class probabilities: cross-entropy, NLL,
multi-class margin.  Inputs (N, C) or (N, C, d1, ...) put the class axis at 1, as PyTorch.

Cross-entropy with class indices uses the fused `softmax_cross_entropy` primitive: one
node, finite for any finite logits, and the whole of the MLP benchmark's loss.
"""

from __future__ import annotations

import numpy as np

from ..core.state import host_call
from ..core.tensor import Tensor, _wrap, as_tensor
from ..ops import elementwise as E
from ..ops.cast import cast
from ..ops.index import gather
from ..ops.nnops import softmax_cross_entropy
from ..ops.reduce import mean
from ..ops.reduce import sum as _sum
from ..ops.shape import permute, reshape
from ..ops.softmax import log_softmax
from ..ops.validation import check_float
from .loss_functional import check_reduction, reduce

__all__ = ["cross_entropy", "multi_margin_loss", "nll_loss"]


def _flat_classes(x: Tensor) -> tuple[Tensor, tuple[int, ...]]:
    """Logits (N, C, d1, ...) -> (N * d1 * ..., C) and the per-element output shape."""
    if x.ndim == 0:
        raise ValueError("expected an input with a class axis, got a 0-d tensor")
    if x.ndim == 1:
        return reshape(x, (1, x.shape[0])), ()
    if x.ndim == 2:
        return x, x.shape[:1]
    out_shape = (x.shape[0],) + x.shape[2:]
    moved = permute(x, 0, *range(2, x.ndim), 1)
    return reshape(moved, (-1, x.shape[1])), out_shape


@host_call(pure=True)  # deepgrad.compile checks the targets again at each replay
def _class_targets(
    name: str, shape: tuple[int, ...], target, ignore_index: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validated flat class indices (ignored ones set to 0) and the mask of counted ones
    (None when every element counts: the common, fast case)."""
    t = np.asarray(target._data if isinstance(target, Tensor) else target)
    expected = () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])
    c = shape[0] if len(shape) == 1 else shape[1]
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers, got dtype {t.dtype} with shape "
            f"{t.shape}; targets of class probabilities must have the input's shape {shape}"
        )
    if t.shape != expected:
        raise ValueError(
            f"{name}: target shape {t.shape} does not match input shape {shape}: "
            f"expected class indices of shape {expected} (or probabilities of shape {shape})"
        )
    t = t.reshape(-1)
    # the ufuncs directly: ndarray.min/max's Python wrappers cost ~1 us each per step
    in_range = t.size == 0 or (np.minimum.reduce(t) >= 0 and np.maximum.reduce(t) < c)
    if in_range and not (0 <= ignore_index < c and np.any(t == ignore_index)):
        return t, None
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        where = np.unravel_index(pos, expected) if expected else ()
        raise IndexError(
            f"{name}: target class {t[pos]} at position {tuple(int(i) for i in where)} is out "
            f"of range: valid classes are [0, {c}) for an input with {c} classes "
            f"(ignore_index={ignore_index})"
        )
    return np.where(valid, t, 0), valid


def _class_weight(name: str, weight, c: int, like: Tensor) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight._data if isinstance(weight, Tensor) else weight, dtype=like._data.dtype)
    if w.shape != (c,):
        raise ValueError(f"{name}: weight must have shape ({c},) (one per class), got {w.shape}")
    return w


def _sample_weights(t, valid, w, dtype) -> np.ndarray | None:
    """Per-element weights w[t] (0 where ignored); None when every weight is 1."""
    if w is None and valid is None:
        return None
    out = np.ones(t.shape, dtype) if w is None else w[t]
    return out if valid is None else out * valid


def _weighted(name: str, per: Tensor, sw: np.ndarray | None, reduction: str, shape) -> Tensor:
    """Apply per-element weights and reduce; 'mean' divides by the sum of the weights."""
    if sw is not None:
        per = E.mul(per, _wrap(sw.astype(per._data.dtype)))
    return _reduce(per, sw, reduction, shape)


def _reduce(per: Tensor, sw: np.ndarray | None, reduction: str, shape) -> Tensor:
    """'none': `per` in the input's shape; 'sum'; 'mean': sum / sum(sw) (a plain mean if sw is None)."""
    if reduction == "none":
        return reshape(per, shape)
    if reduction == "sum":
        return _sum(per)
    if sw is None:  # no weights and nothing ignored: a plain mean
        return mean(per)
    return E.div(_sum(per), float(sw.sum()))


def nll_loss(
    input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """$\\ell_n = -w_{y_n} x_{n, y_n}$ on log-probabilities x; 'mean' divides by $\\sum w_{y_n}$."""
    check_reduction("nll_loss", reduction)
    check_float("nll_loss", "input", input)
    logp, shape = _flat_classes(input)
    t, valid = _class_targets("nll_loss", input.shape, target, ignore_index)
    w = _class_weight("nll_loss", weight, logp.shape[1], input)
    picked = reshape(gather(logp, 1, t[:, None]), (-1,))
    return _weighted(
        "nll_loss", E.neg(picked), _sample_weights(t, valid, w, input.dtype), reduction, shape
    )


def cross_entropy(
    input: Tensor,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """$\\ell_n = -w_{y_n} \\log \\mathrm{softmax}(x_n)_{y_n}$ for class indices, or
    $-\\sum_c w_c p_{nc} \\log \\mathrm{softmax}(x_n)_c$ for class probabilities p; label
    smoothing mixes the target with the uniform distribution (Szegedy et al. 2016)."""
    check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    check_float("cross_entropy", "input", input)
    logits, shape = _flat_classes(input)
    c = logits.shape[1]
    w = _class_weight("cross_entropy", weight, c, input)
    tdata = target._data if isinstance(target, Tensor) else np.asarray(target)
    if tdata.dtype.kind == "f":
        return _prob_cross_entropy(input, logits, target, w, reduction, label_smoothing, shape)
    t, valid = _class_targets("cross_entropy", input.shape, target, ignore_index)
    sw = _sample_weights(t, valid, w, input.dtype)
    if sw is None and reduction == "mean":
        loss = softmax_cross_entropy(logits, t, mean=True)  # the hot path: one node
    else:
        loss = _weighted("cross_entropy", softmax_cross_entropy(logits, t), sw, reduction, shape)
    if label_smoothing == 0.0:
        return loss
    return E.add(
        E.mul(loss, 1.0 - label_smoothing),
        E.mul(_smoothing_term(logits, w, valid, sw, reduction, shape), label_smoothing / c),
    )


def _smoothing_term(logits, w, valid, sw, reduction, shape) -> Tensor:
    """$-\\sum_c w_c \\log p_c$ per counted element; 'mean' divides as the NLL term does."""
    logp = log_softmax(logits, axis=1)
    lw = logp if w is None else E.mul(logp, _wrap(w))
    smooth = E.neg(_sum(lw, axis=1))
    if valid is not None:
        smooth = E.mul(smooth, _wrap(valid.astype(logits._data.dtype)))
    return _reduce(smooth, sw, reduction, shape)


def _prob_cross_entropy(input, logits, target, w, reduction, eps, shape) -> Tensor:
    target = as_tensor(target, like=input)
    if target.shape != input.shape:
        index_shape = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
        if target.shape == index_shape:  # meant as class indices, but stored as floats
            raise TypeError(
                f"cross_entropy: class-index targets must be integers, got dtype "
                f"{target.dtype} with shape {target.shape} (convert with .long()); float "
                f"targets are class probabilities of the input's shape {input.shape}"
            )
        raise ValueError(
            f"cross_entropy: float targets are class probabilities and must have the input's "
            f"shape {input.shape}, got {target.shape} (class indices must be integers)"
        )
    p, _ = _flat_classes(cast(target, input.dtype))
    c = logits.shape[1]
    if eps > 0:
        p = E.add(E.mul(p, 1.0 - eps), eps / c)
    terms = E.mul(log_softmax(logits, axis=1), p)
    if w is not None:
        terms = E.mul(terms, _wrap(w))
    per = E.neg(_sum(terms, axis=1))
    return reshape(per, shape) if reduction == "none" else reduce(per, reduction)


def multi_margin_loss(
    input: Tensor, target, p: int = 1, margin: float = 1.0, weight=None, reduction: str = "mean"
) -> Tensor:
    """$\\ell_n = \\frac{1}{C} \\sum_{i \\ne y} w_y \\max(0, m - x_y + x_i)^p$: the multi-class
    hinge loss of Crammer & Singer 2001 (Weston & Watkins form), p in {1, 2}."""
    check_reduction("multi_margin_loss", reduction)
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p = 1 and p = 2 are supported, got {p}")
    if input.ndim not in (1, 2):
        raise ValueError(f"multi_margin_loss: expected input (N, C) or (C,), got {input.shape}")
    check_float("multi_margin_loss", "input", input)
    x, shape = _flat_classes(input)
    t, _ = _class_targets("multi_margin_loss", input.shape, target, ignore_index=-(2**62))
    c = x.shape[1]
    w = _class_weight("multi_margin_loss", weight, c, input)
    xy = gather(x, 1, t[:, None])
    z = E.relu(E.add(E.sub(x, xy), margin))
    if p == 2:
        z = E.mul(z, z)
    others = np.ones(x.shape, dtype=x.dtype)
    others[np.arange(t.shape[0]), t] = 0
    if w is not None:
        others *= w[t][:, None]
    per = E.mul(_sum(E.mul(z, _wrap(others)), axis=1), 1.0 / c)
    return reshape(per, shape) if reduction == "none" else reduce(per, reduction)
