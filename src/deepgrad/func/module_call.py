"""Modules as pure functions: `functional_call` and `stack_module_state` (torch.func).

functional_call(m, params, x) = m(x) with m's parameters and buffers replaced by
`params` for this call only, so d m(x) / d params is an ordinary `grad`, and
`vmap(functional_call...)` over stacked states runs an ensemble in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.tensor import Tensor
from ..nn.module import Module
from ..ops import stack


def _owner(module: Module, name: str) -> tuple[Module, str]:
    *path, leaf = name.split(".")
    m = module
    for p in path:
        child = m._modules.get(p)
        if child is None:
            raise KeyError(
                f"functional_call: {type(module).__name__} has no submodule {p!r} "
                f"(from key {name!r})"
            )
        m = child
    if leaf not in m._parameters and leaf not in m._buffers:
        raise KeyError(
            f"functional_call: {type(module).__name__} has no parameter or buffer {name!r}; "
            f"known: {sorted(k for k, _ in _named_state(module))}"
        )
    return m, leaf


def _named_state(module: Module):
    yield from module.named_parameters()
    yield from module.named_buffers()


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: Mapping[str, Tensor] | Iterable[Mapping[str, Tensor]],
    args: Any = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
) -> Any:
    """Call `module(*args, **kwargs)` with its state replaced by the given tensors.

    Keys are dotted names as in `named_parameters()`; state not named keeps the
    module's own values unless `strict` (then every parameter and buffer must be
    given).  The module is restored afterwards, even on error.  Like
    `torch.func.functional_call` (tie_weights is not supported: tied weights are
    replaced through each of their names).
    """
    if not isinstance(module, Module):
        raise TypeError(
            f"functional_call: module must be an nn.Module, got {type(module).__name__}"
        )
    dicts = (
        [parameter_and_buffer_dicts]
        if isinstance(parameter_and_buffer_dicts, Mapping)
        else list(parameter_and_buffer_dicts)
    )
    merged: dict[str, Tensor] = {}
    for d in dicts:
        dup = set(merged) & set(d)
        if dup:
            raise ValueError(f"functional_call: keys {sorted(dup)} appear in more than one dict")
        merged.update(d)
    if strict:
        missing = [k for k, _ in _named_state(module) if k not in merged]
        if missing:
            raise KeyError(f"functional_call(strict=True): missing keys {missing}")
    targets = [(_owner(module, k), v) for k, v in merged.items()]
    for (m, leaf), v in targets:
        if not isinstance(v, Tensor):
            raise TypeError(
                f"functional_call: value for {leaf!r} must be a Tensor, got {type(v).__name__}"
            )
    saved = [(m, leaf, m.__dict__[leaf]) for (m, leaf), _ in targets]
    try:
        for (m, leaf), v in targets:
            m.__dict__[leaf] = v  # forward passes read attributes from __dict__
        args = args if isinstance(args, tuple) else (args,)
        return module(*args, **(kwargs or {}))
    finally:
        for m, leaf, old in saved:
            m.__dict__[leaf] = old


def stack_module_state(models: Iterable[Module]) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Stack the parameters and buffers of same-shaped models along a new axis 0.

    Returns (params, buffers) as `torch.func.stack_module_state`: the stacked
    parameters are new leaves that require grad; pass them to `vmap` over
    `functional_call` to run the ensemble in one call.
    """
    models = list(models)
    if not models:
        raise ValueError("stack_module_state: expected at least one model")
    names = [k for k, _ in models[0].named_parameters()]
    for i, m in enumerate(models[1:], 1):
        other = [k for k, _ in m.named_parameters()]
        if other != names:
            raise ValueError(
                f"stack_module_state: model {i} has parameters {other}, model 0 has {names}"
            )
    params = {}
    for k in names:
        vals = [dict(m.named_parameters())[k] for m in models]
        params[k] = stack([v.detach() for v in vals], 0).detach().requires_grad_(True)
    buffers = {}
    for k, _ in models[0].named_buffers():
        buffers[k] = stack([dict(m.named_buffers())[k].detach() for m in models], 0).detach()
    return params, buffers
