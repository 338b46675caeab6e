"""Positional encodings for attention models: fixed sinusoids (Vaswani et al. 2017) and a
learned table (Gehring et al. 2017)."""

from __future__ import annotations

import math

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from . import init
from .dropout import Dropout
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = ["LearnedPositionalEncoding", "SinusoidalPositionalEncoding"]


@layer_cases(LayerCase(lambda: SinusoidalPositionalEncoding(4, max_len=8), [(3, 2, 4)]))
@layer_errors(
    ErrorCase(
        lambda: SinusoidalPositionalEncoding(4, max_len=2)(Tensor(np.ones((3, 1, 4)))),
        ValueError,
        r"SinusoidalPositionalEncoding.*3 positions but max_len is 2",
    )
)
class SinusoidalPositionalEncoding(Module):
    """$x + PE$ with $PE_{t, 2i} = \\sin(t / 10000^{2i/d})$, $PE_{t, 2i+1} = \\cos(\\cdot)$
    (Vaswani et al. 2017), then dropout; input (T, N, d), or (N, T, d) with `batch_first`."""

    def __init__(
        self,
        d_model: int,
        dropout: float = 0.0,
        max_len: int = 5000,
        batch_first: bool = False,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        t = np.arange(max_len)[:, None]
        freq = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2) / d_model)
        pe = np.zeros((max_len, d_model))
        pe[:, 0::2] = np.sin(t * freq)
        pe[:, 1::2] = np.cos(t * freq)[:, : d_model // 2]
        self.register_buffer("pe", pe.astype(STATE.default_float), persistent=False)
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout, generator=generator)

    def forward(self, x: Tensor) -> Tensor:
        steps = x.shape[1 if self.batch_first else 0]
        if steps > self.max_len:
            raise ValueError(
                f"{self.describe()}: input has {steps} positions but max_len is {self.max_len}"
            )
        pe = self.pe._data[:steps].astype(x.dtype)
        pe = pe[None] if self.batch_first else pe[:, None]
        return self.dropout(E.add(x, Tensor(pe)))


@layer_cases(LayerCase(lambda: LearnedPositionalEncoding(5, 3, batch_first=True), [(2, 4, 3)]))
@layer_errors(
    ErrorCase(
        lambda: LearnedPositionalEncoding(2, 3)(Tensor(np.ones((3, 1, 3)))),
        ValueError,
        r"LearnedPositionalEncoding.*3 positions but max_len is 2",
    )
)
class LearnedPositionalEncoding(Module):
    """$x_t + P_t$ with a learned table P (max_len, d) ~ N(0, 0.02^2) (Gehring et al. 2017;
    GPT-2's init); input (T, N, d), or (N, T, d) with `batch_first`."""

    def __init__(
        self,
        max_len: int,
        d_model: int,
        batch_first: bool = False,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        dt = STATE.default_float if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.empty((max_len, d_model), dt))
        init.normal_(self.weight, 0.0, 0.02, generator=generator)
        self.max_len, self.batch_first = max_len, batch_first

    def forward(self, x: Tensor) -> Tensor:
        steps = x.shape[1 if self.batch_first else 0]
        if steps > self.max_len:
            raise ValueError(
                f"{self.describe()}: input has {steps} positions but max_len is {self.max_len}"
            )
        pe = getitem(self.weight, slice(0, steps))
        pe = pe.reshape(1, steps, -1) if self.batch_first else pe.reshape(steps, 1, -1)
        return E.add(x, pe)
