"""Batch transforms: shapes kept, exact flips and crops, Normalize math, rotation, augmentation."""

import numpy as np
import pytest

from deepgrad.core.tensor import Tensor
from deepgrad.data import (
    ColorJitter,
    Compose,
    Cutout,
    GaussianNoise,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    ToFloat,
    augment_offline,
)


def _batch(shape=(8, 3, 10, 12), dtype=np.float32):
    return np.arange(np.prod(shape)).reshape(shape).astype(dtype)


def _rng(seed=0):
    return np.random.default_rng(seed)


ALL = [
    lambda: ToFloat(),
    lambda: Normalize(0.5, 0.25),
    lambda: RandomCrop((10, 12), padding=2),
    lambda: RandomHorizontalFlip(),
    lambda: RandomVerticalFlip(),
    lambda: RandomRotation(15),
    lambda: RandomRotation(15, interpolation="nearest"),
    lambda: ColorJitter(0.3, 0.3),
    lambda: GaussianNoise(0.1),
    lambda: Cutout(4, n_holes=2),
]


@pytest.mark.parametrize("make", ALL)
@pytest.mark.parametrize("shape", [(8, 3, 10, 12), (8, 10, 12), (10, 12)])
def test_shapes_kept_and_kind_returned(make, shape):
    x = _batch(shape)
    out = make()(x, generator=_rng())
    assert isinstance(out, np.ndarray) and out.shape == shape
    out_t = make()(Tensor(x), generator=_rng())
    assert isinstance(out_t, Tensor) and out_t.shape == shape
    np.testing.assert_array_equal(out_t.data, out)


def test_random_transforms_are_reproducible_from_generator():
    x = _batch()
    t = Compose([RandomCrop(8, padding=1), RandomHorizontalFlip(), GaussianNoise(0.1)])
    np.testing.assert_array_equal(t(x, generator=_rng(1)), t(x, generator=_rng(1)))
    assert not np.array_equal(t(x, generator=_rng(1)), t(x, generator=_rng(2)))
    fixed = RandomHorizontalFlip(generator=_rng(4))
    np.testing.assert_array_equal(fixed(x), RandomHorizontalFlip()(x, generator=_rng(4)))


def test_flips_are_exact_per_sample():
    x = _batch()
    out = RandomHorizontalFlip(p=0.5)(x, generator=_rng(3))
    flipped = [np.array_equal(o, s[..., ::-1]) for o, s in zip(out, x)]
    kept = [np.array_equal(o, s) for o, s in zip(out, x)]
    assert all(f != k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(RandomVerticalFlip(p=1.0)(x), x[..., ::-1, :])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)


def test_crop_with_padding_is_a_window_of_the_padded_image():
    x = _batch((6, 2, 5, 5)) + 1  # no zeros inside, so padding is recognisable
    out = RandomCrop(5, padding=2)(x, generator=_rng(0))
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for o, p in zip(out, padded):
        windows = [
            (i, j)
            for i in range(5)
            for j in range(5)
            if np.array_equal(p[:, i : i + 5, j : j + 5], o)
        ]
        assert len(windows) == 1
    assert (out == 0).any()  # some crop reached into the padding
    no_pad = RandomCrop(3)(x, generator=_rng(0))
    assert no_pad.shape == (6, 2, 3, 3) and np.isin(no_pad, x).all()


def test_normalize_math_per_channel_and_scalar():
    x = _rng().random((4, 3, 5, 5)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 1.0, 2.0]
    out = Normalize(mean, std)(x)
    expected = (x - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(std, (1, 3, 1, 1))
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32
    np.testing.assert_allclose(Normalize(0.5, 0.25)(x), (x - 0.5) / 0.25, rtol=1e-6, atol=1e-6)


def test_to_float_scales_uint8():
    x = np.array([[0, 255], [51, 102]], np.uint8)
    out = ToFloat()(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x / 255.0, rtol=1e-6)


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_rotation_by_zero_is_identity(interpolation, dtype):
    x = (_batch((4, 2, 9, 7)) % 251).astype(dtype)
    out = RandomRotation(0, interpolation=interpolation)(x, generator=_rng())
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, x)


def test_rotation_by_90_degrees_matches_rot90():
    x = _rng().random((3, 1, 7, 7)).astype(np.float32)
    out = RandomRotation((90, 90))(x, generator=_rng())
    np.testing.assert_allclose(out, np.rot90(x, k=1, axes=(2, 3)), atol=1e-5)  # anticlockwise


def test_rotation_preserves_a_centred_disc_roughly():
    yy, xx = np.mgrid[:21, :21] - 10
    disc = (np.hypot(yy, xx) <= 6).astype(np.float32)[None]
    out = RandomRotation(30)(disc, generator=_rng(5))
    assert abs(out.sum() - disc.sum()) / disc.sum() < 0.05


def test_color_jitter_and_noise_statistics():
    x = np.full((200, 1, 4, 4), 0.5, np.float32)
    out = ColorJitter(brightness=0.5)(x, generator=_rng())
    factors = out[:, 0, 0, 0] / 0.5
    assert factors.min() >= 0.5 - 1e-6 and factors.max() <= 1.5 + 1e-6 and factors.std() > 0.1
    np.testing.assert_allclose(ColorJitter()(x), x)  # zero jitter is the identity
    noisy = GaussianNoise(std=0.2)(np.zeros((100, 10, 10), np.float32), generator=_rng())
    assert abs(noisy.std() - 0.2) < 0.01 and abs(noisy.mean()) < 0.01


def test_cutout_zeros_a_square_per_sample():
    x = np.ones((10, 2, 16, 16), np.float32)
    out = Cutout(4)(x, generator=_rng())
    holes = (out == 0).all(axis=1).sum(axis=(1, 2))  # both channels cut together
    assert ((holes > 0) & (holes <= 16)).all() and (holes == 16).any()
    assert set(np.unique(out)) <= {0.0, 1.0}


def test_augment_offline_multiplies_size():
    X, y = _batch((5, 1, 6, 6)), np.arange(5)
    Xa, ya = augment_offline(X, y, RandomHorizontalFlip(p=1.0), copies=3, generator=_rng())
    assert Xa.shape == (20, 1, 6, 6) and ya.tolist() == list(range(5)) * 4
    np.testing.assert_array_equal(Xa[:5], X)
    np.testing.assert_array_equal(Xa[5:10], X[..., ::-1])
    Xt, yt = augment_offline(
        Tensor(X), Tensor(y), GaussianNoise(0.1), copies=2, include_original=False
    )
    assert isinstance(Xt, Tensor) and Xt.shape == (10, 1, 6, 6) and yt.shape == (10,)
