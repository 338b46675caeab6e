"""The default random generator and `manual_seed`.

deepgrad keeps one global `numpy.random.Generator` (PCG64) used when no
`generator=` is passed; every random function also accepts an explicit one.
"""

from __future__ import annotations

import numpy as np

_DEFAULT: list[np.random.Generator] = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (and return it), as `torch.manual_seed` does."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _DEFAULT[0] = np.random.default_rng(int(seed))
    return _DEFAULT[0]


def default_generator() -> np.random.Generator:
    """The generator random functions use when none is passed."""
    return _DEFAULT[0]


def get_rng_state() -> dict:
    """The default generator's bit-generator state (JSON-serialisable)."""
    return _DEFAULT[0].bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state saved by `get_rng_state`."""
    _DEFAULT[0].bit_generator.state = state


def _gen(generator: np.random.Generator | None) -> np.random.Generator:
    if generator is None:
        return _DEFAULT[0]
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"generator must be a numpy.random.Generator, got {type(generator).__name__}"
        )
    return generator
