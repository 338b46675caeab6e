"""deepgrad's operations: one module per family; importing registers them.

Importing this package registers every primitive in the core registry and
attaches the Python operators and methods to `Tensor`.
"""

from __future__ import annotations

from ..core.primitive import FUNCTIONS
from ..core.tensor import Tensor, register_method
from .cast import cast
from .elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    eq,
    exp,
    expm1,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    log,
    log1p,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    reciprocal,
    relu,
    rsub,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    tanh,
    where,
)  # fmt: skip
from .index import gather, getitem, index_add_zeros, one_hot, scatter_add, take_along_axis
from .linalg import dot, einsum, matmul, outer
from .reduce import (
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
)  # fmt: skip
from .shape import (
    broadcast_to,
    cat,
    chunk,
    concatenate,
    expand,
    expand_dims,
    flatten,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
    unsqueeze,
)  # fmt: skip
from .softmax import log_softmax, softmax

__all__ = [
    "abs", "add", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk", "clamp", "clip",
    "concatenate", "cos", "cumsum", "div", "dot", "einsum", "eq", "exp", "expand", "expand_dims",
    "expm1", "flatten", "gather", "ge", "getitem", "gt", "index_add_zeros", "isfinite", "isnan",
    "le", "log", "log1p", "log_softmax", "logsumexp", "lt", "matmul", "max", "maximum", "mean",
    "min", "minimum", "mul", "ne", "neg", "norm", "one_hot", "outer", "pad", "permute", "pow",
    "prod", "reciprocal", "relu", "reshape", "rsub", "scatter_add", "sigmoid", "sign", "sin",
    "softmax", "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "sum_to",
    "swapaxes", "take_along_axis", "tanh", "transpose", "unsqueeze", "var", "where",
]  # fmt: skip


def _to(self: Tensor, dtype) -> Tensor:
    """Cast to `dtype` (differentiable between float dtypes)."""
    return cast(self, dtype)


def _install() -> None:
    methods = {
        "__add__": add,
        "__radd__": lambda s, o: add(o, s),
        "__sub__": sub,
        "__rsub__": lambda s, o: sub(o, s),
        "__mul__": mul,
        "__rmul__": lambda s, o: mul(o, s),
        "__truediv__": div,
        "__rtruediv__": lambda s, o: div(o, s),
        "__pow__": pow,
        "__rpow__": lambda s, o: pow(o, s) if isinstance(o, Tensor) else pow(_like(o, s), s),
        "__matmul__": matmul,
        "__rmatmul__": lambda s, o: matmul(o, s),
        "__neg__": neg,
        "__pos__": lambda s: s,
        "__abs__": abs,
        "__eq__": eq,
        "__ne__": ne,
        "__lt__": lt,
        "__le__": le,
        "__gt__": gt,
        "__ge__": ge,
        "__getitem__": getitem,
        "to": _to,
        "astype": _to,
        "float": lambda s: cast(s, "float32"),
        "double": lambda s: cast(s, "float64"),
        "long": lambda s: cast(s, "int64"),
        "int": lambda s: cast(s, "int32"),
        "bool": lambda s: cast(s, "bool"),
        "exp": exp, "log": log, "log1p": log1p, "expm1": expm1, "sqrt": sqrt, "abs": abs,
        "sign": sign, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid, "relu": relu,
        "clip": clip, "clamp": clip, "square": square, "reciprocal": reciprocal, "pow": pow,
        "maximum": maximum, "minimum": minimum,
        "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min,
        "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp, "prod": prod,
        "norm": norm, "cumsum": cumsum,
        "reshape": reshape, "view": reshape, "permute": permute, "transpose": transpose,
        "swapaxes": swapaxes, "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten,
        "broadcast_to": broadcast_to, "expand": broadcast_to, "sum_to": sum_to,
        "split": split, "chunk": chunk,
        "matmul": matmul, "dot": dot, "gather": gather, "scatter_add": scatter_add,
        "softmax": softmax, "log_softmax": log_softmax,
        "any": lambda s, *a, **k: Tensor(s.data.any(*a, **k)),
        "all": lambda s, *a, **k: Tensor(s.data.all(*a, **k)),
    }  # fmt: skip
    for name, fn in methods.items():
        register_method(name, fn)
    Tensor.__hash__ = lambda self: id(self)


def _like(o, s):
    from ..core.tensor import as_tensor

    return as_tensor(o, like=s)


_install()
FUNCTIONS["stack"] = stack
# Families that build on the basic ops above (and register more primitives).
from . import conv, nnops, pool, resample
from . import rnn as rnn  # fused recurrent-cell primitives (issue 14)
