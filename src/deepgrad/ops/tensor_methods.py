"""`TensorMethods`: every operator and op method of `Tensor`, written out as `def`s.

`core` cannot import `ops` (imports flow one way), so the methods live here and
`deepgrad.ops` copies them onto `Tensor` at import (`install`).  Each method is
one line calling the public function of the same name, so `x.exp()` and
`dg.exp(x)` are the same code.  Python's identity `__hash__` is kept: tensors
work as dict keys and set members although `==` is elementwise, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from ..core.autodiff import backward as _backward
from ..core.tensor import Tensor, _wrap, as_tensor
from . import elementwise as E
from . import inplace as I
from . import linalg as L
from . import reduce as R
from . import shape as S
from . import torch_elementwise as TE
from .cast import cast
from .devices import check_device, device
from .index import gather, getitem, scatter_add
from .setitem import setitem_
from .softmax import log_softmax, softmax
from .torch_functions import expand, masked_fill, std, var
from .torch_shape import t

# dtype names PyTorch programs use, as NumPy dtypes
DTYPE_ALIASES = {
    "float": "float32", "double": "float64", "half": "float16", "long": "int64",
    "int": "int32", "short": "int16", "bool": "bool", "uint8": "uint8", "byte": "uint8",
}  # fmt: skip
_DEVICE_PREFIXES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hip")


def _bitwise(name: str, a: Tensor, b, fn) -> Tensor:
    b = as_tensor(b, like=a)
    for operand in (a, b):
        if operand._data.dtype.kind not in "biu":
            raise TypeError(
                f"{name}: needs bool or integer tensors, got dtype {operand._data.dtype}"
            )
    return _wrap(np.asarray(fn(a._data, b._data)))


def _parse_to(args, kwargs) -> np.dtype | None:
    """The dtype asked for by `.to(device?, dtype?)` / `.to(other)`; checks the device."""

    dtype = kwargs.pop("dtype", None)
    check_device(kwargs.pop("device", None), "Tensor.to")
    kwargs.pop("non_blocking", None), kwargs.pop("copy", None), kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"Tensor.to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype = a._data.dtype
        elif isinstance(a, device) or (isinstance(a, str) and a.startswith(_DEVICE_PREFIXES)):
            check_device(a, "Tensor.to")
        elif a is not None and not isinstance(a, bool):
            dtype = a
    return None if dtype is None else np.dtype(DTYPE_ALIASES.get(dtype, dtype))


class TensorMethods:
    """Operators and op methods; `install()` copies them onto `Tensor`."""

    # -- autodiff -------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool | None = None, create_graph: bool = False):
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` (reverse mode).

        `grad` is the cotangent; it may be omitted only for a one-element tensor.
        The graph is freed afterwards unless `retain_graph` (default: `create_graph`).
        With `create_graph=True` the backward pass itself is recorded, so the
        gradients can be differentiated again.
        """
        _backward([self], None if grad is None else [grad], retain_graph, create_graph)

    # -- arithmetic operators ---------------------------------------------
    # NOTE: an operator whose tensor is the left operand is the op function itself, not a
    # def calling it: `a + b` is the hottest call in the library and a wrapper frame would
    # add to every op's overhead (bench/overhead.py).  Reflected operators are defs.
    __add__ = E.add

    def __radd__(self, other):
        return E.add(other, self)

    __sub__ = E.sub

    def __rsub__(self, other):
        return E.sub(other, self)

    __mul__ = E.mul

    def __rmul__(self, other):
        return E.mul(other, self)

    __truediv__ = E.div

    def __rtruediv__(self, other):
        return E.div(other, self)

    __pow__ = E.pow

    def __rpow__(self, other):
        return E.pow(other if isinstance(other, Tensor) else as_tensor(other, like=self), self)

    __matmul__ = L.matmul

    def __rmatmul__(self, other):
        return L.matmul(other, self)

    __neg__ = E.neg

    def __pos__(self):
        return self

    __abs__ = E.abs

    # -- comparisons (elementwise; __hash__ stays the identity) --------------
    __eq__ = E.eq

    __ne__ = E.ne

    __lt__ = E.lt

    __le__ = E.le

    __gt__ = E.gt

    __ge__ = E.ge

    # -- logical / bitwise (bool and integer tensors) --------------------------
    def __and__(self, other):
        return _bitwise("__and__", self, other, np.bitwise_and)

    def __or__(self, other):
        return _bitwise("__or__", self, other, np.bitwise_or)

    def __xor__(self, other):
        return _bitwise("__xor__", self, other, np.bitwise_xor)

    def __rand__(self, other):
        return _bitwise("__and__", self, other, np.bitwise_and)

    def __ror__(self, other):
        return _bitwise("__or__", self, other, np.bitwise_or)

    def __rxor__(self, other):
        return _bitwise("__xor__", self, other, np.bitwise_xor)

    def __invert__(self):
        if self._data.dtype.kind not in "biu":
            raise TypeError(f"__invert__: needs a bool or integer tensor, got {self._data.dtype}")
        return _wrap(np.invert(self._data))

    # -- in-place operators: update the tensor itself (PyTorch semantics) -----
    def __iadd__(self, other):
        return I.inplace(self, "__iadd__", E.add, other)

    def __isub__(self, other):
        return I.inplace(self, "__isub__", E.sub, other)

    def __imul__(self, other):
        return I.inplace(self, "__imul__", E.mul, other)

    def __itruediv__(self, other):
        return I.inplace(self, "__itruediv__", E.div, other)

    def __ipow__(self, other):
        return I.inplace(self, "__ipow__", E.pow, other)

    def __iand__(self, other):
        return I.inplace(self, "__iand__", TensorMethods.__and__, other)

    def __ior__(self, other):
        return I.inplace(self, "__ior__", TensorMethods.__or__, other)

    def __ixor__(self, other):
        return I.inplace(self, "__ixor__", TensorMethods.__xor__, other)

    # -- NumPy interop ------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs meeting a tensor: `array + tensor` is the deepgrad op (recorded);
        `array += tensor` (e.g. `p.data += -lr * p.grad`) updates the array in place;
        any other ufunc runs on the tensors' arrays and returns an array."""
        direct = method == "__call__" and kwargs.get("out") is None and len(inputs) == 2
        if direct and ufunc in _UFUNC_OPS:
            return _UFUNC_OPS[ufunc](*inputs)
        arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
        if kwargs.get("out") is not None:
            kwargs["out"] = tuple(o._data if isinstance(o, Tensor) else o for o in kwargs["out"])
        return getattr(ufunc, method)(*arrays, **kwargs)

    # -- indexing -------------------------------------------------------------
    __getitem__ = getitem

    def __setitem__(self, idx, value):
        setitem_(self, idx, value)

    # -- dtype and device -------------------------------------------------------
    def to(self, *args, **kwargs):
        """Cast to a dtype (differentiable between floats); the device may only be the CPU."""
        dtype = _parse_to(args, dict(kwargs))
        return self if dtype is None else cast(self, dtype)

    def astype(self, dtype):
        return cast(self, np.dtype(DTYPE_ALIASES.get(dtype, dtype)))

    def cpu(self):
        return self

    def float(self):
        return cast(self, "float32")

    def double(self):
        return cast(self, "float64")

    def half(self):
        return cast(self, "float16")

    def long(self):
        return cast(self, "int64")

    def int(self):
        return cast(self, "int32")

    def bool(self):
        return cast(self, "bool")

    def type(self, dtype=None):
        """Without an argument, the type name (`'deepgrad.FloatTensor'`); else a cast."""
        if dtype is None:
            return _type_name(self._data.dtype)
        return cast(self, np.dtype(DTYPE_ALIASES.get(dtype, dtype)))

    def type_as(self, other):
        return cast(self, other._data.dtype)

    # -- elementwise methods ------------------------------------------------------
    def exp(self):
        return E.exp(self)

    def log(self):
        return E.log(self)

    def log10(self):
        return TE.log10(self)

    def log2(self):
        return TE.log2(self)

    def rsqrt(self):
        return TE.rsqrt(self)

    def round(self, *, decimals=0):
        return TE.round(self, decimals=decimals)

    def floor(self):
        return TE.floor(self)

    def ceil(self):
        return TE.ceil(self)

    def trunc(self):
        return TE.trunc(self)

    def frac(self):
        return TE.frac(self)

    def logical_not(self):
        return TE.logical_not(self)

    def logical_and(self, other):
        return TE.logical_and(self, other)

    def logical_or(self, other):
        return TE.logical_or(self, other)

    def amax(self, dim=(), keepdim=False):
        return TE.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return TE.amin(self, dim, keepdim)

    def count_nonzero(self, dim=None):
        return TE.count_nonzero(self, dim)

    def log1p(self):
        return E.log1p(self)

    def expm1(self):
        return E.expm1(self)

    def sqrt(self):
        return E.sqrt(self)

    def abs(self):
        return E.abs(self)

    def sign(self):
        return E.sign(self)

    def sin(self):
        return E.sin(self)

    def cos(self):
        return E.cos(self)

    def tanh(self):
        return E.tanh(self)

    def sigmoid(self):
        return E.sigmoid(self)

    def relu(self):
        return E.relu(self)

    def square(self):
        return E.square(self)

    def reciprocal(self):
        return E.reciprocal(self)

    def pow(self, exponent):
        return E.pow(self, exponent)

    def clip(self, min=None, max=None):
        return E.clip(self, min, max)

    def clamp(self, min=None, max=None):
        return E.clip(self, min, max)

    def maximum(self, other):
        return E.maximum(self, other)

    def minimum(self, other):
        return E.minimum(self, other)

    def add(self, other, *, alpha=1):
        return E.add(self, other if alpha == 1 else E.mul(other, alpha))

    def sub(self, other, *, alpha=1):
        return E.sub(self, other if alpha == 1 else E.mul(other, alpha))

    def mul(self, other):
        return E.mul(self, other)

    def div(self, other):
        return E.div(self, other)

    def eq(self, other):
        return E.eq(self, other)

    def ne(self, other):
        return E.ne(self, other)

    def lt(self, other):
        return E.lt(self, other)

    def le(self, other):
        return E.le(self, other)

    def gt(self, other):
        return E.gt(self, other)

    def ge(self, other):
        return E.ge(self, other)

    # -- in-place methods --------------------------------------------------------
    def add_(self, other, *, alpha=1):
        return I.inplace(self, "add_", TensorMethods.add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return I.inplace(self, "sub_", TensorMethods.sub, other, alpha=alpha)

    def mul_(self, other):
        return I.inplace(self, "mul_", E.mul, other)

    def div_(self, other):
        return I.inplace(self, "div_", E.div, other)

    def pow_(self, exponent):
        return I.inplace(self, "pow_", E.pow, exponent)

    def clamp_(self, min=None, max=None):
        return I.inplace(self, "clamp_", E.clip, min, max)

    clip_ = clamp_

    def neg_(self):
        return I.inplace(self, "neg_", E.neg)

    def exp_(self):
        return I.inplace(self, "exp_", E.exp)

    def log_(self):
        return I.inplace(self, "log_", E.log)

    def sqrt_(self):
        return I.inplace(self, "sqrt_", E.sqrt)

    def abs_(self):
        return I.inplace(self, "abs_", E.abs)

    def sigmoid_(self):
        return I.inplace(self, "sigmoid_", E.sigmoid)

    def tanh_(self):
        return I.inplace(self, "tanh_", E.tanh)

    def relu_(self):
        return I.inplace(self, "relu_", E.relu)

    def addcmul_(self, t1, t2, *, value=1):
        return I.inplace(self, "addcmul_", lambda s: E.add(s, E.mul(E.mul(t1, t2), value)))

    def addcdiv_(self, t1, t2, *, value=1):
        return I.inplace(self, "addcdiv_", lambda s: E.add(s, E.mul(E.div(t1, t2), value)))

    def lerp_(self, end, weight):
        return I.inplace(self, "lerp_", lambda s: E.add(s, E.mul(E.sub(end, s), weight)))

    def masked_fill_(self, mask, value):
        return I.inplace(self, "masked_fill_", masked_fill, mask, value)

    def fill_(self, value):
        return I.fill_(self, value)

    def zero_(self):
        return I.zero_(self)

    def copy_(self, src, non_blocking=False):
        return I.copy_(self, src)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return I.normal_(self, mean, std, generator=generator)

    def uniform_(self, from_=0.0, to=1.0, *, generator=None):
        return I.uniform_(self, from_, to, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None):
        return I.bernoulli_(self, p, generator=generator)

    # -- reductions ------------------------------------------------------------------
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return R.sum(
            _as(self, dtype), axis, bool(keepdims) if keepdims is not None else keepdim, dim=dim
        )

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return R.mean(
            _as(self, dtype), axis, bool(keepdims) if keepdims is not None else keepdim, dim=dim
        )

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
        return var(self, dim, unbiased, keepdim, correction=correction, axis=axis)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None):
        return std(self, dim, unbiased, keepdim, correction=correction, axis=axis)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return R.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return R.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None):
        return R.argmax(self, axis, keepdim, dim=dim)

    def argmin(self, dim=None, keepdim=False, *, axis=None):
        return R.argmin(self, axis, keepdim, dim=dim)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return R.logsumexp(self, axis, bool(keepdims) if keepdims is not None else keepdim, dim=dim)

    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return R.prod(
            _as(self, dtype), axis, bool(keepdims) if keepdims is not None else keepdim, dim=dim
        )

    def norm(self, *args, **kwargs):
        return R.norm(self, *args, **kwargs)

    def cumsum(self, dim=None, *, dtype=None, axis=None):
        return R.cumsum(_as(self, dtype), axis=dim if axis is None else axis)

    def any(self, dim=None, keepdim=False):
        return _wrap(np.asarray(self._data.any(axis=dim, keepdims=keepdim)))

    def all(self, dim=None, keepdim=False):
        return _wrap(np.asarray(self._data.all(axis=dim, keepdims=keepdim)))

    # -- shape --------------------------------------------------------------------------
    def reshape(self, *shape):
        return S.reshape(self, *shape)

    def view(self, *shape):
        return S.reshape(self, *shape)

    def permute(self, *dims):
        return S.permute(self, *dims)

    def transpose(self, *dims):
        return S.transpose(self, *dims)

    def swapaxes(self, a, b):
        return S.swapaxes(self, a, b)

    def squeeze(self, *args, **kwargs):
        return S.squeeze(self, *args, **kwargs)

    def unsqueeze(self, dim):
        return S.unsqueeze(self, dim)

    def flatten(self, *args, **kwargs):
        return S.flatten(self, *args, **kwargs)

    def broadcast_to(self, shape):
        return S.broadcast_to(self, shape)

    def expand(self, *sizes):
        return expand(self, *sizes)

    def unsqueeze_(self, dim):
        return I.restride_(self, "unsqueeze_", S.unsqueeze, dim)

    def squeeze_(self, dim=None):
        return I.restride_(self, "squeeze_", S.squeeze, dim)

    def transpose_(self, dim0, dim1):
        return I.restride_(self, "transpose_", S.transpose, dim0, dim1)

    def t_(self):
        return I.restride_(self, "t_", t)

    def sum_to(self, shape):
        return S.sum_to(self, shape)

    def split(self, *args, **kwargs):
        return S.split(self, *args, **kwargs)

    def chunk(self, *args, **kwargs):
        return S.chunk(self, *args, **kwargs)

    # -- linear algebra and indexing ---------------------------------------------------------
    def matmul(self, other):
        return L.matmul(self, other)

    def dot(self, other):
        return L.dot(self, other)

    def gather(self, dim, index):
        return gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return scatter_add(self, dim, index, src)

    def softmax(self, dim=-1, dtype=None):
        return softmax(_as(self, dtype), dim)

    def log_softmax(self, dim=-1, dtype=None):
        return log_softmax(_as(self, dtype), dim)


_UFUNC_OPS = {
    np.add: E.add, np.subtract: E.sub, np.multiply: E.mul, np.true_divide: E.div,
    np.power: E.pow, np.matmul: L.matmul, np.equal: E.eq, np.not_equal: E.ne, np.less: E.lt,
    np.less_equal: E.le, np.greater: E.gt, np.greater_equal: E.ge,
    np.maximum: E.maximum, np.minimum: E.minimum,
}  # fmt: skip

_TYPE_NAMES = {
    "float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
    "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
}  # fmt: skip


def _type_name(dt: np.dtype) -> str:
    return f"deepgrad.{_TYPE_NAMES.get(dt.name, dt.name)}Tensor"


_SKIP = {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__hash__"}


def _as(x: Tensor, dtype) -> Tensor:
    """PyTorch's `dtype=` on a reduction: the input is cast before the operation."""
    return x if dtype is None else cast(x, np.dtype(dtype))


def install(cls: type = Tensor) -> None:
    """Copy every method of `TensorMethods` onto `cls` (Tensor)."""
    for name, fn in vars(TensorMethods).items():
        if name in _SKIP:
            continue
        if callable(fn) and not fn.__doc__:
            fn.__doc__ = f"PyTorch's `Tensor.{name}`: one call to deepgrad's function of that name."
        setattr(cls, name, fn)
