"""More of torch.nn.functional's activations and distances, as composites of ops.

celu, glu, hardsigmoid, hardswish, mish, softsign, softshrink, hardshrink,
tanhshrink, threshold, softmin, rrelu; normalize, cosine_similarity,
pairwise_distance.  Each is a few deepgrad ops, so reverse mode, forward mode
and higher derivatives come from the ops' own rules.
"""

from __future__ import annotations

import numpy as np

from ..core.random import _gen
from ..core.tensor import Tensor, as_tensor
from ..ops import elementwise as E
from ..ops.nnops import softplus_unit
from ..ops.reduce import norm as _norm
from ..ops.reduce import sum as _sum
from ..ops.shape import broadcast_to, split
from ..ops.softmax import softmax as _softmax
from .activation_functional import _above, _implicit_dim

__all__ = [
    "celu", "cosine_similarity", "glu", "hardshrink", "hardsigmoid", "hardswish", "mish",
    "normalize", "pairwise_distance", "rrelu", "softmin", "softshrink", "softsign", "tanhshrink",
    "threshold",
]  # fmt: skip


def _floating(name: str, x) -> Tensor:
    """Coerce to a Tensor and refuse integer and bool inputs, naming the function."""
    x = as_tensor(x)
    if x._data.dtype.kind not in "fc":
        raise TypeError(f"{name}: x must be a floating point tensor, got {x.dtype}")
    return x


def celu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """$\\max(0, x) + \\min(0, \\alpha (e^{x / \\alpha} - 1))$ (Barron 2017)."""
    x = _floating("celu", x)
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    neg = E.mul(E.expm1(E.div(E.clip(x, max=0.0), alpha)), alpha)
    return E.where(_above(x), x, neg)


def glu(x: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit $a \\otimes \\sigma(b)$, with x split in halves a, b along `dim`
    (Dauphin et al. 2017)."""
    x = _floating("glu", x)
    if x.ndim == 0 or x.shape[dim] % 2:
        raise ValueError(f"glu: dim {dim} of the input must have even size, got shape {x.shape}")
    a, b = split(x, x.shape[dim] // 2, dim)
    return E.mul(a, E.sigmoid(b))


def hardsigmoid(x: Tensor, inplace: bool = False) -> Tensor:
    """$\\mathrm{clip}(x / 6 + 1/2, 0, 1)$ (Howard et al. 2019)."""
    x = _floating("hardsigmoid", x)
    return E.clip(E.add(E.div(x, 6.0), 0.5), 0.0, 1.0)


def hardswish(x: Tensor, inplace: bool = False) -> Tensor:
    """$x \\cdot \\mathrm{clip}(x + 3, 0, 6) / 6$ (Howard et al. 2019, MobileNetV3)."""
    x = _floating("hardswish", x)
    return E.mul(x, hardsigmoid(x))


def mish(x: Tensor, inplace: bool = False) -> Tensor:
    """$x \\tanh(\\mathrm{softplus}(x))$ (Misra 2019)."""
    x = _floating("mish", x)
    return E.mul(x, E.tanh(softplus_unit(x)))


def softsign(x: Tensor) -> Tensor:
    """$x / (1 + |x|)$."""
    x = _floating("softsign", x)
    return E.div(x, E.add(E.abs(x), 1.0))


def softshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """$x - \\lambda$ if $x > \\lambda$, $x + \\lambda$ if $x < -\\lambda$, else 0."""
    x = _floating("softshrink", x)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    shrunk = E.sub(x, E.mul(E.sign(x), lambd))
    return E.where(np.abs(x._data) > lambd, shrunk, E.mul(x, 0.0))


def hardshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """$x$ if $|x| > \\lambda$ else 0."""
    x = _floating("hardshrink", x)
    return E.where(np.abs(x._data) > lambd, x, E.mul(x, 0.0))


def tanhshrink(x: Tensor) -> Tensor:
    """$x - \\tanh x$."""
    x = _floating("tanhshrink", x)
    return E.sub(x, E.tanh(x))


def threshold(x: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """$x$ if $x >$ threshold else `value`."""
    x = _floating("threshold", x)
    return E.where(x._data > threshold, x, E.add(E.mul(x, 0.0), value))


def softmin(x: Tensor, dim: int | None = None) -> Tensor:
    """$e^{-x_i} / \\sum_j e^{-x_j}$ along `dim`."""
    x = _floating("softmin", x)
    return _softmax(E.neg(x), axis=_implicit_dim(x.ndim) if dim is None else dim)


def rrelu(
    x: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Randomised leaky ReLU (Xu et al. 2015): slope $a \\sim U(l, u)$ per element when
    training, $(l + u) / 2$ in evaluation."""
    x = _floating("rrelu", x)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: need 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if training:
        slope = _gen(generator).uniform(lower, upper, size=x.shape).astype(x._data.dtype)
        return E.where(x._data >= 0, x, E.mul(x, Tensor(slope)))
    return E.where(x._data >= 0, x, E.mul(x, (lower + upper) / 2))


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """$x / \\max(\\|x\\|_p, \\epsilon)$ along `dim`."""
    n = _norm(x, p, axis=dim, keepdims=True)
    return E.div(x, broadcast_to(E.clip(n, min=eps), x.shape))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """$x_1 \\cdot x_2 / (\\max(\\|x_1\\|, \\epsilon) \\max(\\|x_2\\|, \\epsilon))$ along `dim`
    (each norm clamped separately, as PyTorch 2.x)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    from ..ops._base import broadcast_shapes

    shape = broadcast_shapes("cosine_similarity", x1.shape, x2.shape)
    x1, x2 = broadcast_to(x1, shape), broadcast_to(x2, shape)
    n1 = E.clip(_norm(x1, 2, axis=dim), min=eps)
    n2 = E.clip(_norm(x2, 2, axis=dim), min=eps)
    return E.div(_sum(E.mul(x1, x2), axis=dim), E.mul(n1, n2))


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """$\\|x_1 - x_2 + \\epsilon\\|_p$ over the last dim (PyTorch adds eps to the difference)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    from ..ops._base import broadcast_shapes

    shape = broadcast_shapes("pairwise_distance", x1.shape, x2.shape)
    diff = E.add(E.sub(broadcast_to(x1, shape), broadcast_to(x2, shape)), eps)
    return _norm(diff, p, axis=-1, keepdims=keepdim)
