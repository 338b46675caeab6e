"""Small generated data sets for experiments and tests, each a pure function of its seed.

Classification sets return `X` float32 (N, 2) and `y` int64 (N,); the
regression set returns float32 `X` and `y` of shape (N, 1).
"""

from __future__ import annotations

import numpy as np


def _finish(X: np.ndarray, y: np.ndarray, rng: np.random.Generator, shuffle: bool):
    """Cast to (float32, int64) and optionally shuffle the rows together."""
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X.astype(np.float32), y.astype(np.int64)


def _split_counts(n: int, k: int) -> np.ndarray:
    """`n` samples over `k` groups, the first `n % k` groups one larger."""
    counts = np.full(k, n // k)
    counts[: n % k] += 1
    return counts


def spiral(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms: x_c(t) = t (sin a, cos a) + noise N(0, I), a = 2 pi/C (2t + c - 1).

    `t ~ U[0, 1]` and c = 1..C (labels c - 1); rows are grouped by class.  From
    the NYU Deep Learning practicum (Canziani & LeCun).

    >>> X, y = spiral(n_per_class=5, n_classes=2)
    >>> X.shape, X.dtype, y.tolist()
    ((10, 2), dtype('float32'), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    rng = np.random.default_rng(seed)
    c = np.repeat(np.arange(1, n_classes + 1), n_per_class)
    t = rng.uniform(0.0, 1.0, size=c.shape)
    angle = 2 * np.pi / n_classes * (2 * t + c - 1)
    X = t[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    X = X + noise * rng.standard_normal(X.shape)
    return _finish(X, c - 1, rng, shuffle=False)


def moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0, shuffle: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles: (cos s, sin s) and (1 - cos s, 0.5 - sin s), s in [0, pi].

    Gaussian noise of std `noise` is added (as scikit-learn's `make_moons`).
    """
    rng = np.random.default_rng(seed)
    n_out, n_in = _split_counts(n_samples, 2)
    s_out, s_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    outer = np.stack([np.cos(s_out), np.sin(s_out)], axis=1)
    inner = np.stack([1 - np.cos(s_in), 0.5 - np.sin(s_in)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n_out, n_in])
    return _finish(X, y, rng, shuffle)


def circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int = 0,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles of radius 1 (label 0) and `factor` (label 1), plus N(0, noise^2)."""
    if not 0 < factor < 1:
        raise ValueError(f"circles: factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    n_out, n_in = _split_counts(n_samples, 2)
    s_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    s_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    outer = np.stack([np.cos(s_out), np.sin(s_out)], axis=1)
    inner = factor * np.stack([np.cos(s_in), np.sin(s_in)], axis=1)
    X = np.concatenate([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.repeat([0, 1], [n_out, n_in])
    return _finish(X, y, rng, shuffle)


def xor(n_samples: int = 200, noise: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on [-1, 1]^2 labelled y = [x0 > 0] XOR [x1 > 0], then N(0, noise^2) added."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = (X[:, 0] > 0) ^ (X[:, 1] > 0)
    X = X + noise * rng.standard_normal(X.shape)
    return _finish(X, y, rng, shuffle=False)


def blobs(
    n_samples: int = 300,
    centers: int | np.ndarray = 3,
    std: float = 1.0,
    seed: int = 0,
    box: tuple[float, float] = (-10.0, 10.0),
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs: x = mu_y + std N(0, I), classes as equal as possible.

    `centers` is a count (centres drawn uniformly in `box`^2) or a (K, D) array.
    """
    rng = np.random.default_rng(seed)
    if np.ndim(centers) == 0:
        mu = rng.uniform(box[0], box[1], size=(int(centers), 2))
    else:
        mu = np.asarray(centers, dtype=np.float64)
        if mu.ndim != 2:
            raise ValueError(f"blobs: centers must be an int or a (K, D) array, got {mu.shape}")
    y = np.repeat(np.arange(len(mu)), _split_counts(n_samples, len(mu)))
    X = mu[y] + std * rng.standard_normal((n_samples, mu.shape[1]))
    return _finish(X, y, rng, shuffle)


def sine_regression(
    n: int = 200, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sine: x ~ U[-pi, pi], y = sin x + noise N(0, 1); both float32 (N, 1)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)
