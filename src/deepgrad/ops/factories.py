"""PyTorch's remaining factories: the NumPy bridge, `*_like` draws, and sampling.

`from_numpy` shares memory with its array both ways (as `Tensor.numpy()` does);
`tensor()` copies.  Random draws take `generator=` (a `numpy.random.Generator`,
`deepgrad.Generator` included) and default to the global one (`manual_seed`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.random import _gen
from ..core.tensor import Tensor, _wrap
from .creation import _float
from .devices import check_device

__all__ = [
    "Generator", "as_tensor", "bernoulli", "empty_like", "from_numpy", "is_tensor", "multinomial", "numel",
    "rand_like", "randint_like", "randn_like", "randperm",
]  # fmt: skip


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing `ndarray`'s memory: writes through either are seen by both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(ndarray).__name__}")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: dtype {ndarray.dtype} is not supported")
    return _wrap(ndarray)


def as_tensor(data: Any, dtype=None, device=None) -> Tensor:
    """`data` as a tensor, sharing memory when it already is an ndarray of that dtype."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype)


def is_tensor(obj: Any) -> bool:
    """True for deepgrad tensors (and Parameters)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of `input`."""
    return input.numel()


def _like_shape(name: str, x: Any, dtype, device) -> tuple[tuple[int, ...], Any]:
    check_device(device, name)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    return x.shape, (x._data.dtype if dtype is None else np.dtype(dtype))


def empty_like(input: Tensor, dtype=None, requires_grad=False, device=None) -> Tensor:
    """An uninitialised tensor with `input`'s shape and dtype."""
    shape, dt = _like_shape("empty_like", input, dtype, device)
    return Tensor(np.empty(shape, dt), requires_grad=requires_grad)


def rand_like(
    input: Tensor, dtype=None, requires_grad=False, device=None, generator=None
) -> Tensor:
    """Uniform [0, 1) samples with `input`'s shape and (float) dtype."""
    shape, dt = _like_shape("rand_like", input, dtype, device)
    arr = _gen(generator).random(shape).astype(dt if dt.kind == "f" else _float(None))
    return Tensor(arr, requires_grad=requires_grad)


def randn_like(
    input: Tensor, dtype=None, requires_grad=False, device=None, generator=None
) -> Tensor:
    """Standard normal samples with `input`'s shape and (float) dtype."""
    shape, dt = _like_shape("randn_like", input, dtype, device)
    arr = _gen(generator).standard_normal(shape).astype(dt if dt.kind == "f" else _float(None))
    return Tensor(arr, requires_grad=requires_grad)


def randint_like(
    input: Tensor,
    low: int = 0,
    high: int | None = None,
    dtype=None,
    device=None,
    generator=None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers uniform on [low, high) with `input`'s shape (`randint_like(x, high)` too)."""
    shape, dt = _like_shape("randint_like", input, dtype, device)
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint_like: need low < high, got low={low}, high={high}")
    out = _wrap(_gen(generator).integers(low, high, size=shape).astype(dt))
    return out.requires_grad_(True) if requires_grad else out


def randperm(n: int, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    check_device(device, "randperm")
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative integer, got {n!r}")
    arr = _gen(generator).permutation(int(n))
    return Tensor(arr.astype(np.int64 if dtype is None else dtype), requires_grad=requires_grad)


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator=None,
) -> Tensor:
    """Draw `num_samples` category indices per row, with probability proportional to `input`.

    `input` is (C,) or (N, C) non-negative weights; without replacement each index
    appears at most once per row (so num_samples <= C).
    """
    w = np.asarray(input._data if isinstance(input, Tensor) else input, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: input must be 1-d or 2-d, got shape {w.shape}")
    rows = w.reshape(-1, w.shape[-1])
    if (rows < 0).any() or not np.isfinite(rows).all() or (rows.sum(1) <= 0).any():
        raise RuntimeError("multinomial: weights must be finite, >= 0 and have a positive sum")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(
            f"multinomial: cannot draw {num_samples} samples without replacement from "
            f"{rows.shape[1]} categories"
        )
    if not replacement and num_samples > (rows > 0).sum(1).min():
        raise RuntimeError("multinomial: fewer non-zero weights than samples without replacement")
    g = _gen(generator)
    out = np.stack(
        [g.choice(r.size, num_samples, replace=replacement, p=r / r.sum()) for r in rows]
    )
    return _wrap(out.reshape(w.shape[:-1] + (num_samples,)).astype(np.int64))


def bernoulli(input: Tensor, p: float | None = None, *, generator=None) -> Tensor:
    """Samples $y_i \\sim \\mathrm{Bernoulli}(x_i)$ (or of `p`), in `input`'s dtype."""
    probs = input._data if p is None else np.full(input.shape, p)
    if (probs < 0).any() or (probs > 1).any():
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    draw = _gen(generator).random(input.shape) < probs
    return _wrap(draw.astype(input._data.dtype))


class Generator(np.random.Generator):
    """PyTorch's `torch.Generator`: a NumPy PCG64 generator with `manual_seed`/`seed`.

    It is a `numpy.random.Generator`, so it goes wherever deepgrad takes `generator=`.
    A new one starts from fresh entropy, as PyTorch's does from a fixed seed; call
    `manual_seed` for reproducible draws.
    """

    def __init__(self, device: str = "cpu") -> None:
        check_device(device, "Generator")
        seed = int(np.random.SeedSequence().entropy % (1 << 63))
        super().__init__(np.random.PCG64(seed))
        self._seed = seed

    def manual_seed(self, seed: int) -> Generator:
        """Reseed in place and return self (so `Generator().manual_seed(0)` chains)."""
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"Generator.manual_seed: seed must be an integer >= 0, got {seed!r}")
        self.bit_generator.state = np.random.PCG64(int(seed)).state
        self._seed = int(seed)
        return self

    def seed(self) -> int:
        """Reseed from fresh entropy; returns the new seed."""
        return self.manual_seed(int(np.random.SeedSequence().entropy % (1 << 63)))._seed

    def initial_seed(self) -> int:
        """The seed last set."""
        return self._seed

    def get_state(self) -> dict:
        """The bit-generator state (JSON-serialisable)."""
        return self.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state from `get_state`."""
        self.bit_generator.state = state
