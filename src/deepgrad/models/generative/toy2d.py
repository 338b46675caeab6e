"""The 2-D GAN benchmark: a ring of 8 Gaussians and how many of its modes a sampler covers."""

from __future__ import annotations

import numpy as np

__all__ = ["mode_coverage", "ring_centres", "ring_of_gaussians"]


def ring_centres(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """(modes, 2) centres evenly spaced on a circle."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(
    n: int, generator: np.random.Generator, modes: int = 8, radius: float = 2.0, std: float = 0.05
) -> np.ndarray:
    """n points (float32) from an equal mixture of isotropic Gaussians on a ring
    (Metz et al. 2017's mode-collapse benchmark)."""
    if n < 1 or modes < 1 or std <= 0:
        raise ValueError(f"ring_of_gaussians: n, modes >= 1 and std > 0, got {n}, {modes}, {std}")
    centres = ring_centres(modes, radius)
    which = generator.integers(0, modes, n)
    return (centres[which] + std * generator.standard_normal((n, 2))).astype(np.float32)


def mode_coverage(
    samples: np.ndarray, modes: int = 8, radius: float = 2.0, std: float = 0.05,
    min_fraction: float = 0.01,
) -> tuple[int, float]:  # fmt: skip
    """(modes covered, fraction of high-quality samples).  A sample is high quality within
    3 std of its nearest centre; a mode is covered when it gets at least `min_fraction` of
    the samples that way (the criterion of Srivastava et al. 2017, VEEGAN)."""
    centres = ring_centres(modes, radius)
    d = np.linalg.norm(np.asarray(samples)[:, None, :] - centres[None], axis=2)
    nearest, good = d.argmin(1), d.min(1) < 3 * std
    counts = np.bincount(nearest[good], minlength=modes)
    return int((counts >= min_fraction * len(samples)).sum()), float(good.mean())
