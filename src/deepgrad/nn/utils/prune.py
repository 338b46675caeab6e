"""`nn.utils.prune` basics: unstructured magnitude and random pruning, made permanent by
`remove` (PyTorch's mechanism: `name_orig` parameter, `name_mask` buffer, and
`name = name_orig * name_mask` recomputed by a forward pre-hook).

Pruning again prunes `amount` of the weights still unpruned (PyTorch's
PruningContainer semantics); amount is a fraction in [0, 1] or a count.
"""

from __future__ import annotations

import numpy as np

from ...core.random import _gen
from ...core.tensor import Tensor
from ...ops import elementwise as E
from ..module import Module, Parameter

__all__ = ["identity", "is_pruned", "l1_unstructured", "random_unstructured", "remove"]


def _count(amount: float, n: int, fn: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: amount must be a float in [0, 1] or an int, got {amount!r}")
    if isinstance(amount, (int, np.integer)):
        if not 0 <= amount <= n:
            raise ValueError(f"{fn}: amount={amount} must be between 0 and the {n} weights left")
        return int(amount)
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"{fn}: amount={amount} must be a fraction in [0, 1]")
    return round(amount * n)


def _apply(module: Module, name: str, fn: str, amount, choose) -> Module:
    """Shared mechanics: combine the new mask with any earlier one, then wire the hook."""
    pruned = name + "_orig" in module._parameters
    if pruned:
        orig, old = module._parameters[name + "_orig"], module._buffers[name + "_mask"]._data
    else:
        orig = module._parameters.get(name)
        if orig is None:
            raise ValueError(f"{fn}: {type(module).__name__} has no parameter {name!r}")
        old = np.ones(orig.shape, dtype=orig._data.dtype)
    alive = np.flatnonzero(old.reshape(-1))
    k = _count(amount, alive.size, fn)
    mask = old.copy().reshape(-1)
    if k:
        mask[alive[choose(orig._data.reshape(-1)[alive], k)]] = 0
    mask = mask.reshape(orig.shape)
    if not pruned:
        delattr(module, name)
        module.register_parameter(name + "_orig", orig)
        module.register_buffer(name + "_mask", mask)
        hooks = module.__dict__.setdefault("_prune_hooks", {})
        hooks[name] = module.register_forward_pre_hook(lambda m, inputs: _recompute(m, name))
    else:
        module._buffers[name + "_mask"]._data[...] = mask
    _recompute(module, name)
    return module


def _recompute(module: Module, name: str) -> None:
    orig, mask = module._parameters[name + "_orig"], module._buffers[name + "_mask"]
    module.__dict__[name] = E.mul(orig, mask)


def l1_unstructured(module: Module, name: str, amount, importance_scores=None) -> Module:
    """Zero the `amount` weights of smallest |w| (or smallest `importance_scores`)."""
    scores = None if importance_scores is None else np.abs(np.asarray(
        importance_scores._data if isinstance(importance_scores, Tensor) else importance_scores
    )).reshape(-1)  # fmt: skip

    def choose(values: np.ndarray, k: int) -> np.ndarray:
        s = np.abs(values) if scores is None else scores[: values.size]
        return np.argsort(s, kind="stable")[:k]

    return _apply(module, name, "l1_unstructured", amount, choose)


def random_unstructured(
    module: Module, name: str, amount, generator: np.random.Generator | None = None
) -> Module:
    """Zero `amount` weights chosen uniformly at random (`generator=` for reproducibility)."""
    rng = _gen(generator)
    pick = lambda v, k: rng.permutation(v.size)[:k]
    return _apply(module, name, "random_unstructured", amount, pick)


def identity(module: Module, name: str) -> Module:
    """Set up the pruning machinery with an all-ones mask (prunes nothing)."""
    return _apply(module, name, "identity", 0, lambda v, k: np.arange(0))


def is_pruned(module: Module) -> bool:
    """Whether any submodule carries a pruning mask."""
    return any(m.__dict__.get("_prune_hooks") for _, m in module.named_modules())


def remove(module: Module, name: str) -> Module:
    """Make the pruning permanent: `name` becomes a Parameter holding orig * mask."""
    hooks = module.__dict__.get("_prune_hooks", {})
    if name not in hooks:
        raise ValueError(f"remove: parameter {name!r} of {type(module).__name__} is not pruned")
    hooks.pop(name).remove()
    orig, mask = module._parameters[name + "_orig"], module._buffers[name + "_mask"]
    value = Parameter(orig._data * mask._data)
    delattr(module, name + "_orig")
    delattr(module, name + "_mask")
    module.__dict__.pop(name, None)
    module.register_parameter(name, value)
    return module
