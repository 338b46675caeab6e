"""Elementwise functions: powers, the exp/log family, trigonometric, activations.

Each primitive (`exp_p`, ...) sits right above its public function and states its
math and derivative in its docstring; the rules sit in the decorator.  Arithmetic
(`arithmetic.py`) and selection (`select.py`) come before this family and are
re-exported here, so `ops.elementwise` still names every elementwise function.
"""

from __future__ import annotations

import numpy as np

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
    primitive,
)
from .arithmetic import (  # arithmetic sits before this family; re-exported from here
    add,
    div,
    mul,
    neg,
    reciprocal,
    rsub,
    sub,
)
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

# --- powers ---------------------------------------------------------------------


def _pow_da(a, b):
    """d(a^b)/da = b a^{b-1}, and 0 where b = 0 (so 0**0 has derivative 0, as PyTorch)."""
    return where(b._data == 0, 0.0, mul(b, pow(a, sub(b, 1))))


def _pow_db(ans, a, b):
    """d(a^b)/db = a^b log a, and 0 where a = 0 and b >= 0 (PyTorch's value at a zero base)."""
    zero = (a._data == 0) & (b._data >= 0)
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
def pow_p(a, b):
    """$a^b$; d/da = b a^{b-1}, d/db = a^b log a.

    At a zero base, as PyTorch: $0^0 = 1$; d/da is 0 where b = 0 (else b 0^{b-1}: 0 for
    b > 1, inf for 0 < b < 1); d/db is 0 where b >= 0 and -inf where b < 0.
    """
    return a**b


def _dpow(x, p):
    if p == 0:
        return _wrap(np.zeros_like(x._data))
    if p == 1:
        return _wrap(np.ones_like(x._data))
    if p == 2:
        return mul(x, 2.0)
    return mul(pow(x, p - 1), p)


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
def pow_scalar_p(x, p):
    """$x^p$ for a constant p; d/dx = p x^{p-1}."""
    if p == 2:
        return x * x
    return x**p


def pow(a, b) -> Tensor:
    """$a^b$; a Python-number exponent uses the `pow_scalar` primitive (no log(a) needed)."""
    if isinstance(b, (int, float)) and not isinstance(b, bool) and isinstance(a, Tensor):
        real("pow", a)
        if b == 1:
            return a
        return apply(pow_scalar_p, a, p=float(b) if a._data.dtype.kind == "f" else b)
    a, b = coerce_pair(a, b)
    return binary(pow_p, real("pow", a), real("pow", b))


def square(x: Tensor) -> Tensor:
    """$x^2$."""
    return pow(x, 2)


# --- exp / log family ---------------------------------------------------------------


def _unary(name, fwd, vjp_scale, doc, **dom):
    """Declare a unary primitive whose VJP and JVP multiply by the same local slope."""
    return elementwise(name, [vjp_scale], domain=Domain(UNARY_CASES, **dom), doc=doc)(fwd)


exp_p = _unary(
    "exp",
    np.exp,
    lambda ans, x: ans,
    "$e^x$; d/dx = e^x.",
    errors=[
        bad_complex("exp", lambda x: exp(x)),
        bad_type("exp", lambda x: exp(x)),
    ],
)


def exp(x: Tensor) -> Tensor:
    """$e^x$."""
    return apply(exp_p, floating("exp", x))


log_p = _unary(
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


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return apply(log_p, floating("log", x))


log1p_p = _unary(
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


def log1p(x: Tensor) -> Tensor:
    """$\\log(1 + x)$, accurate for small x."""
    return apply(log1p_p, floating("log1p", x))


expm1_p = _unary(
    "expm1",
    np.expm1,
    lambda ans, x: add(ans, 1.0),
    "$e^x - 1$; d/dx = e^x.",
    errors=[
        bad_complex("expm1", lambda x: expm1(x)),
        bad_type("expm1", lambda x: expm1(x)),
    ],
)


def expm1(x: Tensor) -> Tensor:
    """$e^x - 1$, accurate for small x."""
    return apply(expm1_p, floating("expm1", x))


sqrt_p = _unary(
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


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return apply(sqrt_p, floating("sqrt", x))


sin_p = _unary(
    "sin",
    np.sin,
    lambda ans, x: cos(x),
    "$\\sin x$; d/dx = cos x.",
    errors=[
        bad_complex("sin", lambda x: sin(x)),
        bad_type("sin", lambda x: sin(x)),
    ],
)


def sin(x: Tensor) -> Tensor:
    """Sine."""
    return apply(sin_p, floating("sin", x))


cos_p = _unary(
    "cos",
    np.cos,
    lambda ans, x: neg(sin(x)),
    "$\\cos x$; d/dx = -sin x.",
    errors=[
        bad_complex("cos", lambda x: cos(x)),
        bad_type("cos", lambda x: cos(x)),
    ],
)


def cos(x: Tensor) -> Tensor:
    """Cosine."""
    return apply(cos_p, floating("cos", x))


tanh_p = _unary(
    "tanh",
    np.tanh,
    lambda ans, x: rsub(mul(ans, ans), 1.0),
    "$\\tanh x$; d/dx = 1 - tanh^2 x.",
    errors=[
        bad_complex("tanh", lambda x: tanh(x)),
        bad_type("tanh", lambda x: tanh(x)),
    ],
)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return apply(tanh_p, floating("tanh", x))


abs_p = _unary(
    "abs",
    np.abs,
    lambda ans, x: sign(x),
    "$|x|$; d/dx = sign(x) (0 at 0).",
    avoid=(0.0,),
    errors=[bad_complex("abs", lambda x: abs(x))],
)


def abs(x: Tensor) -> Tensor:
    """$|x|$."""
    return apply(abs_p, real("abs", x))


def _sigmoid_fwd(x):
    # exp(-|x|) never overflows, so |x| >= 1000 gives exactly 0 or 1 with no warning.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


sigmoid_p = _unary(
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


def sigmoid(x: Tensor) -> Tensor:
    """Logistic sigmoid, stable for any |x| (no overflow warning)."""
    return apply(sigmoid_p, floating("sigmoid", x))


def _relu_fwd(x):
    return np.maximum(x, 0, dtype=x.dtype) if x.dtype.kind == "f" else np.maximum(x, 0)


# NOTE: relu is not maximum(x, 0): the gradient at exactly 0 is 0 here, as in PyTorch,
# while maximum would split it between the two arguments.
relu_p = _unary(
    "relu",
    _relu_fwd,
    lambda ans, x: _wrap(ans._data > 0),  # a constant mask: relu'' = 0 almost everywhere
    "$\\max(0, x)$; d/dx = 1 if x > 0 else 0.",
    avoid=(0.0,),
    second_order=False,
    errors=[bad_complex("relu", lambda x: relu(x))],
)


def relu(x: Tensor) -> Tensor:
    """$\\max(0, x)$ with derivative 0 at 0."""
    return apply(relu_p, real("relu", x))


@primitive(
    "sign",
    vjp=[lambda g, ans, x: _wrap(np.zeros_like(x._data))],
    jvp=[lambda t, ans, x: _wrap(np.zeros_like(ans._data))],
    domain=Domain(
        UNARY_CASES,
        avoid=(0.0,),
        errors=[bad_complex("sign", lambda x: sign(x))],
    ),
)
def sign_p(x):
    """$\\mathrm{sign}(x)$; derivative 0 (almost everywhere)."""
    return np.sign(x)


def sign(x: Tensor) -> Tensor:
    """Sign of x (-1, 0 or 1)."""
    return apply(sign_p, real("sign", x))
