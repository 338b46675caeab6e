"""Arithmetic: add, sub, mul, div, neg (and rsub, reciprocal).

Each primitive (`add_p`, ...) sits right above its public function.  add, sub and
neg are linear (their JVP is derived from the forward, their VJP is the
transpose); mul is declared by its partial derivatives.  The binary ones take
the hot path of `fast_binary` (same-shape tensors, or a tensor and a number).
"""

from __future__ import annotations

import numpy as np

from ..core.state import STATE
from ._base import (
    BINARY_CASES,
    UNARY_CASES,
    Domain,
    ErrorCase,
    Tensor,
    apply,
    bad_broadcast,
    bad_complex,
    binary,
    coerce_pair,
    elementwise,
    fast_binary,
    primitive,
)
from .cast import cast
from .validation import real


@primitive(
    "add",
    linear=True,
    transpose=[lambda g, a, b: g, lambda g, a, b: g],
    domain=Domain(
        BINARY_CASES,
        fn=lambda a, b: add(a, b),
        errors=[
            ErrorCase(
                lambda: add(Tensor(np.ones((2, 3))), Tensor(np.ones(4))),
                ValueError,
                r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast",
            )
        ],
    ),
)
def add_p(a, b):
    """$a + b$; d/da = d/db = 1."""
    return a + b


add = fast_binary(add_p)
add.__name__ = "add"
add.__doc__ = "Elementwise $a + b$ with broadcasting."


@primitive(
    "sub",
    linear=True,
    transpose=[lambda g, a, b: g, lambda g, a, b: neg(g)],
    domain=Domain(
        BINARY_CASES,
        fn=lambda a, b: sub(a, b),
        errors=[bad_broadcast("sub", lambda a, b: sub(a, b))],
    ),
)
def sub_p(a, b):
    """$a - b$; d/da = 1, d/db = -1."""
    return a - b


sub = fast_binary(sub_p)
sub.__name__ = "sub"
sub.__doc__ = "Elementwise $a - b$ with broadcasting."


def rsub(a, b) -> Tensor:
    """$b - a$ (reflected subtraction)."""
    return sub(b, a)


@elementwise(
    "mul",
    [lambda a, b: b, lambda a, b: a],
    ans=False,
    domain=Domain(
        BINARY_CASES,
        fn=lambda a, b: mul(a, b),
        errors=[bad_broadcast("mul", lambda a, b: mul(a, b))],
    ),
)
def mul_p(a, b):
    """$a b$; d/da = b, d/db = a."""
    return a * b


mul = fast_binary(mul_p)
mul.__name__ = "mul"
mul.__doc__ = "Elementwise $a b$ with broadcasting."


@primitive(
    "div",
    vjp=[lambda g, ans, a, b: div(g, b), lambda g, ans, a, b: neg(mul(g, div(ans, b)))],
    jvp=[lambda t, ans, a, b: div(t, b), lambda t, ans, a, b: neg(mul(t, div(ans, b)))],
    domain=Domain(
        BINARY_CASES,
        avoid=(0.0,),
        margin=0.3,
        fn=lambda a, b: div(a, b),
        errors=[bad_broadcast("div", lambda a, b: div(a, b))],
    ),
)
def div_p(a, b):
    """$a / b$; d/da = 1/b, d/db = -a/b^2."""
    return a / b


def div(a, b) -> Tensor:
    """Elementwise $a / b$ (true division; integers give floats)."""
    if _is_float(a) or _is_float(b):  # NumPy's true division keeps a float dtype
        return _div_floats(a, b)
    a, b = coerce_pair(a, b)
    if a._data.dtype.kind in "iub" and b._data.dtype.kind in "iub":
        a, b = cast(a, STATE.default_float), cast(b, STATE.default_float)
    return binary(div_p, a, b)


_div_floats = fast_binary(div_p, floats_only=True)


def _is_float(x) -> bool:
    return isinstance(x, Tensor) and x._data.dtype.kind == "f"


def reciprocal(x) -> Tensor:
    """$1/x$."""
    return div(1.0, x)


@primitive(
    "neg",
    linear=True,
    transpose=[lambda g, x: neg(g)],
    domain=Domain(
        UNARY_CASES,
        errors=[bad_complex("neg", lambda x: neg(x))],
    ),
)
def neg_p(x):
    """$-x$; d/dx = -1."""
    return -x


def neg(x: Tensor) -> Tensor:
    """$-x$."""
    return apply(neg_p, real("neg", x))
