"""Activation layers: thin modules over `deepgrad.nn.functional`, plus the learned ones
(PReLU, Swish with a learned beta, Maxout)."""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor
from ..ops.nnops import linear
from ..ops.reduce import max as _max
from ..ops.shape import reshape
from ..ops.validation import check_int
from . import activation_functional as AF
from . import init
from .linear import _float
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors, ones_input

_KINK = {"avoid": (0.0,), "margin": 0.05}


def _case(ctor, shape=(2, 3), **kw) -> LayerCase:
    return LayerCase(ctor, [shape], **kw)


@layer_errors(
    ErrorCase(
        lambda: Sigmoid()(ones_input(2, dtype=complex)),
        TypeError,
        r"sigmoid: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: Sigmoid(), low=-4, high=4))
class Sigmoid(Module):
    """$\\sigma(x) = 1 / (1 + e^{-x})$."""

    def forward(self, x: Tensor) -> Tensor:
        return AF.sigmoid(x)


@layer_errors(
    ErrorCase(
        lambda: Tanh()(ones_input(2, dtype=complex)),
        TypeError,
        r"tanh: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: Tanh()))
class Tanh(Module):
    """$\\tanh x$ (LeCun et al. 1998 recommend it over the sigmoid: zero-centred)."""

    def forward(self, x: Tensor) -> Tensor:
        return AF.tanh(x)


@layer_errors(
    ErrorCase(
        lambda: ReLU()(ones_input(2, dtype=complex)),
        TypeError,
        r"relu: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: ReLU(), **_KINK))
class ReLU(Module):
    """$\\max(0, x)$ (Nair & Hinton 2010); `inplace=True` overwrites the input."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.relu(x, self.inplace)


@layer_errors(
    ErrorCase(
        lambda: ReLU6()(ones_input(2, dtype=complex)),
        TypeError,
        r"hardtanh: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: ReLU6(), avoid=(0.0, 6.0), low=-3, high=8))
class ReLU6(Module):
    """$\\min(\\max(0, x), 6)$."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.relu6(x, self.inplace)


@layer_errors(
    ErrorCase(
        lambda: LeakyReLU()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"leaky_relu: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: LeakyReLU(0.1), **_KINK))
class LeakyReLU(Module):
    """$x$ if $x > 0$ else $a x$ (Maas et al. 2013)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.leaky_relu(x, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


@layer_errors(
    ErrorCase(
        lambda: PReLU(3)(ones_input(2, 4)), ValueError, r"PReLU.* expects input \(N, 3, \*\)"
    ),
    ErrorCase(
        lambda: PReLU(2)(ones_input(2, 2, dtype=np.int64)),
        TypeError,
        r"prelu: input must be a floating-point tensor",
    ),
)
@layer_cases(
    _case(lambda: PReLU(), **_KINK),
    _case(lambda: PReLU(3), shape=(2, 3, 4), **_KINK),
)
class PReLU(Module):
    """$x$ if $x > 0$ else $a_c x$, slope a learned per channel (axis 1), init 0.25
    (He et al. 2015)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype=None) -> None:
        super().__init__()
        self.num_parameters = check_int("PReLU", "num_parameters", num_parameters, 1)
        self.weight = Parameter(np.full(num_parameters, init, _float(dtype)))

    def forward(self, x: Tensor) -> Tensor:
        n = self.num_parameters
        if n != 1 and (x.ndim < 2 or x.shape[1] != n):
            raise self.input_error(f"(N, {n}, *) with {n} channels on axis 1", x.shape)
        return AF.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


@layer_errors(
    ErrorCase(
        lambda: ELU()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"elu: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: ELU(0.7), **_KINK))
class ELU(Module):
    """$x$ if $x > 0$ else $\\alpha (e^x - 1)$ (Clevert et al. 2016)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.elu(x, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


@layer_errors(
    ErrorCase(
        lambda: SELU()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"selu: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: SELU(), **_KINK))
class SELU(Module):
    """$\\lambda\\,\\mathrm{elu}(x, \\alpha)$, $\\lambda \\approx 1.0507$, $\\alpha \\approx 1.6733$
    (Klambauer et al. 2017)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.selu(x, self.inplace)


@layer_errors(
    ErrorCase(
        lambda: GELU("fast"), ValueError, r"GELU: approximate must be 'none' or 'tanh', got 'fast'"
    ),
    ErrorCase(
        lambda: GELU()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"gelu: input must be a floating-point tensor, got dtype int64",
    ),
)
@layer_cases(_case(lambda: GELU()), _case(lambda: GELU("tanh")))
class GELU(Module):
    """$x \\Phi(x)$ with the exact erf, or its tanh approximation (Hendrycks & Gimpel 2016)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return AF.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


@layer_errors(
    ErrorCase(
        lambda: SiLU()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"silu: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: SiLU()))
class SiLU(Module):
    """$x \\sigma(x)$ (Elfwing et al. 2018)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.silu(x, self.inplace)


@layer_errors(
    ErrorCase(
        lambda: Swish()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"swish: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: Swish(1.5)), _case(lambda: Swish(0.8, learnable=True)))
class Swish(Module):
    """$x \\sigma(\\beta x)$ with a fixed or learned beta (Ramachandran et al. 2017).
    Not in PyTorch (its SiLU is beta = 1)."""

    def __init__(self, beta: float = 1.0, learnable: bool = False, dtype=None) -> None:
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = Parameter(np.asarray(beta, _float(dtype)))
        else:
            self.beta = float(beta)

    def forward(self, x: Tensor) -> Tensor:
        return AF.swish(x, self.beta)

    def extra_repr(self) -> str:
        beta = float(self.beta._data) if self.learnable else self.beta
        return f"beta={beta:g}, learnable={self.learnable}"


@layer_errors(
    ErrorCase(
        lambda: Softplus()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"softplus: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(
    _case(lambda: Softplus()), _case(lambda: Softplus(beta=2.0, threshold=3.0), avoid=(1.5,))
)
class Softplus(Module):
    """$\\frac{1}{\\beta}\\log(1 + e^{\\beta x})$, linear above `threshold` (Dugas et al. 2001)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return AF.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


@layer_errors(
    ErrorCase(
        lambda: LogSigmoid()(ones_input(2, dtype=np.int64)),
        TypeError,
        r"logsigmoid: input must be a floating-point tensor, got dtype int64",
    )
)
@layer_cases(_case(lambda: LogSigmoid()))
class LogSigmoid(Module):
    """$\\log \\sigma(x)$."""

    def forward(self, x: Tensor) -> Tensor:
        return AF.logsigmoid(x)


@layer_errors(
    ErrorCase(
        lambda: Softmax(dim=2)(ones_input(2, 3)),
        IndexError,
        r"softmax: dim 2 is out of range for a tensor with 2 dims",
    ),
    ErrorCase(
        lambda: Softmax(dim=0)(ones_input(2, dtype=np.int64)),
        TypeError,
        r"softmax: input must be a floating-point tensor, got dtype int64",
    ),
)
@layer_cases(_case(lambda: Softmax(dim=1)), _case(lambda: Softmax(dim=0), shape=(3, 2, 2)))
class Softmax(Module):
    """$e^{x_i} / \\sum_j e^{x_j}$ along `dim`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return AF.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@layer_errors(
    ErrorCase(
        lambda: LogSoftmax(dim=-3)(ones_input(2, 3)),
        IndexError,
        r"log_softmax: dim -3 is out of range",
    ),
    ErrorCase(
        lambda: LogSoftmax(dim=0)(ones_input(2, dtype=np.int64)),
        TypeError,
        r"log_softmax: input must be a floating-point tensor, got dtype int64",
    ),
)
@layer_cases(_case(lambda: LogSoftmax(dim=-1)))
class LogSoftmax(Module):
    """$x_i - \\log \\sum_j e^{x_j}$ along `dim`."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return AF.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


@layer_errors(
    ErrorCase(
        lambda: Hardtanh(1.0, -1.0),
        ValueError,
        r"Hardtanh: min_val 1.0 must not exceed max_val -1.0",
    ),
    ErrorCase(
        lambda: Hardtanh()(ones_input(2, dtype=complex)),
        TypeError,
        r"hardtanh: complex tensors are not supported",
    ),
)
@layer_cases(
    _case(lambda: Hardtanh(), avoid=(-1.0, 1.0)),
    _case(lambda: Hardtanh(-0.5, 2.0), avoid=(-0.5, 2.0), high=3),
)
class Hardtanh(Module):
    """$\\min(\\max(x, a), b)$, default [-1, 1]."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} must not exceed max_val {max_val}")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, x: Tensor) -> Tensor:
        return AF.hardtanh(x, self.min_val, self.max_val, self.inplace)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


@layer_errors(
    ErrorCase(
        lambda: Step()(ones_input(2, dtype=complex)),
        TypeError,
        r"step: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: Step(), **_KINK), _case(lambda: Step(0.5), avoid=(0.5,)))
class Step(Module):
    """Heaviside $H(x - \\theta)$: the perceptron's unit (Rosenblatt 1958).  Its derivative
    is 0 wherever it exists, so gradient descent cannot train through it: a teaching layer."""

    def __init__(self, threshold: float = 0.0) -> None:
        super().__init__()
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return AF.step(x, self.threshold)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


@layer_errors(
    ErrorCase(
        lambda: LinearActivation()(ones_input(2, dtype=complex)),
        TypeError,
        r"linear_activation: complex tensors are not supported",
    )
)
@layer_cases(_case(lambda: LinearActivation()), _case(lambda: LinearActivation(0.5)))
class LinearActivation(Module):
    """$f(x) = a x$: a network of linear layers with it is one linear map (a teaching layer)."""

    def __init__(self, slope: float = 1.0) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x: Tensor) -> Tensor:
        return AF.linear_activation(x, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"


@layer_errors(
    ErrorCase(lambda: Maxout(3, 2, k=0), ValueError, r"Maxout: k must be at least 1, got 0"),
    ErrorCase(
        lambda: Maxout(3, 2)(ones_input(2, 4)), ValueError, r"Maxout.* expects input \(\*, 3\)"
    ),
)
@layer_cases(
    LayerCase(lambda: Maxout(3, 2, k=3), [(4, 3)]),
    LayerCase(lambda: Maxout(2, 1, k=2), [(2, 3, 2)]),
)
class Maxout(Module):
    """$y_j = \\max_{i \\le k} (x W_{ji}^T + b_{ji})$: the max of k affine pieces, a learned
    convex piecewise-linear activation (Goodfellow et al. 2013).  Not in PyTorch.  Weight
    (out_features * k, in_features), initialised as Linear."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        k: int = 2,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        check_int("Maxout", "in_features", in_features)
        check_int("Maxout", "out_features", out_features)
        check_int("Maxout", "k", k, None)
        if k < 1:
            raise ValueError(f"Maxout: k must be at least 1, got {k}")
        self.in_features, self.out_features, self.k = in_features, out_features, k
        dt = _float(dtype)
        self.weight = Parameter(np.empty((out_features * k, in_features), dt))
        self.bias = Parameter(np.empty(out_features * k, dt))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        if x._data.shape[-1:] != (self.in_features,):
            raise self.input_error(f"(*, {self.in_features})", x.shape)
        z = linear(x, self.weight, self.bias)
        z = reshape(z, z.shape[:-1] + (self.out_features, self.k))
        return _max(z, axis=-1)

    def _short_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, k={self.k}"

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, k={self.k}"
