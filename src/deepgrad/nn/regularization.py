"""Weight penalties added to a loss: $\\lambda_1 \\sum |w|$ (lasso; Tibshirani 1996) and
$\\lambda_2 \\sum w^2$ (ridge / weight decay; Krogh & Hertz 1992).

By default only weights are penalised: biases (any 1-D parameter) and the parameters of
normalisation layers are left out, since shrinking them only limits the function class
without reducing capacity where it matters.  `include=` / `exclude=` take fnmatch patterns
on the dotted parameter names (`"classifier.*"`, `"*.bias"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatch

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor, _wrap
from ..ops import elementwise as E
from ..ops.reduce import sum as _sum
from .module import Module, Parameter

__all__ = ["l1_penalty", "l2_penalty", "penalized_parameters"]


def _norm_layer_types() -> tuple[type, ...]:
    from .normalization import GroupNorm, LayerNorm, _NormBase

    return (_NormBase, LayerNorm, GroupNorm)


def _patterns(p: str | Sequence[str] | None) -> list[str] | None:
    return None if p is None else [p] if isinstance(p, str) else list(p)


def penalized_parameters(
    model: Module,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> list[tuple[str, Parameter]]:
    """(name, parameter) pairs a penalty applies to.

    Without `include`: every trainable parameter with at least 2 dims that does not belong
    to a normalisation layer.  With `include`: exactly the names matching one of its
    patterns (the default rule is replaced).  `exclude` patterns are then removed.
    """
    inc, exc = _patterns(include), _patterns(exclude)
    norm_types = _norm_layer_types()
    in_norm: set[int] = set()
    for mod in model.modules():
        if isinstance(mod, norm_types):
            in_norm.update(id(p) for p in mod.parameters(recurse=False))
    out = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if inc is None:
            keep = p.ndim >= 2 and id(p) not in in_norm
        else:
            keep = any(fnmatch(name, pat) for pat in inc)
        if keep and exc is not None and any(fnmatch(name, pat) for pat in exc):
            keep = False
        if keep:
            out.append((name, p))
    return out


def _total(terms: list[Tensor]) -> Tensor:
    if not terms:
        return _wrap(np.zeros((), STATE.default_float))
    total = terms[0]
    for t in terms[1:]:
        total = E.add(total, t)
    return total


def l1_penalty(
    model: Module,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> Tensor:
    """$\\sum_w |w|$ over the selected parameters (differentiable; multiply by lambda)."""
    params = penalized_parameters(model, include, exclude)
    return _total([_sum(E.abs(p)) for _, p in params])


def l2_penalty(
    model: Module,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
) -> Tensor:
    """$\\sum_w w^2$ over the selected parameters (no 1/2: gradient 2w; multiply by lambda)."""
    params = penalized_parameters(model, include, exclude)
    return _total([_sum(E.mul(p, p)) for _, p in params])
