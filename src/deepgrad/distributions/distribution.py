"""The `Distribution` base class: shapes, argument validation and the sampling interface.

A distribution's shape is `batch_shape + event_shape` (PyTorch's convention):
`log_prob` returns one value per batch element, summing over the event.  Draws take a
`numpy.random.Generator` (the run's); without one they use `deepgrad`'s default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.random import _gen
from ..core.state import STATE, no_grad
from ..core.tensor import Tensor, as_tensor
from ..ops.shape import broadcast_to

__all__ = ["Distribution", "as_float", "broadcast_all"]


def as_float(x: Any, like: Tensor | None = None) -> Tensor:
    """`x` as a float Tensor (Python numbers take `like`'s dtype, else the default float)."""
    if isinstance(x, Tensor):
        return x if x.dtype.kind == "f" else Tensor(x._data.astype(STATE.default_float))
    if like is not None:
        return as_tensor(float(x) if np.ndim(x) == 0 else x, like=like)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(x)
    return Tensor(np.asarray(x, dtype=STATE.default_float))


def broadcast_all(*values: Any) -> list[Tensor]:
    """Float tensors broadcast to their common shape (differentiably)."""
    like = next((v for v in values if isinstance(v, Tensor)), None)
    tensors = [as_float(v, like) for v in values]
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return [broadcast_to(t, shape) for t in tensors]


def _shape(sample_shape: Any) -> tuple[int, ...]:
    if isinstance(sample_shape, (int, np.integer)):
        return (int(sample_shape),)
    return tuple(int(s) for s in sample_shape)


class Distribution:
    """Base of every distribution: $p(x)$ with batch and event shapes (PyTorch's API).

    `validate_args` (default True) checks parameters at construction and values in
    `log_prob` against the support, raising `ValueError` naming the class and argument.
    """

    has_rsample = False
    support_name = "real"

    def __init__(
        self,
        batch_shape: tuple[int, ...] = (),
        event_shape: tuple[int, ...] = (),
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        self._validate_args = True if validate_args is None else bool(validate_args)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Shape of independent (not necessarily identical) draws."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """Shape of one draw."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    @property
    def stddev(self) -> Tensor:
        """$\\sqrt{\\mathrm{Var}[x]}$."""
        return self.variance**0.5

    def sample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """A draw of shape `sample_shape + batch_shape + event_shape`, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape, generator).detach()

    def rsample(self, sample_shape: Any = (), generator: np.random.Generator | None = None):
        """A reparameterised draw (differentiable in the parameters), when `has_rsample`."""
        raise TypeError(
            f"{type(self).__name__}.rsample: this distribution has no reparameterised "
            f"sampler (has_rsample=False); use sample()"
        )

    def sample_n(self, n: int, generator: np.random.Generator | None = None) -> Tensor:
        """`n` draws stacked on a new first axis."""
        return self.sample((n,), generator)

    def perplexity(self) -> Tensor:
        """$e^{H(p)}$."""
        return self.entropy().exp()

    def _gen(self, generator: np.random.Generator | None) -> np.random.Generator:
        return _gen(generator)

    def _check(self, ok: Any, what: str) -> None:
        """Raise ValueError `<Class>: <what>` when validation is on and `ok` fails."""
        if self._validate_args and not bool(np.all(ok)):
            raise ValueError(f"{type(self).__name__}: {what}")

    def _validate_sample(self, value: Tensor) -> None:
        """The value's trailing dims must broadcast with batch+event shape, and lie in the support."""
        if not self._validate_args:
            return
        full = self._batch_shape + self._event_shape
        try:
            np.broadcast_shapes(value.shape, full)
        except ValueError:
            raise ValueError(
                f"{type(self).__name__}.log_prob: value shape {value.shape} does not broadcast "
                f"with batch_shape + event_shape {full}"
            ) from None
        if not bool(np.all(self._in_support(value._data))):
            raise ValueError(
                f"{type(self).__name__}.log_prob: expected value argument to be within the "
                f"support ({self.support_name}), got {np.asarray(value._data).ravel()[:6]}"
            )

    def _in_support(self, x: np.ndarray) -> np.ndarray:
        return np.isfinite(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self._batch_shape}, event_shape={self._event_shape})"
