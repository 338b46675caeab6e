"""Synthetic data sets: shapes, dtypes, determinism and the geometry each one promises."""

import numpy as np
import pytest

from deepgrad.data import blobs, circles, moons, sine_regression, spiral, xor


def test_spiral_shape_labels_and_determinism():
    X, y = spiral(n_per_class=50, n_classes=4, noise=0.2, seed=1)
    assert X.shape == (200, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [50] * 4
    X2, y2 = spiral(n_per_class=50, n_classes=4, noise=0.2, seed=1)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert not np.array_equal(X, spiral(n_per_class=50, n_classes=4, seed=2)[0])


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_spiral_arms_follow_the_formula(n_classes):
    """Without noise the radius is t, and angle - 2 pi/C * 2t recovers the arm c exactly."""
    X, y = spiral(n_per_class=300, n_classes=n_classes, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1.0 + 1e-6
    angle = np.arctan2(X[:, 0], X[:, 1])
    step = 2 * np.pi / n_classes
    arm = np.round(angle / step - 2 * r) % n_classes  # = c - 1
    keep = r > 1e-3
    assert (arm[keep] == y[keep]).all()


def test_spiral_radius_grows_along_each_arm():
    """Along an arm (ordered by radius) the unwrapped angle increases: a spiral, not a blob."""
    X, y = spiral(n_per_class=200, n_classes=3, noise=0.0, seed=0)
    for c in range(3):
        pts = X[y == c]
        r = np.hypot(pts[:, 0], pts[:, 1])
        order = np.argsort(r)
        angle = np.unwrap(np.arctan2(pts[order, 0], pts[order, 1]))
        assert np.corrcoef(r[order], angle)[0, 1] > 0.99


def test_moons_circles_xor_blobs_shapes_and_geometry():
    for fn in (moons, circles, xor):
        X, y = fn(n_samples=101, seed=0)
        assert X.shape == (101, 2) and X.dtype == np.float32 and y.dtype == np.int64
        assert set(np.unique(y)) == {0, 1}
    X, y = circles(n_samples=200, noise=0.0, factor=0.3)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius, np.where(y == 0, 1.0, 0.3), rtol=1e-5)
    X, y = xor(n_samples=200)
    assert ((X[:, 0] * X[:, 1] < 0) == (y == 1)).all()
    X, y = blobs(n_samples=300, centers=np.array([[0.0, 0], [20, 20]]), std=0.5, seed=0)
    assert np.bincount(y).tolist() == [150, 150]
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [20, 20], atol=0.2)


def test_sine_regression():
    X, y = sine_regression(n=100, noise=0.0, seed=0)
    assert X.shape == y.shape == (100, 1) and X.dtype == y.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(X), atol=1e-6)
