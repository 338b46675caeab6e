"""More torch.nn layers: Bilinear, RMSNorm, LocalResponseNorm, ChannelShuffle, the 1-d and
3-d padding layers, and the ParameterList / ParameterDict containers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.linalg import einsum
from ..ops.reduce import mean
from ..ops.shape import pad as _pad
from ..ops.shape import reshape, swapaxes
from . import init
from .linear import _float
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, exempt_from_cases, layer_cases, layer_errors
from .resize import _PadNd

__all__ = [
    "Bilinear", "ChannelShuffle", "CircularPad1d", "CircularPad3d", "ConstantPad1d",
    "ConstantPad3d", "LocalResponseNorm", "ParameterDict", "ParameterList", "RMSNorm",
    "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad3d", "ZeroPad1d", "ZeroPad3d",
]  # fmt: skip


def _ones(*shape) -> Tensor:
    return Tensor(np.ones(shape))


@layer_cases(LayerCase(lambda: Bilinear(3, 2, 4), [(5, 3), (5, 2)]))
@layer_errors(
    ErrorCase(
        lambda: Bilinear(3, 2, 4)(_ones(5, 3), _ones(5, 3)),
        ValueError,
        r"Bilinear.* expects input .*\(\*, 2\).*got \(5, 3\)",
    )
)
class Bilinear(Module):
    """$y = x_1^T A x_2 + b$, A of shape (out, in1, in2); init U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        dt = _float(dtype)
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dt))
        else:
            self.register_parameter("bias", None)
        bound = 1 / math.sqrt(in1_features) if in1_features else 0.0
        init.uniform_(self.weight, -bound, bound, generator=generator)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        if x1.shape[-1:] != (self.in1_features,):
            raise self.input_error(f"x1 (*, {self.in1_features})", x1.shape)
        if x2.shape[-1:] != (self.in2_features,) or x2.shape[:-1] != x1.shape[:-1]:
            raise self.input_error(f"x2 (*, {self.in2_features}) matching x1", x2.shape)
        lead = x1.shape[:-1]
        a = reshape(x1, (-1, self.in1_features))
        b = reshape(x2, (-1, self.in2_features))
        y = einsum("ni,oij,nj->no", a, self.weight, b)
        if self.bias is not None:
            y = E.add(y, self.bias)
        return reshape(y, lead + (self.out_features,))

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


@layer_cases(
    LayerCase(lambda: RMSNorm(4), [(3, 4)]),
    LayerCase(lambda: RMSNorm((2, 3), eps=1e-5, elementwise_affine=False), [(2, 2, 3)]),
)
@layer_errors(
    ErrorCase(lambda: RMSNorm(4)(_ones(3, 5)), ValueError, r"RMSNorm.* expects input .*\(\*, 4\)")
)
class RMSNorm(Module):
    """$y = x / \\sqrt{\\mathrm{mean}(x^2) + \\epsilon} \\cdot w$ over the last
    `normalized_shape` axes (Zhang & Sennrich 2019); eps None is the dtype's machine epsilon."""

    def __init__(
        self,
        normalized_shape,
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype=None,
    ) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, _float(dtype)))
        else:
            self.register_parameter("weight", None)

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape:
            raise self.input_error(f"(*, {', '.join(map(str, self.normalized_shape))})", x.shape)
        eps = np.finfo(x._data.dtype).eps if self.eps is None else self.eps
        ms = mean(E.mul(x, x), axis=tuple(range(x.ndim - k, x.ndim)), keepdims=True)
        y = E.mul(x, E.pow(E.add(ms, float(eps)), -0.5))
        return y if self.weight is None else E.mul(y, self.weight)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


@layer_cases(
    LayerCase(lambda: LocalResponseNorm(3, alpha=0.5, k=2.0), [(2, 5, 3)]),
    LayerCase(lambda: LocalResponseNorm(2), [(1, 4, 2, 2)]),
)
@layer_errors(
    ErrorCase(
        lambda: LocalResponseNorm(2)(_ones(4)), ValueError, r"LocalResponseNorm.* expects input"
    )
)
class LocalResponseNorm(Module):
    """$b_c = a_c (k + \\frac{\\alpha}{n} \\sum_{c' \\in \\mathrm{window}(c)} a_{c'}^2)^{-\\beta}$
    over `size` neighbouring channels (Krizhevsky et al. 2012)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 3:
            raise self.input_error("(N, C, *) with at least 3 dims", x.shape)
        c, n = x.shape[1], self.size
        widths = [(0, 0)] * x.ndim
        widths[1] = (n // 2, (n - 1) // 2)
        sq = _pad(E.mul(x, x), widths)
        window = sq[:, 0:c]
        for offset in range(1, n):
            window = E.add(window, sq[:, offset : offset + c])
        div = E.pow(E.add(E.mul(window, self.alpha / n), self.k), self.beta)
        return E.div(x, div)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


@layer_cases(LayerCase(lambda: ChannelShuffle(2), [(1, 4, 2, 3)]))
@layer_errors(
    ErrorCase(
        lambda: ChannelShuffle(3)(_ones(1, 4, 2)),
        ValueError,
        r"ChannelShuffle.* expects input .*divisible by 3.*\(1, 4, 2\)",
    )
)
class ChannelShuffle(Module):
    """(N, g * c, *) -> (N, c * g, *): channels interleaved across `groups` (Zhang et al. 2018)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: Tensor) -> Tensor:
        g = self.groups
        if x.ndim < 3 or x.shape[1] % g:
            raise self.input_error(f"(N, C, *) with C divisible by {g}", x.shape)
        n, c = x.shape[:2]
        y = reshape(x, (n, g, c // g) + x.shape[2:])
        return reshape(swapaxes(y, 1, 2), x.shape)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def _pad_layer(name: str, mode: str, n: int, doc: str, zero: bool = False):
    sides = {2: "(left, right)", 6: "(left, right, top, bottom, front, back)"}[n]
    shape = {2: [(1, 2, 4)], 6: [(1, 1, 3, 3, 3)]}[n]
    pads = {2: (2, 1), 6: (1, 0, 2, 1, 0, 2)}[n]

    def __init__(self, padding, value: float = 0.0) -> None:
        _PadNd.__init__(self, padding, 0.0 if zero else value)

    cls = type(name, (_PadNd,), {"_mode": mode, "_n": n, "__init__": __init__})
    cls.__doc__ = f"{doc} {sides}."
    cls.__module__ = __name__
    value = () if mode != "constant" or zero else (0.5,)
    layer_cases(LayerCase(lambda: cls(pads, *value), shape))(cls)
    bad = (1,) * (n + 1)
    message = rf"{name}: padding must be an int or {n} ints"
    layer_errors(ErrorCase(lambda: cls(bad), ValueError, message))(cls)
    return cls


ZeroPad1d = _pad_layer("ZeroPad1d", "constant", 2, "Zero padding; negative values crop", True)
ZeroPad3d = _pad_layer("ZeroPad3d", "constant", 6, "Zero padding; negative values crop", True)
ConstantPad1d = _pad_layer("ConstantPad1d", "constant", 2, "Pad with a constant value")
ConstantPad3d = _pad_layer("ConstantPad3d", "constant", 6, "Pad with a constant value")
ReflectionPad3d = _pad_layer("ReflectionPad3d", "reflect", 6, "Mirror padding")
ReplicationPad1d = _pad_layer("ReplicationPad1d", "replicate", 2, "Edge padding")
ReplicationPad3d = _pad_layer("ReplicationPad3d", "replicate", 6, "Edge padding")
CircularPad1d = _pad_layer("CircularPad1d", "circular", 2, "Periodic padding")
CircularPad3d = _pad_layer("CircularPad3d", "circular", 6, "Periodic padding")


def _as_parameter(value: Any) -> Parameter:
    return value if isinstance(value, Parameter) else Parameter(value)


@exempt_from_cases("a container of parameters: it has no forward of its own")
class ParameterList(Module):
    """A list of parameters registered on the module (named '0', '1', ...)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        for v in values or ():
            self.append(v)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __getitem__(self, idx: int) -> Parameter:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f"ParameterList: index {idx} out of range for {n} parameters")
        return list(self._parameters.values())[idx]

    def __setitem__(self, idx: int, value: Any) -> None:
        self.register_parameter(str(idx % len(self)), _as_parameter(value))

    def append(self, value: Any) -> ParameterList:
        """Add a parameter (a Tensor or array is wrapped in a Parameter)."""
        self.register_parameter(str(len(self)), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for v in values:
            self.append(v)
        return self


@exempt_from_cases("a container of parameters: it has no forward of its own")
class ParameterDict(Module):
    """A dict of parameters registered on the module under their keys (insertion order)."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Parameter:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(key, _as_parameter(value))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: str) -> bool:
        return key in self._parameters

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        items = parameters.items() if isinstance(parameters, Mapping) else parameters
        for key, value in items:
            self[key] = value
