"""The default random generator and `manual_seed`.

deepgrad keeps one global `numpy.random.Generator` (PCG64) used when no
`generator=` is passed; every random function also accepts an explicit one.
As in PyTorch 2.x, a process starts from fresh OS entropy: two runs differ
unless the program calls `manual_seed` (then every draw is reproducible).
"""

from __future__ import annotations

import numpy as np

_DEFAULT: list[np.random.Generator] = [np.random.default_rng()]
_INITIAL_SEED: list[int] = [int(np.random.SeedSequence().entropy % (1 << 63))]
_DEFAULT[0] = np.random.default_rng(_INITIAL_SEED[0])


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (and return it), as `torch.manual_seed` does."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _DEFAULT[0] = np.random.default_rng(int(seed))
    _INITIAL_SEED[0] = int(seed)
    return _DEFAULT[0]


def seed() -> int:
    """Reseed the default generator from fresh entropy; returns the seed (`torch.seed`)."""
    fresh = int(np.random.SeedSequence().entropy % (1 << 63))
    manual_seed(fresh)
    return fresh


def initial_seed() -> int:
    """The seed the default generator started from (`torch.initial_seed`)."""
    return _INITIAL_SEED[0]


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
