"""`functional_call`: run a module with some parameters or buffers swapped for given tensors.

This is how a loss becomes a function of the parameters themselves (for `dg.grad`,
`hessian`, gradient checks), as `torch.func.functional_call`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.tensor import Tensor
from ..module import Module


def functional_call(
    module: Module,
    tensors: Mapping[str, Tensor],
    args: Any = (),
    kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """`module(*args, **kwargs)` with the named parameters / buffers replaced by `tensors`
    for the duration of the call (restored afterwards, even on error)."""
    if not isinstance(args, tuple):
        args = (args,)
    saved = []
    try:
        for name, value in tensors.items():
            owner_path, _, attr = name.rpartition(".")
            owner = module.get_submodule(owner_path)
            if attr in owner._parameters:
                reg = owner._parameters
            elif attr in owner._buffers:
                reg = owner._buffers
            else:
                raise KeyError(
                    f"functional_call: {name!r} is not a parameter or buffer of "
                    f"{type(module).__name__}"
                )
            saved.append((owner, reg, attr, reg[attr]))
            reg[attr] = value
            owner.__dict__[attr] = value
        return module(*args, **(kwargs or {}))
    finally:
        for owner, reg, attr, old in reversed(saved):
            reg[attr] = old
            owner.__dict__[attr] = old
