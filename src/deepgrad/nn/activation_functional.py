"""Activation functions as plain functions of tensors (`deepgrad.nn.functional`)."""

from __future__ import annotations

import math

from ..core.state import host_call
from ..core.tensor import Tensor, as_tensor
from ..ops import elementwise as E
from ..ops.inplace import inplace as _inplace
from ..ops.nnops import erf, softplus_unit
from ..ops.select import hardtanh_bounded
from ..ops.shape import reshape
from ..ops.softmax import log_softmax as _log_softmax
from ..ops.softmax import softmax as _softmax
from ..ops.validation import check_float, real

__all__ = [
    "elu", "erf", "gelu", "hardtanh", "leaky_relu", "linear_activation", "log_softmax",
    "logsigmoid", "prelu", "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softplus",
    "step", "swish", "tanh",
]  # fmt: skip

# Klambauer et al. 2017: the fixed point of mean 0 and variance 1.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def sigmoid(x: Tensor) -> Tensor:
    """$\\sigma(x) = 1 / (1 + e^{-x})$."""
    return E.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """$\\tanh x$."""
    return E.tanh(x)


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """$\\max(0, x)$ (Nair & Hinton 2010); `inplace=True` writes the result into `x`."""
    if inplace:
        return _inplace(x, "relu", relu)
    return E.relu(x)


@host_call(pure=True)  # deepgrad.compile recomputes the mask from each step's values
def _above(x: Tensor, threshold: float = 0.0, scale: float = 1.0):
    """The mask `scale * x > threshold` of a piecewise activation (it has no derivative)."""
    return x._data > threshold if scale == 1.0 else x._data * scale > threshold


def relu6(x: Tensor, inplace: bool = False) -> Tensor:
    """$\\min(\\max(0, x), 6)$."""
    return hardtanh(x, 0.0, 6.0, inplace)


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """$x$ if $x > 0$ else $a x$ (Maas et al. 2013)."""
    check_float("leaky_relu", "input", x)
    if inplace:
        return _inplace(x, "leaky_relu", leaky_relu, negative_slope)
    return E.where(_above(x), x, E.mul(x, negative_slope))


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """$x$ if $x > 0$ else $a_c x$ with a learned slope per channel (axis 1) (He et al. 2015)."""
    check_float("prelu", "input", x)
    if weight.numel() != 1 and x.ndim >= 2:
        weight = reshape(weight, (weight.numel(),) + (1,) * (x.ndim - 2))
    return E.where(_above(x), x, E.mul(weight, x))


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """$x$ if $x > 0$ else $\\alpha (e^x - 1)$ (Clevert et al. 2016)."""
    check_float("elu", "input", x)
    if inplace:
        return _inplace(x, "elu", elu, alpha)
    # NOTE: expm1 sees min(x, 0) so the unused branch never overflows into 0 * inf = NaN.
    neg = E.mul(E.expm1(E.clip(x, max=0.0)), alpha)
    return E.where(_above(x), x, neg)


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    """$\\lambda \\, \\mathrm{elu}(x, \\alpha)$, self-normalising (Klambauer et al. 2017)."""
    check_float("selu", "input", x)
    if inplace:
        return _inplace(x, "selu", selu)
    return E.mul(elu(x, SELU_ALPHA), SELU_SCALE)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """$x \\Phi(x) = \\frac{x}{2}(1 + \\mathrm{erf}(x / \\sqrt 2))$ (Hendrycks & Gimpel 2016);
    approximate='tanh': $\\frac{x}{2}(1 + \\tanh(\\sqrt{2/\\pi}(x + 0.044715 x^3)))$."""
    check_float("gelu", "input", x)
    if approximate == "none":
        inner = erf(E.mul(x, 1.0 / math.sqrt(2.0)))
    elif approximate == "tanh":
        cube = E.mul(E.pow(x, 3), 0.044715)
        inner = E.tanh(E.mul(E.add(x, cube), math.sqrt(2.0 / math.pi)))
    else:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return E.mul(E.mul(x, 0.5), E.add(inner, 1.0))


def silu(x: Tensor, inplace: bool = False) -> Tensor:
    """$x \\sigma(x)$ (Elfwing et al. 2018; Swish with beta = 1)."""
    check_float("silu", "input", x)
    if inplace:
        return _inplace(x, "silu", silu)
    return E.mul(x, E.sigmoid(x))


def swish(x: Tensor, beta: float | Tensor = 1.0) -> Tensor:
    """$x \\sigma(\\beta x)$ (Ramachandran et al. 2017); beta may be a learned tensor."""
    check_float("swish", "input", x)
    return E.mul(x, E.sigmoid(E.mul(x, beta)))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """$\\frac{1}{\\beta} \\log(1 + e^{\\beta x})$, and $x$ where $\\beta x >$ threshold (PyTorch)."""
    check_float("softplus", "input", x)
    if beta == 1.0:
        sp = softplus_unit(x)
    else:
        sp = E.div(softplus_unit(E.mul(x, beta)), beta)
    return E.where(_above(x, threshold, beta), x, sp)


def logsigmoid(x: Tensor) -> Tensor:
    """$\\log \\sigma(x) = -\\mathrm{softplus}(-x)$, finite for any x."""
    check_float("logsigmoid", "input", x)
    return E.neg(softplus_unit(E.neg(x)))


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """$\\min(\\max(x, a), b)$; derivative 1 strictly inside (a, b), 0 at and beyond the
    bounds (PyTorch's subgradient: relu6'(0) = relu6'(6) = 0; `clamp` instead gives 1 at
    its bounds)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    if inplace:
        return _inplace(x, "hardtanh", hardtanh, min_val, max_val)
    return hardtanh_bounded(as_tensor(x), min_val, max_val)


def _implicit_dim(ndim: int) -> int:
    # PyTorch's legacy rule for dim=None: 0 for 0-, 1- and 3-d inputs, else 1.
    return 0 if ndim in (0, 1, 3) else 1


def softmax(x: Tensor, dim: int | None = None) -> Tensor:
    """$e^{x_i} / \\sum_j e^{x_j}$ along `dim` (None: PyTorch's legacy implicit choice)."""
    return _softmax(x, axis=_implicit_dim(x.ndim) if dim is None else dim)


def log_softmax(x: Tensor, dim: int | None = None) -> Tensor:
    """$x_i - \\log \\sum_j e^{x_j}$ along `dim`, computed stably."""
    return _log_softmax(x, axis=_implicit_dim(x.ndim) if dim is None else dim)


def step(x: Tensor, threshold: float = 0.0) -> Tensor:
    """Heaviside step $H(x - \\theta)$ (1 where x > threshold, else 0); derivative 0 everywhere,
    which is why the perceptron rule, not gradient descent, trains it (Rosenblatt 1958)."""
    x = real("step", as_tensor(x))
    const = as_tensor((x._data > threshold).astype(x._data.dtype))
    # sign() has a zero derivative: the graph stays connected with an exact zero gradient.
    return E.add(E.mul(E.sign(x), 0.0), const)


def linear_activation(x: Tensor, slope: float = 1.0) -> Tensor:
    """$f(x) = a x$: stacking linear layers with it collapses to one linear map."""
    real("linear_activation", x)
    return x if slope == 1.0 else E.mul(x, slope)
