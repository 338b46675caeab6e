"""`Optimizer`: parameter groups, per-parameter state, `zero_grad`, `step`, state dicts.

Every optimizer updates `p.data` in place from `p.grad.data`:

    theta_{t+1} = theta_t - lr * direction(g_t, state_t)

The layout follows `torch.optim.Optimizer`: `param_groups` is a list of dicts
(each with its own `params` and hyperparameters, missing ones filled from
`defaults`), `state` maps a parameter to its dict of buffers, and
`state_dict()` refers to parameters by their position across the groups.
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..core.state import enable_grad, host_call
from ..core.tensor import Tensor
from ..nn.sparse_grad import clear_rows

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def check_lr(owner: str, lr: Any) -> None:
    """Raise ValueError unless `lr` is a finite number >= 0."""
    if not _is_number(lr) or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"{owner}: lr must be a finite number >= 0, got lr={lr!r}")


def check_range(owner: str, name: str, value: Any, low: float, high: float, closed_high=False):
    """Raise ValueError unless low <= value < high (or <= high when `closed_high`)."""
    ok = _is_number(value) and math.isfinite(value) and low <= value
    ok = ok and (value <= high if closed_high else value < high)
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(
            f"{owner}: {name} must be in [{low}, {high}{bracket}, got {name}={value!r}"
        )


def check_nonneg(owner: str, name: str, value: Any) -> None:
    """Raise ValueError unless `value` is a finite number >= 0."""
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner}: {name} must be a finite number >= 0, got {name}={value!r}")


def check_choice(owner: str, name: str, value: Any, options: tuple) -> None:
    """Raise ValueError unless `value` is one of `options` ("must be A, B or C, got ...")."""
    if value not in options:
        names = [repr(o) for o in options]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        raise ValueError(f"{owner}: {name} must be {listed}, got {value!r}")


def check_betas(owner: str, betas: Any) -> None:
    """Raise ValueError unless `betas` is a pair with each entry in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got betas={betas!r}")
    for i, b in enumerate(betas):
        check_range(owner, f"betas[{i}]", b, 0.0, 1.0)


def check_adam_group(owner: str, group: dict[str, Any], *extra: str) -> None:
    """The checks every Adam-family group shares: `betas` in [0, 1), and `eps`,
    `weight_decay` (and each name in `extra`) finite and >= 0."""
    check_betas(owner, group["betas"])
    for name in ("eps", "weight_decay", *extra):
        check_nonneg(owner, name, group[name])


def _copy_state(value: Any) -> Any:
    """A deep copy of optimizer state (ndarrays copied, numbers and lists rebuilt)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, Tensor):
        return value._data.copy()
    if isinstance(value, dict):
        return {k: _copy_state(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_state(v) for v in value)
    return copy.deepcopy(value)


class Optimizer(ABC):
    """Base class: holds parameter groups and state; subclasses implement `step`.

    theta <- update(theta, grad, state, group) for each parameter of each group
    (the API of PyTorch's torch.optim.Optimizer).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # a step is a host call: deepgrad.compile replays it on the step's gradients
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = host_call(cls.step)

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Tensor, np.ndarray)):
            raise TypeError(
                f"{self._name}: params must be an iterable of Tensors or dicts, "
                f"but got a single {type(params).__name__}; wrap it in a list"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)
        self._scratch: dict[tuple, np.ndarray] = {}

    @property
    def _name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"

    # -- groups -------------------------------------------------------------
    def _validate_group(self, group: dict[str, Any]) -> None:
        """Check a group's hyperparameters (subclasses extend this)."""
        if "lr" in group:
            check_lr(self._name, group["lr"])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (missing ones from defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a param group must be a dict, got {param_group!r}")
        params = param_group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{self._name}: params must be an ordered iterable, not a set")
        params = list(params) if params is not None else []
        if not params:
            raise ValueError(f"{self._name}: got an empty parameter list")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{self._name}: parameter {i} must be a deepgrad Tensor, got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{self._name}: can't optimize a non-leaf Tensor (parameter {i}, shape "
                    f"{p.shape}, made by '{p._prim.name}'); optimize the leaf it came from"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{self._name}: parameter {i} (shape {p.shape}) appears more than once "
                    "(within or across parameter groups)"
                )
            seen.add(id(p))
        group = {"params": params}
        for key, value in self.defaults.items():
            group[key] = param_group.get(key, value)
        for key, value in param_group.items():
            if key != "params":
                group[key] = value
        self._validate_group(group)
        self.param_groups.append(group)

    # -- gradients and steps -------------------------------------------------
    @host_call
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                clear_rows(p)  # a sparse gradient's rows go with it
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def _closure_loss(self, closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with enable_grad():
            return closure()

    @abstractmethod
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one update; `closure` re-evaluates the loss (needed by some optimizers)."""

    def _tmp(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """A scratch array shaped like `like`, reused across steps (no per-step allocation)."""
        column_major = like.flags.f_contiguous and not like.flags.c_contiguous
        key = (like.shape, like.dtype, column_major, slot)  # same layout: no strided passes
        buf = self._scratch.get(key)
        if buf is None:
            buf = self._scratch[key] = np.empty_like(like)
        return buf

    # -- state dicts -----------------------------------------------------------
    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """{"state": {index: {name: ndarray | number}}, "param_groups": [{..., "params": [index]}]}.

        Arrays are copies, so the result is a snapshot that later steps do not change.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups = []
        for g in self.param_groups:
            packed = {k: _copy_state(v) for k, v in g.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)]: _copy_state(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a `state_dict()`: group count and sizes must match; arrays are copied."""
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or "state" not in state_dict:
            raise ValueError(f"{self._name}.load_state_dict: expected keys 'state', 'param_groups'")
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{self._name}.load_state_dict: the state dict has {len(groups)} parameter "
                f"groups but the optimizer has {len(self.param_groups)}"
            )
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{self._name}.load_state_dict: group {i} has {len(saved['params'])} "
                    f"parameters in the state dict but {len(own['params'])} in the optimizer"
                )
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            by_index.update(zip(saved["params"], own["params"]))
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, value in state_dict["state"].items():
            idx = int(key)
            if idx not in by_index:
                raise ValueError(f"{self._name}.load_state_dict: unknown parameter index {idx}")
            p = by_index[idx]
            new_state[p] = {k: self._cast_state(k, v, p) for k, v in value.items()}
        self.state = new_state
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = tuple(v) if isinstance(own.get(k), tuple) else _copy_state(v)

    @staticmethod
    def _cast_state(name: str, value: Any, p: Tensor) -> Any:
        """Copy a loaded state entry; float arrays shaped like `p` take `p`'s dtype and
        memory layout (so the update passes never mix row- and column-major arrays)."""
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(k, v, p) for k, v in value.items()}
        if isinstance(value, list):
            return [Optimizer._cast_state(name, v, p) for v in value]
        if isinstance(value, Tensor):
            value = value._data
        if isinstance(value, np.ndarray):
            if value.dtype.kind == "f" and value.shape == p._data.shape:
                arr = np.empty_like(p._data)
                arr[...] = value
                return arr
            return np.array(value, copy=True)
        return copy.deepcopy(value)
