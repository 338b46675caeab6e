"""`Parameter` and `Module`: the tree of layers, its parameters, buffers and hooks.

A `Module` registers what is assigned to it: a `Parameter` becomes a parameter,
a `Module` a child, and `register_buffer` adds non-trained state (running
statistics).  Everything else (the tree walk, `state_dict`, `train`/`eval`,
dtype casts) is derived from those three ordered dicts, as in PyTorch.

Registered values are also kept in the instance `__dict__`, so `self.weight`
in a forward pass is a plain attribute read (PyTorch pays a `__getattr__`).
"""

from __future__ import annotations

import copy
import itertools
import weakref
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..core.state import host_call
from ..core.tensor import Tensor
from .sparse_grad import clear_rows

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a `Module` registers as trainable (`requires_grad=True` by default).

    >>> import deepgrad as dg
    >>> p = dg.nn.Parameter(dg.zeros(2))
    >>> p.requires_grad
    True
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(np.zeros(0, np.float32) if data is None else data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class RemovableHandle:
    """Returned by `register_*_hook`; `.remove()` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = next(RemovableHandle._ids)

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _fmt_count(n: int) -> str:
    return f"{n:,} param" + ("" if n == 1 else "s")


class Module:
    """Base class of every layer: holds parameters, buffers and child modules.

    Subclasses call `super().__init__()` first, assign parameters and children
    as attributes and define `forward`; calling the module runs the forward
    pre-hooks, `forward` and the forward hooks.
    """

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_parent"] = None  # weakref to the module this one was last registered in
        d["_name"] = ""

    # -- registration -------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() is called "
                f"(call super().__init__() first in {type(self).__name__}.__init__)"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            d["_parameters"][name] = value
        elif isinstance(value, Module):
            self._forget(name)
            d["_modules"][name] = value
            value._adopt(self, name)
        elif name in d["_parameters"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is required)"
                )
            d["_parameters"][name] = None
        elif name in d["_modules"] and value is None:
            d["_modules"][name] = None
        elif name in d["_buffers"]:
            d["_buffers"][name] = _as_buffer(name, value)
            value = d["_buffers"][name]
        d[name] = value

    def __delattr__(self, name: str) -> None:
        self._forget(name)
        object.__delattr__(self, name)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        for reg in (d["_parameters"], d["_buffers"], d["_modules"]):
            reg.pop(name, None)
        d["_non_persistent"].discard(name)

    def _adopt(self, parent: Module, name: str) -> None:
        self.__dict__["_parent"] = weakref.ref(parent)
        self.__dict__["_name"] = name

    def __deepcopy__(self, memo: dict) -> Module:
        # The parent link is a weakref, which deepcopy would share with the original:
        # copy everything else, then let the copied children adopt their new parent.
        new = object.__new__(type(self))
        memo[id(self)] = new
        state = {k: v for k, v in self.__dict__.items() if k != "_parent"}
        new.__dict__.update(copy.deepcopy(state, memo))
        new.__dict__["_parent"] = None
        for name, child in new._modules.items():
            if child is not None:
                child._adopt(new, name)
        return new

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add non-trained state (e.g. running statistics), saved in `state_dict` if persistent."""
        if "." in name or not name:
            raise KeyError(f"register_buffer: invalid buffer name {name!r}")
        if name in self.__dict__ and name not in self._buffers:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._forget(name)
        buf = _as_buffer(name, tensor)
        self._buffers[name] = buf
        if not persistent:
            self._non_persistent.add(name)
        self.__dict__[name] = buf

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None, a declared-but-absent one such as `bias=False`)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None")
        self._forget(name)
        self._parameters[name] = param
        self.__dict__[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under `name` (what attribute assignment does)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        if "." in name or not name:
            raise KeyError(f"add_module: invalid module name {name!r}")
        self._forget(name)
        self._modules[name] = module
        self.__dict__[name] = module
        if module is not None:
            module._adopt(self, name)

    register_module = add_module

    # -- calling ---------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict) -> Any:
        for hook in list(self._forward_pre_hooks.values()):
            new = hook(self, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            new = hook(self, args, out)
            if new is not None:
                out = new
        return out

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, inputs, output)` runs after forward; a non-None return replaces output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """`hook(module, inputs)` runs before forward; a non-None return replaces the inputs."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    # -- where am I --------------------------------------------------------------------
    @property
    def path(self) -> str:
        """Dotted name of this module in the tree it was last registered in ('' for a root)."""
        parts, m = [], self
        seen: set[int] = set()
        while m._parent is not None and id(m) not in seen:
            seen.add(id(m))
            parent = m._parent()
            if parent is None or parent._modules.get(m._name) is not m:
                break
            parts.append(m._name)
            m = parent
        return ".".join(reversed(parts))

    def describe(self) -> str:
        """Short label for error messages, e.g. "classifier.2 (Linear 256 -> 10)"."""
        kind = type(self).__name__ + (f" {self._short_repr()}" if self._short_repr() else "")
        path = self.path
        return f"{path} ({kind})" if path else kind

    def _short_repr(self) -> str:
        return ""

    def input_error(self, expects: str, got: tuple[int, ...]) -> ValueError:
        """A ValueError saying where this module is, what input it expects and what it got."""
        return ValueError(f"{self.describe()} expects input {expects}, got {tuple(got)}")

    # -- the tree ----------------------------------------------------------------------
    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from child.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, attr: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen: set[int] = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, mod in mods:
            for name, value in getattr(mod, attr).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ('features.0.weight', ...); shared ones once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path `target` ('' is this module)."""
        mod = self
        for part in target.split(".") if target else []:
            child = mod._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r} ({target})")
            mod = child
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path `target`, e.g. 'features.0.weight'."""
        path, _, name = target.rpartition(".")
        param = self.get_submodule(path)._parameters.get(name)
        if param is None:
            raise AttributeError(f"{type(self).__name__} has no parameter {target!r}")
        return param

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every child (recursively) and then on this module; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and gradients --------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on the whole tree."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")  # noqa: TRY004 - as PyTorch
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze every parameter."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @host_call  # deepgrad.compile replays it
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (to None, or to zeros in place)."""
        for p in self.parameters():
            clear_rows(p)  # a sparse gradient's rows go with it
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad._data[...] = 0

    def num_parameters(self, trainable_only: bool = False) -> int:
        """Total number of scalar parameters (shared ones counted once)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    # -- dtype ------------------------------------------------------------------------------
    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Cast every floating-point parameter, gradient and buffer to a float dtype, in place.

        PyTorch's forms: `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(tensor)`; the
        device may only be the CPU (anything else is refused in one line).
        """
        from ..ops.tensor_methods import _parse_to

        dt = _parse_to(args, dict(kwargs))
        if dt is None:
            return self
        if dt.kind != "f":
            raise TypeError(f"Module.to: expected a float dtype, got {dt}")
        for t in itertools.chain(self.parameters(), self.buffers()):
            if t._data.dtype.kind == "f":
                t._data = t._data.astype(dt)
                if t.grad is not None:
                    t.grad._data = t.grad._data.astype(dt)
        return self

    def cpu(self) -> Module:
        """The module itself: deepgrad runs on the CPU only."""
        return self

    def cuda(self, device: Any = None) -> Module:
        """Refused in one line: deepgrad runs on the CPU only."""
        from ..ops.devices import refuse_cuda

        refuse_cuda(f"{type(self).__name__}.cuda")

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(np.float32)

    # -- state -------------------------------------------------------------------------------
    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        out: OrderedDict[str, Tensor] = OrderedDict()
        for prefix, mod in self.named_modules():
            items = list(mod._parameters.items()) + [
                (k, v) for k, v in mod._buffers.items() if k not in mod._non_persistent
            ]
            for name, t in items:
                if t is not None:
                    out[f"{prefix}.{name}" if prefix else name] = t
        return out

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Ordered name -> ndarray copy of every parameter and persistent buffer."""
        return OrderedDict((k, t._data.copy()) for k, t in self._state_tensors().items())

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into parameters and buffers by name, all-or-nothing.

        Missing and unexpected keys (when `strict`) and shape mismatches (always)
        are all reported in one error, by name, before anything is changed.
        """
        own = self._state_tensors()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        for k, t in own.items():
            if k in state_dict:
                shape = np.shape(_array_of(state_dict[k]))
                if shape != t._data.shape:
                    problems.append(f"{k}: checkpoint shape {shape}, model shape {t._data.shape}")
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems:
            raise RuntimeError(
                f"load_state_dict: cannot load into {type(self).__name__} (nothing was "
                "changed):\n  " + "\n  ".join(problems)
            )
        for k, t in own.items():
            if k in state_dict:
                t._data[...] = _array_of(state_dict[k])
        return IncompatibleKeys(missing, unexpected)

    # -- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in `repr` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        return self._repr_lines()

    def _repr_lines(self) -> str:
        n = self.num_parameters()
        count = f"  # {_fmt_count(n)}" if n else ""
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return f"{head}){count}"
        lines = [head + count]
        for name, child in self._modules.items():
            body = repr(child) if child is None else child._repr_lines()
            body = body.replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def _array_of(value: Any) -> np.ndarray:
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def _as_buffer(name: str, value: Any) -> Tensor | None:
    if value is None:
        return None
    if isinstance(value, Parameter):
        raise TypeError(f"buffer {name!r}: got a Parameter; use register_parameter")
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (np.ndarray, np.generic, int, float, list)):
        return Tensor(np.array(value))
    raise TypeError(
        f"buffer {name!r} must be a Tensor, an ndarray or None, got {type(value).__name__}"
    )
