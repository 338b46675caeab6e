"""More torch.nn activation and distance layers: thin modules over
`activation_extra_functional` (CELU, GLU, Hardsigmoid, Hardswish, Mish, Softsign,
Softshrink, Hardshrink, Tanhshrink, Threshold, Softmin, RReLU, CosineSimilarity,
PairwiseDistance)."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from . import activation_extra_functional as XF
from .module import Module
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = [
    "CELU", "GLU", "CosineSimilarity", "Hardshrink", "Hardsigmoid", "Hardswish", "Mish",
    "PairwiseDistance", "RReLU", "Softmin", "Softshrink", "Softsign", "Tanhshrink", "Threshold",
]  # fmt: skip

_KINK = {"avoid": (0.0,), "margin": 0.05}


def _case(ctor, shape=(2, 3), **kw) -> LayerCase:
    return LayerCase(ctor, [shape], **kw)


def _x(*shape) -> Tensor:
    return Tensor(np.ones(shape))


def _int(*shape) -> Tensor:
    return Tensor(np.ones(shape, np.int64))


@layer_cases(_case(lambda: CELU(0.7), **_KINK))
@layer_errors(ErrorCase(lambda: CELU(0.0)(_x(2)), ValueError, r"celu: alpha must not be 0"))
class CELU(Module):
    """$\\max(0, x) + \\min(0, \\alpha (e^{x / \\alpha} - 1))$ (Barron 2017)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return XF.celu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


@layer_cases(_case(lambda: GLU(), shape=(2, 4)), _case(lambda: GLU(1), shape=(2, 2, 3)))
@layer_errors(ErrorCase(lambda: GLU()(_x(2, 3)), ValueError, r"glu: dim -1 .*even size"))
class GLU(Module):
    """$a \\otimes \\sigma(b)$ with the input split in halves a, b along `dim`
    (Dauphin et al. 2017)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return XF.glu(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@layer_cases(_case(lambda: Hardsigmoid(), low=-5, high=5, avoid=(-3.0, 3.0)))
@layer_errors(
    ErrorCase(
        lambda: Hardsigmoid()(_int(2)),
        TypeError,
        r"hardsigmoid: x must be a floating point tensor, got int64",
    )
)
class Hardsigmoid(Module):
    """$\\mathrm{clip}(x / 6 + 1/2, 0, 1)$ (Howard et al. 2019)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return XF.hardsigmoid(x)


@layer_cases(_case(lambda: Hardswish(), low=-5, high=5, avoid=(-3.0, 3.0)))
@layer_errors(
    ErrorCase(
        lambda: Hardswish()(_int(2)),
        TypeError,
        r"hardswish: x must be a floating point tensor, got int64",
    )
)
class Hardswish(Module):
    """$x \\cdot \\mathrm{clip}(x + 3, 0, 6) / 6$ (Howard et al. 2019)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return XF.hardswish(x)


@layer_cases(_case(lambda: Mish()))
@layer_errors(
    ErrorCase(
        lambda: Mish()(_int(2)), TypeError, r"mish: x must be a floating point tensor, got int64"
    )
)
class Mish(Module):
    """$x \\tanh(\\mathrm{softplus}(x))$ (Misra 2019)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return XF.mish(x)


@layer_cases(_case(lambda: Softsign(), **_KINK))
@layer_errors(
    ErrorCase(
        lambda: Softsign()(_int(2)),
        TypeError,
        r"softsign: x must be a floating point tensor, got int64",
    )
)
class Softsign(Module):
    """$x / (1 + |x|)$."""

    def forward(self, x: Tensor) -> Tensor:
        return XF.softsign(x)


@layer_cases(_case(lambda: Softshrink(0.5), avoid=(-0.5, 0.5)))
@layer_errors(ErrorCase(lambda: Softshrink(-1.0)(_x(2)), ValueError, r"softshrink: lambd"))
class Softshrink(Module):
    """$x \\mp \\lambda$ outside $[-\\lambda, \\lambda]$, 0 inside."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return XF.softshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


@layer_cases(_case(lambda: Hardshrink(0.5), avoid=(-0.5, 0.5)))
@layer_errors(
    ErrorCase(lambda: Hardshrink()(_int(2)), TypeError, r"hardshrink: x must be a floating")
)
class Hardshrink(Module):
    """$x$ if $|x| > \\lambda$ else 0."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, x: Tensor) -> Tensor:
        return XF.hardshrink(x, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


@layer_cases(_case(lambda: Tanhshrink()))
@layer_errors(
    ErrorCase(
        lambda: Tanhshrink()(_int(2)),
        TypeError,
        r"tanhshrink: x must be a floating point tensor, got int64",
    )
)
class Tanhshrink(Module):
    """$x - \\tanh x$."""

    def forward(self, x: Tensor) -> Tensor:
        return XF.tanhshrink(x)


@layer_cases(_case(lambda: Threshold(0.1, 20.0), avoid=(0.1,)))
@layer_errors(
    ErrorCase(lambda: Threshold(0.1, 2.0)(_int(2)), TypeError, r"threshold: x must be a floating")
)
class Threshold(Module):
    """$x$ if $x >$ threshold else `value`."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        return XF.threshold(x, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}"


@layer_cases(_case(lambda: Softmin(dim=1)))
@layer_errors(
    ErrorCase(lambda: Softmin(dim=1)(_int(2, 2)), TypeError, r"softmin: x must be a floating")
)
class Softmin(Module):
    """$e^{-x_i} / \\sum_j e^{-x_j}$ along `dim`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return XF.softmin(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@layer_cases(_case(lambda: RReLU(0.1, 0.3), train=False, **_KINK))
@layer_errors(ErrorCase(lambda: RReLU(0.5, 0.1)(_x(2)), ValueError, r"rrelu: need 0 <= lower"))
class RReLU(Module):
    """Randomised leaky ReLU: slope $a \\sim U(l, u)$ per element in training, $(l + u)/2$
    in evaluation (Xu et al. 2015); `generator=` makes the draws reproducible."""

    def __init__(
        self,
        lower: float = 1.0 / 8,
        upper: float = 1.0 / 3,
        inplace: bool = False,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.lower, self.upper, self.generator = lower, upper, generator

    def forward(self, x: Tensor) -> Tensor:
        return XF.rrelu(x, self.lower, self.upper, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}"


@layer_cases(LayerCase(lambda: CosineSimilarity(), [(3, 4), (3, 4)]))
@layer_errors(
    ErrorCase(
        lambda: CosineSimilarity()(_x(3, 4), _x(2, 4)),
        ValueError,
        r"cosine_similarity: shapes \(3, 4\) and \(2, 4\)",
    )
)
class CosineSimilarity(Module):
    """$x_1 \\cdot x_2 / (\\max(\\|x_1\\|, \\epsilon) \\max(\\|x_2\\|, \\epsilon))$ along `dim`."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return XF.cosine_similarity(x1, x2, self.dim, self.eps)


@layer_cases(LayerCase(lambda: PairwiseDistance(), [(3, 4), (3, 4)]))
@layer_errors(
    ErrorCase(
        lambda: PairwiseDistance()(_x(3, 4), _x(3, 5)),
        ValueError,
        r"pairwise_distance: shapes \(3, 4\) and \(3, 5\)",
    )
)
class PairwiseDistance(Module):
    """$\\|x_1 - x_2 + \\epsilon\\|_p$ over the last dim."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return XF.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
