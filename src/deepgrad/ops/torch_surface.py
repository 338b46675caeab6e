"""PyTorch's keyword arguments on `deepgrad`'s module-level functions.

`out=` wherever `torch.X` has it, `dtype=` on the reductions and softmaxes (the input
is cast first, as PyTorch does), `alpha=` on `add`/`sub`/`rsub`, `rounding_mode=` on
`div`, `sparse_grad=` on `gather`, `requires_grad=` on `randint`.

Why wrappers: the op functions stay lean, because deepgrad's own code (Tensor
operators, layers, rules) calls them on its hot path; these wrappers replace them in
the `deepgrad` namespace only (`dg.add`, `dg.sum`, ...), so a program written for
PyTorch pays one Python frame per call there and nothing elsewhere.
`tests/torch_compat/test_signature_audit.py` compares every function `torch` and
`deepgrad` both have and lists the differences that remain on purpose.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.tensor import Tensor, as_tensor
from . import creation as C
from . import elementwise as E
from . import factories as Fa
from . import index as Ix
from . import linalg as L
from . import reduce as R
from . import scatter_reduce as Sr
from . import select as Se
from . import shape as S
from . import torch_elementwise as Te
from . import torch_functions as Tf
from .cast import cast
from .out import with_keywords, write_out
from .softmax import log_softmax as _log_softmax
from .softmax import softmax as _softmax


def _with_out(name: str, fn: Callable) -> Callable:
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return result if out is None else write_out(name, result, out)

    return with_keywords(fn, wrapper, out=None)


def _with_dtype(name: str, fn: Callable) -> Callable:
    def wrapper(input: Any, *args: Any, dtype: Any = None, out: Any = None, **kwargs: Any) -> Any:
        if dtype is not None:  # PyTorch casts the input before the operation
            input = cast(as_tensor(input), np.dtype(dtype))
        result = fn(input, *args, **kwargs)
        return result if out is None else write_out(name, result, out)

    return with_keywords(fn, wrapper, dtype=None, out=None)


def _factory(name: str, fn: Callable) -> Callable:
    takes_dtype = "dtype" in inspect.signature(fn).parameters

    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        if out is None:
            return fn(*args, **kwargs)
        if takes_dtype and kwargs.get("dtype") is None and isinstance(out, Tensor):
            kwargs["dtype"] = out.dtype  # PyTorch: the result takes out's dtype
        return write_out(name, fn(*args, **kwargs), out, casting="unsafe")

    return with_keywords(fn, wrapper, out=None)


def _scaled(other: Any, alpha: Any, like: Any) -> Any:
    if alpha == 1:
        return other
    if isinstance(alpha, float) and np.dtype(as_tensor(like).dtype).kind in "iub":
        raise RuntimeError(f"alpha {alpha!r}: for integral input tensors, alpha must be an integer")
    return E.mul(as_tensor(other, like=as_tensor(like)), alpha)


def add(input: Any, other: Any, *, alpha: Any = 1, out: Any = None) -> Tensor:
    """$y = x + \\alpha\\, other$ (PyTorch's `add`, broadcasting; `out=` writes into a tensor)."""
    result = E.add(input, _scaled(other, alpha, input))
    return result if out is None else write_out("add", result, out)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Any = None) -> Tensor:
    """$y = x - \\alpha\\, other$ (PyTorch's `sub`)."""
    result = E.sub(input, _scaled(other, alpha, input))
    return result if out is None else write_out("sub", result, out)


def rsub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """$y = other - \\alpha\\, x$ (PyTorch's `rsub`)."""
    return E.sub(other, _scaled(input, alpha, input))


def div(input: Any, other: Any, *, rounding_mode: str | None = None, out: Any = None) -> Tensor:
    """$y = x / other$; `rounding_mode` 'trunc' or 'floor' rounds the quotient (zero derivative).

    Integer inputs with a rounding mode stay integers, as in PyTorch.
    """
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(
            f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
        )
    a, b = as_tensor(input), as_tensor(other, like=as_tensor(input))
    if rounding_mode is None:
        result = E.div(a, b)
    elif a.dtype.kind in "iub" and b.dtype.kind in "iub":
        x, y = np.asarray(a), np.asarray(b)
        if rounding_mode == "floor":
            result = Tensor(np.floor_divide(x, y))
        else:
            q = np.abs(x) // np.abs(y)
            result = Tensor(np.where((x < 0) ^ (y < 0), -q, q).astype(q.dtype))
    else:
        q = E.div(a, b)
        result = Te.floor(q) if rounding_mode == "floor" else Te.trunc(q)
    return result if out is None else write_out("div", result, out)


def gather(
    input: Tensor, dim: int, index: Any, *, sparse_grad: bool = False, out: Any = None
) -> Tensor:
    """PyTorch's `gather`; `sparse_grad` is accepted and the gradient is dense (deepgrad has no
    sparse tensor type)."""
    result = Ix.gather(input, dim, index)
    return result if out is None else write_out("gather", result, out)


def randint(*args: Any, out: Any = None, requires_grad: bool = False, **kwargs: Any) -> Tensor:
    """PyTorch's `randint(low=0, high, size)`, with `out=` and `requires_grad=`."""
    result = _randint(*args, out=out, **kwargs)
    return result.requires_grad_(True) if requires_grad else result


_randint = _factory("randint", C.randint)
randint = with_keywords(C.randint, randint, out=None, requires_grad=False)

# functions torch gives `out=` (and nothing else deepgrad lacks)
abs = _with_out("abs", E.abs)
amax = _with_out("amax", Te.amax)
amin = _with_out("amin", Te.amin)
argmax = _with_out("argmax", R.argmax)
argmin = _with_out("argmin", R.argmin)
cat = _with_out("cat", S.cat)
ceil = _with_out("ceil", Te.ceil)
clamp = _with_out("clamp", Se.clamp)
clip = _with_out("clip", Se.clip)
concatenate = _with_out("concatenate", S.concatenate)
cos = _with_out("cos", E.cos)
dot = _with_out("dot", L.dot)
eq = _with_out("eq", E.eq)
exp = _with_out("exp", E.exp)
expm1 = _with_out("expm1", E.expm1)
floor = _with_out("floor", Te.floor)
frac = _with_out("frac", Te.frac)
ge = _with_out("ge", E.ge)
gt = _with_out("gt", E.gt)
index_reduce = _with_out("index_reduce", Sr.index_reduce)
le = _with_out("le", E.le)
log = _with_out("log", E.log)
log10 = _with_out("log10", Te.log10)
log1p = _with_out("log1p", E.log1p)
log2 = _with_out("log2", Te.log2)
logical_and = _with_out("logical_and", Te.logical_and)
logical_not = _with_out("logical_not", Te.logical_not)
logical_or = _with_out("logical_or", Te.logical_or)
logical_xor = _with_out("logical_xor", Te.logical_xor)
logsumexp = _with_out("logsumexp", R.logsumexp)
lt = _with_out("lt", E.lt)
matmul = _with_out("matmul", L.matmul)
max = _with_out("max", R.max)
maximum = _with_out("maximum", Se.maximum)
min = _with_out("min", R.min)
minimum = _with_out("minimum", Se.minimum)
mul = _with_out("mul", E.mul)
ne = _with_out("ne", E.ne)
neg = _with_out("neg", E.neg)
outer = _with_out("outer", L.outer)
pow = _with_out("pow", E.pow)
reciprocal = _with_out("reciprocal", E.reciprocal)
round = _with_out("round", Te.round)
rsqrt = _with_out("rsqrt", Te.rsqrt)
scatter = _with_out("scatter", Tf.scatter)
scatter_add = _with_out("scatter_add", Ix.scatter_add)
scatter_reduce = _with_out("scatter_reduce", Sr.scatter_reduce)
sigmoid = _with_out("sigmoid", E.sigmoid)
sign = _with_out("sign", E.sign)
sin = _with_out("sin", E.sin)
sqrt = _with_out("sqrt", E.sqrt)
square = _with_out("square", E.square)
stack = _with_out("stack", S.stack)
tanh = _with_out("tanh", E.tanh)
trunc = _with_out("trunc", Te.trunc)
where = _with_out("where", Tf.where)
# reductions and softmaxes: `dtype=` casts the input first; `out=` too
cumsum = _with_dtype("cumsum", R.cumsum)
log_softmax = _with_dtype("log_softmax", _log_softmax)
mean = _with_dtype("mean", R.mean)
norm = _with_dtype("norm", R.norm)
prod = _with_dtype("prod", R.prod)
softmax = _with_dtype("softmax", _softmax)
sum = _with_dtype("sum", R.sum)
# factories: `out=` fixes the dtype (when none is given) and takes the result as it is
arange = _factory("arange", C.arange)
bernoulli = _factory("bernoulli", Fa.bernoulli)
empty = _factory("empty", C.empty)
eye = _factory("eye", C.eye)
full = _factory("full", C.full)
linspace = _factory("linspace", C.linspace)
multinomial = _factory("multinomial", Fa.multinomial)
normal = _factory("normal", C.normal)
ones = _factory("ones", C.ones)
rand = _factory("rand", C.rand)
randn = _factory("randn", C.randn)
randperm = _factory("randperm", Fa.randperm)
zeros = _factory("zeros", C.zeros)

__all__ = [
    "abs", "add", "amax", "amin", "arange", "argmax", "argmin", "bernoulli", "cat", "ceil",
    "clamp", "clip", "concatenate", "cos", "cumsum", "div", "dot", "empty", "eq", "exp",
    "expm1", "eye", "floor", "frac", "full", "gather", "ge", "gt", "index_reduce", "le",
    "linspace", "log", "log1p", "log2", "log10", "log_softmax", "logical_and", "logical_not",
    "logical_or", "logical_xor", "logsumexp", "lt", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "multinomial", "ne", "neg", "norm", "normal", "ones", "outer", "pow",
    "prod", "rand", "randint", "randn", "randperm", "reciprocal", "round", "rsqrt", "rsub",
    "scatter", "scatter_add", "scatter_reduce", "sigmoid", "sign", "sin", "softmax", "sqrt",
    "square", "stack", "sub", "sum", "tanh", "trunc", "where", "zeros",
]  # fmt: skip
