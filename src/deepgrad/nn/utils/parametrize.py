"""`nn.utils.parametrize`: make a module's tensor a function of other parameters.

`register_parametrization(m, "weight", P())` moves `m.weight` to
`m.parametrizations.weight.original` (or, when `P` has a `right_inverse`
returning a tuple, to `original0`, `original1`, ...) and makes `m.weight` a
property that computes `P(original)` at each access, so gradients flow to the
originals (PyTorch's design, Lezcano-Casado 2019).  The module's class is
swapped for a per-instance subclass holding that property, as PyTorch does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.state import no_grad
from ...core.tensor import Tensor
from ..container import ModuleDict, ModuleList
from ..module import Module, Parameter

__all__ = [
    "ParametrizationList", "is_parametrized", "register_parametrization",
    "remove_parametrizations",
]  # fmt: skip


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order to `original` (or originals)."""

    def __init__(self, modules: list[Module], original: Parameter, unsafe: bool = False) -> None:
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        if hasattr(first, "right_inverse"):
            with no_grad():
                new = first.right_inverse(original)
        else:
            new = original
        if isinstance(new, tuple):
            self.ntensors = len(new)
            for i, t in enumerate(new):
                data = t._data if isinstance(t, Tensor) else np.asarray(t)
                self.register_parameter(f"original{i}", Parameter(np.array(data, copy=True)))
        else:
            self.ntensors = 1
            same = new is original
            self.original = original if same else Parameter(np.array(new._data, copy=True))

    def forward(self) -> Tensor:
        if self.ntensors == 1:
            x = self[0](self.original)
        else:
            x = self[0](*[getattr(self, f"original{i}") for i in range(self.ntensors)])
        for module in list(self)[1:]:
            x = module(x)
        return x

    def right_inverse(self, value: Any) -> None:
        """Set the originals so that the parametrized tensor equals `value`."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                elif module is not self[0]:
                    raise RuntimeError(
                        f"parametrize: {type(module).__name__} has no right_inverse; "
                        "the parametrized tensor cannot be assigned"
                    )
            values = value if isinstance(value, tuple) else (value,)
            names = [f"original{i}" for i in range(self.ntensors)]
            if self.ntensors == 1:
                names = ["original"]
            for name, v in zip(names, values):
                getattr(self, name)._data[...] = v._data if isinstance(v, Tensor) else v


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether `module` (or its tensor `tensor_name`) has a parametrization."""
    plist = module.__dict__.get("_modules", {}).get("parametrizations")
    if plist is None:
        return False
    return tensor_name is None or tensor_name in plist


def _parametrized_setattr(self: Module, name: str, value: Any) -> None:
    if is_parametrized(self, name):
        self.parametrizations[name].right_inverse(value)
        return
    Module.__setattr__(self, name, value)


def _inject_class(module: Module) -> None:
    cls = module.__class__
    new = type(f"Parametrized{cls.__name__}", (cls,), {"__setattr__": _parametrized_setattr})
    new.__module__ = cls.__module__
    new.__qualname__ = f"Parametrized{cls.__qualname__}"
    object.__setattr__(module, "__class__", new)  # Module.__setattr__ would store an attribute
    module.__dict__["_original_class"] = cls


def _getter(name: str):
    def get(self: Module) -> Tensor:
        return self.parametrizations[name]()

    return get


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make `module.<tensor_name>` be computed as `parametrization(original)` (appended to
    any parametrizations already registered for that tensor)."""
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"register_parametrization: parametrization must be a Module, got "
            f"{type(parametrization).__name__}"
        )
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    original = module._parameters.get(tensor_name)
    if original is None:
        raise ValueError(
            f"register_parametrization: {type(module).__name__} has no parameter "
            f"{tensor_name!r} to parametrize"
        )
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        Module.__setattr__(module, "parametrizations", ModuleDict())
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, property(_getter(tensor_name)))
    return module


def remove_parametrizations(
    module: Module, tensor_name: str, leave_parametrized: bool = True
) -> Module:
    """Undo `register_parametrization`: the tensor becomes a plain Parameter again, holding
    the parametrized value (`leave_parametrized`) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"remove_parametrizations: {tensor_name!r} is not parametrized")
    plist = module.parametrizations[tensor_name]
    with no_grad():
        if leave_parametrized:
            value = Parameter(np.array(getattr(module, tensor_name)._data, copy=True))
        elif plist.ntensors == 1:
            value = plist.original
        else:
            raise ValueError(
                "remove_parametrizations: leave_parametrized=False needs a single original tensor"
            )
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    if not len(module.parametrizations):
        delattr(module, "parametrizations")
        object.__setattr__(module, "__class__", module.__dict__.pop("_original_class"))
    Module.__setattr__(module, tensor_name, value)
    return module
