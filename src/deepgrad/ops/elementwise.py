"""Elementwise primitives: arithmetic, exp/log family, trigonometric, activations.

Each primitive states its math and derivative in its docstring; the rules sit
in the decorator right above it.  Comparisons return bool tensors and are not
differentiable.
"""

from __future__ import annotations

import numpy as np

from ..core.state import STATE
from ._base import (
    BINARY_CASES,
    UNARY_CASES,
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    _wrap,
    apply,
    bad_broadcast,
    bad_complex,
    bad_type,
    binary,
    coerce_pair,
    elementwise,
    fast_binary,
    primitive,
)
from .cast import cast
from .select import (  # noqa: F401 - re-exported: the selection family sits before this one
    clamp,
    clip,
    eq,
    ge,
    gt,
    isfinite,
    isnan,
    le,
    lt,
    maximum,
    minimum,
    ne,
    safe_where,
    where,
)
from .validation import floating, real

# --- arithmetic ---------------------------------------------------------------


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
def _add(a, b):
    """$a + b$; d/da = d/db = 1."""
    return a + b


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
def _sub(a, b):
    """$a - b$; d/da = 1, d/db = -1."""
    return a - b


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
def _mul(a, b):
    """$a b$; d/da = b, d/db = a."""
    return a * b


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
def _div(a, b):
    """$a / b$; d/da = 1/b, d/db = -a/b^2."""
    return a / b


@primitive(
    "neg",
    linear=True,
    transpose=[lambda g, x: neg(g)],
    domain=Domain(
        UNARY_CASES,
        errors=[bad_complex("neg", lambda x: neg(x))],
    ),
)
def _neg(x):
    """$-x$; d/dx = -1."""
    return -x


def _pow_da(a, b):
    """d(a^b)/da = b a^{b-1}, and 0 where b = 0 (so 0**0 has derivative 0, as PyTorch)."""
    return where(b.data == 0, 0.0, mul(b, pow(a, sub(b, 1))))


def _pow_db(ans, a, b):
    """d(a^b)/db = a^b log a, and 0 where a = 0 and b >= 0 (PyTorch's value at a zero base)."""
    zero = (a.data == 0) & (b.data >= 0)
    return where(zero, 0.0, mul(ans, log(where(zero, 1.0, a))))


@primitive(
    "pow",
    vjp=[
        lambda g, ans, a, b: mul(g, _pow_da(a, b)),
        lambda g, ans, a, b: mul(g, _pow_db(ans, a, b)),
    ],
    jvp=[
        lambda t, ans, a, b: mul(t, _pow_da(a, b)),
        lambda t, ans, a, b: mul(t, _pow_db(ans, a, b)),
    ],
    domain=Domain(
        BINARY_CASES,
        low=0.5,
        high=2.0,
        fn=lambda a, b: pow(a, b),
        errors=[
            bad_broadcast("pow", lambda a, b: pow(a, b)),
            ErrorCase(
                lambda: pow(_ones(2, dtype=complex), _ones(2)),
                TypeError,
                r"pow: complex tensors are not supported",
            ),
        ],
    ),
)
def _pow(a, b):
    """$a^b$; d/da = b a^{b-1}, d/db = a^b log a.

    At a zero base, as PyTorch: $0^0 = 1$; d/da is 0 where b = 0 (else b 0^{b-1}: 0 for
    b > 1, inf for 0 < b < 1); d/db is 0 where b >= 0 and -inf where b < 0.
    """
    return a**b


@primitive(
    "pow_scalar",
    vjp=[lambda g, ans, x, p: mul(g, _dpow(x, p))],
    jvp=[lambda t, ans, x, p: mul(t, _dpow(x, p))],
    domain=Domain(
        [Case(c.shapes, {"p": p}) for c in UNARY_CASES for p in (2.0, 3.0, -1.5, 0.5)],
        low=0.3,
        high=2.0,
        errors=[
            ErrorCase(
                lambda: pow(_ones(2, dtype=complex), 2.0),
                TypeError,
                r"pow: complex tensors are not supported",
            )
        ],
    ),
)
def _pow_scalar(x, p):
    """$x^p$ for a constant p; d/dx = p x^{p-1}."""
    if p == 2:
        return x * x
    return x**p


def _dpow(x, p):
    if p == 0:
        return _wrap(np.zeros_like(x.data))
    if p == 1:
        return _wrap(np.ones_like(x.data))
    if p == 2:
        return mul(x, 2.0)
    return mul(pow(x, p - 1), p)


# --- exp / log family ---------------------------------------------------------------


def _unary(name, fwd, vjp_scale, doc, **dom):
    """Declare a unary primitive whose VJP and JVP multiply by the same local slope."""
    return elementwise(name, [vjp_scale], domain=Domain(UNARY_CASES, **dom), doc=doc)(fwd)


_exp = _unary(
    "exp",
    np.exp,
    lambda ans, x: ans,
    "$e^x$; d/dx = e^x.",
    errors=[
        bad_complex("exp", lambda x: exp(x)),
        bad_type("exp", lambda x: exp(x)),
    ],
)
_log = _unary(
    "log",
    np.log,
    lambda ans, x: reciprocal(x),
    "$\\log x$; d/dx = 1/x.",
    low=0.2,
    high=3.0,
    errors=[
        bad_complex("log", lambda x: log(x)),
        bad_type("log", lambda x: log(x)),
    ],
)
_log1p = _unary(
    "log1p",
    np.log1p,
    lambda ans, x: reciprocal(add(x, 1.0)),
    "$\\log(1 + x)$; d/dx = 1/(1+x).",
    low=-0.7,
    high=3.0,
    errors=[
        bad_complex("log1p", lambda x: log1p(x)),
        bad_type("log1p", lambda x: log1p(x)),
    ],
)
_expm1 = _unary(
    "expm1",
    np.expm1,
    lambda ans, x: add(ans, 1.0),
    "$e^x - 1$; d/dx = e^x.",
    errors=[
        bad_complex("expm1", lambda x: expm1(x)),
        bad_type("expm1", lambda x: expm1(x)),
    ],
)
_sqrt = _unary(
    "sqrt",
    np.sqrt,
    lambda ans, x: div(0.5, ans),
    "$\\sqrt{x}$; d/dx = 1/(2 sqrt x).",
    low=0.2,
    high=3.0,
    errors=[
        bad_complex("sqrt", lambda x: sqrt(x)),
        bad_type("sqrt", lambda x: sqrt(x)),
    ],
)
_sin = _unary(
    "sin",
    np.sin,
    lambda ans, x: cos(x),
    "$\\sin x$; d/dx = cos x.",
    errors=[
        bad_complex("sin", lambda x: sin(x)),
        bad_type("sin", lambda x: sin(x)),
    ],
)
_cos = _unary(
    "cos",
    np.cos,
    lambda ans, x: neg(sin(x)),
    "$\\cos x$; d/dx = -sin x.",
    errors=[
        bad_complex("cos", lambda x: cos(x)),
        bad_type("cos", lambda x: cos(x)),
    ],
)
_tanh = _unary(
    "tanh",
    np.tanh,
    lambda ans, x: rsub(mul(ans, ans), 1.0),
    "$\\tanh x$; d/dx = 1 - tanh^2 x.",
    errors=[
        bad_complex("tanh", lambda x: tanh(x)),
        bad_type("tanh", lambda x: tanh(x)),
    ],
)
_abs = _unary(
    "abs",
    np.abs,
    lambda ans, x: sign(x),
    "$|x|$; d/dx = sign(x) (0 at 0).",
    avoid=(0.0,),
    errors=[bad_complex("abs", lambda x: abs(x))],
)


def _sigmoid_fwd(x):
    # exp(-|x|) never overflows, so |x| >= 1000 gives exactly 0 or 1 with no warning.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


_sigmoid = _unary(
    "sigmoid",
    _sigmoid_fwd,
    lambda ans, x: mul(ans, rsub(ans, 1.0)),
    "$\\sigma(x) = 1/(1+e^{-x})$; d/dx = sigma (1 - sigma).",
    low=-4.0,
    high=4.0,
    errors=[
        bad_complex("sigmoid", lambda x: sigmoid(x)),
        bad_type("sigmoid", lambda x: sigmoid(x)),
    ],
)


def _relu_fwd(x):
    return np.maximum(x, 0, dtype=x.dtype) if x.dtype.kind == "f" else np.maximum(x, 0)


# NOTE: relu is not maximum(x, 0): the gradient at exactly 0 is 0 here, as in PyTorch,
# while maximum would split it between the two arguments.
_relu = _unary(
    "relu",
    _relu_fwd,
    lambda ans, x: _wrap(ans.data > 0),  # a constant mask: relu'' = 0 almost everywhere
    "$\\max(0, x)$; d/dx = 1 if x > 0 else 0.",
    avoid=(0.0,),
    second_order=False,
    errors=[bad_complex("relu", lambda x: relu(x))],
)


@primitive(
    "sign",
    vjp=[lambda g, ans, x: _wrap(np.zeros_like(x.data))],
    jvp=[lambda t, ans, x: _wrap(np.zeros_like(ans.data))],
    domain=Domain(
        UNARY_CASES,
        avoid=(0.0,),
        errors=[bad_complex("sign", lambda x: sign(x))],
    ),
)
def _sign(x):
    """$\\mathrm{sign}(x)$; derivative 0 (almost everywhere)."""
    return np.sign(x)


# --- public functions ------------------------------------------------------------


add = fast_binary(_add)
add.__name__ = "add"
add.__doc__ = "Elementwise $a + b$ with broadcasting."


sub = fast_binary(_sub)
sub.__name__ = "sub"
sub.__doc__ = "Elementwise $a - b$ with broadcasting."


def rsub(a, b) -> Tensor:
    """$b - a$ (reflected subtraction)."""
    return sub(b, a)


mul = fast_binary(_mul)
mul.__name__ = "mul"
mul.__doc__ = "Elementwise $a b$ with broadcasting."


_div_floats = fast_binary(_div, floats_only=True)


def _is_float(x) -> bool:
    return isinstance(x, Tensor) and x.data.dtype.kind == "f"


def div(a, b) -> Tensor:
    """Elementwise $a / b$ (true division; integers give floats)."""
    if _is_float(a) or _is_float(b):  # NumPy's true division keeps a float dtype
        return _div_floats(a, b)
    a, b = coerce_pair(a, b)
    if a.data.dtype.kind in "iub" and b.data.dtype.kind in "iub":
        a, b = cast(a, STATE.default_float), cast(b, STATE.default_float)
    return binary(_div, a, b)


def reciprocal(x) -> Tensor:
    """$1/x$."""
    return div(1.0, x)


def neg(x: Tensor) -> Tensor:
    """$-x$."""
    return apply(_neg, real("neg", x))


def pow(a, b) -> Tensor:
    """$a^b$; a Python-number exponent uses the `pow_scalar` primitive (no log(a) needed)."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, Tensor):
        real("pow", a)
        if b == 1:
            return a
        return apply(_pow_scalar, a, p=float(b) if a.data.dtype.kind == "f" else b)
    a, b = coerce_pair(a, b)
    return binary(_pow, real("pow", a), real("pow", b))


def exp(x: Tensor) -> Tensor:
    """$e^x$."""
    return apply(_exp, floating("exp", x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return apply(_log, floating("log", x))


def log1p(x: Tensor) -> Tensor:
    """$\\log(1 + x)$, accurate for small x."""
    return apply(_log1p, floating("log1p", x))


def expm1(x: Tensor) -> Tensor:
    """$e^x - 1$, accurate for small x."""
    return apply(_expm1, floating("expm1", x))


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return apply(_sqrt, floating("sqrt", x))


def sin(x: Tensor) -> Tensor:
    """Sine."""
    return apply(_sin, floating("sin", x))


def cos(x: Tensor) -> Tensor:
    """Cosine."""
    return apply(_cos, floating("cos", x))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return apply(_tanh, floating("tanh", x))


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid, stable for any |x| (no overflow warning)."""
    return apply(_sigmoid, floating("sigmoid", x))


def relu(x: Tensor) -> Tensor:
    """$\\max(0, x)$ with derivative 0 at 0."""
    return apply(_relu, real("relu", x))


def abs(x: Tensor) -> Tensor:
    """$|x|$."""
    return apply(_abs, real("abs", x))


def sign(x: Tensor) -> Tensor:
    """Sign of x (-1, 0 or 1)."""
    return apply(_sign, real("sign", x))


def square(x: Tensor) -> Tensor:
    """$x^2$."""
    return pow(x, 2)
