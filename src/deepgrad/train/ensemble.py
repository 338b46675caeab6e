"""Ensembles: average several models' predictions; bagging trains them on bootstrap samples.

Averaging K models with independent errors divides the variance part of the
error by up to K; bagging (Breiman 1996) makes the errors less correlated by
training each member on its own bootstrap sample of the training set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad.nn import Module, ModuleList
from deepgrad.ops import mean, softmax, stack

COMBINE = ("softmax", "mean")


class Ensemble(Module):
    """Mean of the members' outputs: p(y|x) = (1/K) sum_k softmax(f_k(x)) for classifiers
    (`combine="softmax"`), or (1/K) sum_k f_k(x) for raw outputs (`combine="mean"`).

    An `nn.Module`: `eval()`/`train()` reach every member, `state_dict()` holds them all.
    """

    def __init__(self, models: Sequence[Module], combine: str = "softmax") -> None:
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("Ensemble: needs at least one model")
        if combine not in COMBINE:
            raise ValueError(f"Ensemble: combine must be one of {COMBINE}, got {combine!r}")
        self.members = ModuleList(models)
        self.combine = combine
        self.bootstrap_indices: list[np.ndarray] = []

    def forward(self, x: Any) -> Any:
        outputs = [member(x) for member in self.members]
        if self.combine == "softmax":
            outputs = [softmax(o, axis=-1) for o in outputs]
        return mean(stack(outputs, axis=0), axis=0)

    def __len__(self) -> int:
        return len(self.members)

    def oob_mask(self, k: int, n: int) -> np.ndarray:
        """Samples member `k` never saw in its bootstrap sample (out-of-bag), as a mask."""
        mask = np.ones(n, dtype=bool)
        mask[self.bootstrap_indices[k]] = False
        return mask

    def extra_repr(self) -> str:
        return f"{len(self.members)} members, combine={self.combine!r}"


def _call_build(build_fn: Callable[..., Module], index: int) -> Module:
    """`build_fn(index)` when it takes an argument, else `build_fn()`."""
    try:
        takes_arg = len(inspect.signature(build_fn).parameters) > 0
    except (TypeError, ValueError):
        takes_arg = False
    return build_fn(index) if takes_arg else build_fn()


def bagging(
    build_fn: Callable[..., Module],
    X: Any,
    y: Any,
    n_models: int = 5,
    seed: int = 0,
    train_fn: Callable[[Module, Any, Any], Any] | None = None,
    combine: str = "softmax",
) -> Ensemble:
    """Bootstrap aggregating (Breiman 1996): K models, each trained on n draws with replacement.

    `build_fn()` (or `build_fn(k)`) makes a fresh model; `train_fn(model, X_k, y_k)`
    trains it on the k-th bootstrap sample.  The sample indices are kept in
    `ensemble.bootstrap_indices` (out-of-bag masks via `oob_mask`).
    """
    if n_models <= 0:
        raise ValueError(f"bagging: n_models must be positive, got {n_models}")
    if train_fn is None:
        raise ValueError("bagging: pass train_fn(model, X, y) to train each member")
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"bagging: X has {len(X)} samples but y has {len(y)}")
    rng = np.random.default_rng(seed)
    models, indices = [], []
    for k in range(n_models):
        index = rng.integers(0, len(X), size=len(X))
        model = _call_build(build_fn, k)
        train_fn(model, X[index], y[index])
        models.append(model)
        indices.append(index)
    ensemble = Ensemble(models, combine)
    ensemble.bootstrap_indices = indices
    return ensemble
