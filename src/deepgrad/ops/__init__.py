"""deepgrad's operations: one module per family; importing registers them.

Importing this package registers every primitive in the core registry and
attaches the Python operators and methods to `Tensor`.
"""

from __future__ import annotations

# The op families in dependency order: each module imports only from modules listed
# before it (checked by tests/ops/test_family_order.py), so no import has to hide
# inside a function.  `pool` re-exports `pool_api`'s public functions at its end.
FAMILIES = (
    "devices", "creation", "batching", "validation", "_base", "cast", "shape", "select",
    "arithmetic", "elementwise", "index", "reduce", "softmax", "linalg", "_conv_cf", "_conv_cl",
    "_conv_kernels", "channel_norm", "batch_norm", "conv", "nnops", "_pool_kernels", "pool",
    "pool_flat", "pool_api", "resample", "segment", "roi", "linalg_decomp", "linalg_spectral",
    "batched_linear", "batch_rules", "factories", "grad_fn", "inplace", "out",
    "torch_elementwise", "setitem", "scatter_reduce", "sorting", "torch_functions",
    "torch_shape", "tensor_methods", "torch_methods", "rnn", "_rnn_kernels", "rnn_sequence",
    "torch_surface",
)  # fmt: skip

from ..core.primitive import FUNCTIONS
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
    safe_where,
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
from .tensor_methods import install as _install_methods
from .torch_methods import install as _install_torch_methods

__all__ = [
    "abs", "add", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk", "clamp", "clip",
    "concatenate", "cos", "cumsum", "div", "dot", "einsum", "eq", "exp", "expand", "expand_dims",
    "expm1", "flatten", "gather", "ge", "getitem", "gt", "index_add_zeros", "isfinite", "isnan",
    "le", "log", "log1p", "log_softmax", "logsumexp", "lt", "matmul", "max", "maximum", "mean",
    "min", "minimum", "mul", "ne", "neg", "norm", "one_hot", "outer", "pad", "permute", "pow",
    "prod", "reciprocal", "relu", "reshape", "rsub", "safe_where", "scatter_add", "sigmoid", "sign", "sin",
    "softmax", "split", "sqrt", "square", "squeeze", "stack", "std", "sub", "sum", "sum_to",
    "swapaxes", "take_along_axis", "tanh", "transpose", "unsqueeze", "var", "where",
]  # fmt: skip


_install_methods()
_install_torch_methods()
FUNCTIONS["stack"] = stack
# Families that build on the basic ops above (and register more primitives).
from . import (
    batch_norm,  # batch norm from the channel primitives (issue 20)
    batch_rules,
    batched_linear,
    channel_norm,  # batch norm's per-channel primitives (issue 20)
    conv,
    linalg_decomp,
    linalg_spectral,
    nnops,
    pool,
    resample,
    rnn,  # fused recurrent-cell primitives (issue 14)
    rnn_sequence,  # whole-sequence LSTM / GRU / RNN primitives (issue 20)
    roi,
    segment,
)

batch_rules.register()  # vmap's batching rules, now that every family has registered
