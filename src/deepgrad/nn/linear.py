"""Affine and reshaping layers: Identity, Linear, Flatten, Unflatten, Embedding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from ..ops.nnops import linear
from ..ops.shape import flatten, reshape
from ..ops.validation import check_dim, check_int
from . import functional as F
from . import init
from .module import Module, Parameter
from .registry import (
    ErrorCase,
    LayerCase,
    exempt_from_errors,
    int_targets,
    layer_cases,
    layer_errors,
    ones_input,
)


def _float(dtype) -> np.dtype:
    return STATE.default_float if dtype is None else np.dtype(dtype)


@layer_cases(LayerCase(lambda: Identity(), [(2, 3)]))
@exempt_from_errors("accepts any input and any arguments, as torch.nn.Identity")
class Identity(Module):
    """$y = x$; accepts and ignores any constructor arguments, as PyTorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


@layer_cases(
    LayerCase(lambda: Linear(3, 2), [(4, 3)]),
    LayerCase(lambda: Linear(3, 2, bias=False), [(2, 5, 3)]),
    LayerCase(lambda: Linear(4, 1), [(4,)]),
)
@layer_errors(
    ErrorCase(
        lambda: Linear(3, 2)(Tensor(np.ones((4, 5)))),
        ValueError,
        r"Linear 3 -> 2 expects input \(\*, 3\), got \(4, 5\)",
    ),
)
class Linear(Module):
    """$y = x W^T + b$, W of shape (out_features, in_features).

    Initialised as PyTorch: W and b ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with
    a = sqrt 5, He et al. 2015).  deepgrad adds `generator=` for reproducible init.

    Memory layout (differs from PyTorch, same values and shape): W is stored
    column-major, i.e. as the transpose of a C-contiguous (in, out) array (the
    Keras/Flax kernel layout), and its gradient comes out in the same layout.
    OpenBLAS computes both x W^T and g^T x faster this way round (about 100 us of
    a 1.6 ms MLP step at batch 128; docs/design.md); `state_dict()` returns
    ordinary C-contiguous copies.

    >>> import deepgrad as dg
    >>> dg.nn.Linear(784, 10)(dg.zeros(32, 784)).shape
    (32, 10)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features = check_int("Linear", "in_features", in_features)
        self.out_features = check_int("Linear", "out_features", out_features)
        dt = _float(dtype)
        self.weight = Parameter(np.empty((in_features, out_features), dt).T)
        if bias:
            self.bias = Parameter(np.empty(out_features, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt 5), bias U(+-1/sqrt(fan_in))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        if x._data.shape[-1:] != (self.in_features,):
            raise self.input_error(f"(*, {self.in_features})", x.shape)
        return linear(x, self.weight, self.bias)

    def _short_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}"

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


@layer_errors(
    ErrorCase(
        lambda: Flatten(3)(ones_input(2, 3)),
        ValueError,
        r"Flatten expects input at least 4 dims, got \(2, 3\)",
    )
)
@layer_cases(
    LayerCase(lambda: Flatten(), [(2, 3, 2)]),
    LayerCase(lambda: Flatten(0, 1), [(2, 3, 2)]),
)
class Flatten(Module):
    """Merge axes start_dim..end_dim into one: (N, C, H, W) -> (N, C H W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim and not -x.ndim <= self.start_dim < x.ndim:
            raise self.input_error(f"at least {self.start_dim + 1} dims", x.shape)
        return flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


@layer_errors(
    ErrorCase(
        lambda: Unflatten(1, (2, 2))(ones_input(2, 3)),
        ValueError,
        r"Unflatten expects input axis 1 of size 4, got \(2, 3\)",
    ),
    ErrorCase(
        lambda: Unflatten(2, (1,))(ones_input(2, 3)),
        IndexError,
        r"Unflatten: dim 2 is out of range",
    ),
)
@layer_cases(LayerCase(lambda: Unflatten(1, (2, 3)), [(2, 6)]))
class Unflatten(Module):
    """Split axis `dim` into `unflattened_size`: the inverse of Flatten."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        d = check_dim(self.describe(), self.dim, x.ndim)
        try:
            return reshape(x, x.shape[:d] + self.unflattened_size + x.shape[d + 1 :])
        except ValueError:
            size = int(np.prod(self.unflattened_size))
            raise self.input_error(f"axis {self.dim} of size {size}", x.shape) from None

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


@layer_errors(
    ErrorCase(
        lambda: Embedding(3, 2)(np.array([3])),
        IndexError,
        r"Embedding 3 x 2: embedding: index 3 is out of range \[0, 3\)",
    ),
    ErrorCase(
        lambda: Embedding(3, 2, padding_idx=5),
        ValueError,
        r"Embedding: padding_idx 5 must be in \[-3, 3\)",
    ),
)
@layer_cases(
    LayerCase(lambda: Embedding(5, 3), input_shapes=[], targets=int_targets((2, 4), 5)),
    LayerCase(
        lambda: Embedding(6, 2, padding_idx=0),
        input_shapes=[],
        targets=lambda rng: [rng.integers(1, 6, size=(7,))],
    ),
    LayerCase(lambda: Embedding(4, 2, sparse=True), input_shapes=[], targets=int_targets((3,), 4)),
)
class Embedding(Module):
    """$y = W[i]$: a lookup table of `num_embeddings` vectors, W ~ N(0, 1) (Bengio et al.
    2003).  The `padding_idx` row starts at zero and receives no gradient.  `sparse=True`
    gives the weight a sparse gradient for `optim.SparseAdam` (a dense `weight.grad` plus
    the rows it holds, see `nn/sparse_grad.py`).  PyTorch's max_norm and
    scale_grad_by_freq options are not supported."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype=None,
        generator: np.random.Generator | None = None,
        *,
        sparse: bool = False,
    ) -> None:
        super().__init__()
        check_int("Embedding", "num_embeddings", num_embeddings)
        check_int("Embedding", "embedding_dim", embedding_dim)
        if padding_idx is not None:
            check_int("Embedding", "padding_idx", padding_idx, None)
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx {padding_idx} must be in "
                    f"[{-num_embeddings}, {num_embeddings})"
                )
            padding_idx %= num_embeddings
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.sparse = bool(sparse)
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), _float(dtype)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        try:
            return F.embedding(indices, self.weight, self.padding_idx, sparse=self.sparse)
        except (IndexError, TypeError) as e:
            raise type(e)(f"{self.describe()}: {e}") from None

    def _short_repr(self) -> str:
        return f"{self.num_embeddings} x {self.embedding_dim}"

    def extra_repr(self) -> str:
        pad = f", padding_idx={self.padding_idx}" if self.padding_idx is not None else ""
        sparse = ", sparse=True" if self.sparse else ""
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}{sparse}"
