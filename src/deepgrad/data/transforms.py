"""Batch transforms and data augmentation, vectorised over the batch.

Inputs are (N, C, H, W) or (N, H, W) arrays; a 2-D (H, W) input is one image.
The spatial axes are always the last two.  A Tensor in gives a Tensor out
(the data only: augmentation is not differentiated), an ndarray gives an ndarray.
Random transforms draw one decision per sample from `generator`, given at call
time or at construction, else deepgrad's default generator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad.core.random import default_generator
from deepgrad.core.tensor import Tensor


class Transform:
    """Base class: `t(x, generator=None)` unwraps a Tensor, calls `apply`, wraps the result."""

    def __init__(self, generator: np.random.Generator | None = None) -> None:
        self.generator = generator

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform a batch array (override)."""
        raise TypeError(f"{type(self).__name__} must override apply")

    def __call__(self, x: Any, generator: np.random.Generator | None = None) -> Any:
        rng = generator if generator is not None else getattr(self, "generator", None)
        rng = rng if rng is not None else default_generator()
        if isinstance(x, Tensor):
            return Tensor(self.apply(x._data, rng))
        return self.apply(np.asarray(x), rng)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({fields})"


def _as_nchw(x: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
    """View any supported layout as (N, C, H, W); also return the shape to restore."""
    if x.ndim == 2:
        return x[None, None], x.shape
    if x.ndim == 3:
        return x[:, None], x.shape
    if x.ndim == 4:
        return x, x.shape
    raise ValueError(f"transforms expect (H, W), (N, H, W) or (N, C, H, W), got shape {x.shape}")


def _to_dtype(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast a float result back to `dtype`, rounding and clipping for integer dtypes."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(y), info.min, info.max).astype(dtype)
    return y.astype(dtype, copy=False)


def _float(x: np.ndarray) -> np.ndarray:
    """`x` as floating point (float32 for integer input)."""
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


class Compose(Transform):
    """Apply transforms in order: Compose([f, g])(x) = g(f(x)), sharing the generator."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        super().__init__()
        self.transforms = list(transforms)

    def __call__(self, x: Any, generator: np.random.Generator | None = None) -> Any:
        for t in self.transforms:
            x = t(x, generator=generator) if isinstance(t, Transform) else t(x)
        return x


class ToFloat(Transform):
    """x -> float(x) * scale (default scale 1/255 maps uint8 pixels to [0, 1])."""

    def __init__(self, scale: float = 1 / 255, dtype: Any = np.float32) -> None:
        super().__init__()
        self.scale, self.dtype = scale, np.dtype(dtype)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x.astype(self.dtype) * self.dtype.type(self.scale)


class Normalize(Transform):
    """x -> (x - mean) / std, per channel when mean/std are sequences of length C."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        super().__init__()
        self.mean, self.std = mean, std
        if np.any(np.asarray(std) == 0):
            raise ValueError(f"Normalize: std must be non-zero, got {std}")

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = _float(x)
        mean, std = np.asarray(self.mean, x.dtype), np.asarray(self.std, x.dtype)
        if mean.ndim or std.ndim:
            if x.ndim != 4:
                raise ValueError(f"Normalize: per-channel stats need (N, C, H, W), got {x.shape}")
            mean, std = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
        return (x - mean) / std


class RandomCrop(Transform):
    """Pad each side by `padding` (with `fill`), then crop a random `size` window per sample."""

    def __init__(
        self, size: int | tuple[int, int], padding: int = 0, fill: float = 0, generator=None
    ):
        super().__init__(generator)
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.fill = padding, fill

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(x)
        p, (h, w) = self.padding, self.size
        xp = np.pad(x4, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
        n, c, hp, wp = xp.shape
        if h > hp or w > wp:
            raise ValueError(f"RandomCrop: crop {self.size} larger than padded image {(hp, wp)}")
        top = rng.integers(0, hp - h + 1, size=n)
        left = rng.integers(0, wp - w + 1, size=n)
        rows = (top[:, None] + np.arange(h))[:, None, :, None]
        cols = (left[:, None] + np.arange(w))[:, None, None, :]
        out = xp[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None], rows, cols]
        return out.reshape(*shape[:-2], h, w)


class RandomHorizontalFlip(Transform):
    """Mirror the last axis (x -> x[..., ::-1]) of each sample with probability p."""

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__(generator)
        self.p = p

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(x)
        flip = rng.random(len(x4)) < self.p
        out = x4.copy()
        out[flip] = x4[flip, ..., ::-1]
        return out.reshape(shape)


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the height axis (x -> x[..., ::-1, :]) of each sample with probability p."""

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(x)
        flip = rng.random(len(x4)) < self.p
        out = x4.copy()
        out[flip] = x4[flip, :, ::-1, :]
        return out.reshape(shape)


class RandomRotation(Transform):
    """Rotate each sample about its centre, counter-clockwise by theta ~ U[-degrees, degrees].

    `degrees=(lo, hi)` gives U[lo, hi].  Inverse mapping: output pixel p samples the
    input at the point that rotates onto it, R(-theta)(p - c) + c, with
    bilinear or nearest interpolation; points falling outside take `fill`.
    """

    def __init__(
        self,
        degrees: float | tuple[float, float],
        interpolation: str = "bilinear",
        fill: float = 0,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.degrees = (-degrees, degrees) if np.isscalar(degrees) else tuple(degrees)
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"RandomRotation: interpolation must be bilinear or nearest, got {interpolation!r}"
            )
        self.interpolation, self.fill = interpolation, fill

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(x)
        n, _, h, w = x4.shape
        theta = np.deg2rad(rng.uniform(self.degrees[0], self.degrees[1], size=n))[:, None, None]
        cy, cx = (h - 1) / 2, (w - 1) / 2
        yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
        cos, sin = np.cos(theta), np.sin(theta)
        # (N, H, W) source coordinates; with rows pointing down, positive theta turns the
        # picture counter-clockwise on screen (torchvision's convention)
        src_y = cos * yy + sin * xx + cy
        src_x = cos * xx - sin * yy + cx
        out = _sample(np.moveaxis(x4, 1, -1), src_y, src_x, self.interpolation, self.fill)
        return _to_dtype(np.moveaxis(out, -1, 1), x.dtype).reshape(shape)


def _sample(xt: np.ndarray, sy: np.ndarray, sx: np.ndarray, mode: str, fill: float) -> np.ndarray:
    """Sample channels-last images xt (N, H, W, C) at float coordinates (N, H', W')."""
    n, h, w, _ = xt.shape
    batch = np.arange(n)[:, None, None]

    def tap(iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        values = xt[batch, np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        return np.where(inside[..., None], values, fill)

    if mode == "nearest":
        return tap(np.rint(sy).astype(np.int64), np.rint(sx).astype(np.int64))
    y0, x0 = np.floor(sy), np.floor(sx)
    wy, wx = (sy - y0)[..., None], (sx - x0)[..., None]
    y0, x0 = y0.astype(np.int64), x0.astype(np.int64)
    top = tap(y0, x0) * (1 - wx) + tap(y0, x0 + 1) * wx
    bottom = tap(y0 + 1, x0) * (1 - wx) + tap(y0 + 1, x0 + 1) * wx
    return top * (1 - wy) + bottom * wy


class ColorJitter(Transform):
    """Random brightness and contrast per sample (torchvision's ColorJitter, two factors).

    x -> b x with b ~ U[1 - brightness, 1 + brightness], then
    x -> c (x - mean(x)) + mean(x) with c ~ U[1 - contrast, 1 + contrast];
    clipped to `clip` when given (e.g. (0, 1) for images scaled to [0, 1]).
    """

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        clip: tuple[float, float] | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.brightness, self.contrast, self.clip = brightness, contrast, clip

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(_float(x))
        n = len(x4)
        b = rng.uniform(max(0.0, 1 - self.brightness), 1 + self.brightness, size=(n, 1, 1, 1))
        c = rng.uniform(max(0.0, 1 - self.contrast), 1 + self.contrast, size=(n, 1, 1, 1))
        out = x4 * b
        mean = out.mean(axis=(1, 2, 3), keepdims=True)
        out = c * (out - mean) + mean
        if self.clip is not None:
            out = np.clip(out, *self.clip)
        return out.astype(x4.dtype, copy=False).reshape(shape)


class GaussianNoise(Transform):
    """x -> x + std * N(0, I), independently per element (float output)."""

    def __init__(self, std: float = 0.1, generator: np.random.Generator | None = None) -> None:
        super().__init__(generator)
        self.std = std

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = _float(x)
        return (x + self.std * rng.standard_normal(x.shape)).astype(x.dtype, copy=False)


class Cutout(Transform):
    """Set `n_holes` random size x size squares per sample to `fill` (DeVries & Taylor 2017).

    Square centres are uniform over the image, so squares may be clipped by the border.
    """

    def __init__(
        self,
        size: int,
        n_holes: int = 1,
        fill: float = 0,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.size, self.n_holes, self.fill = size, n_holes, fill

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x4, shape = _as_nchw(x)
        n, _, h, w = x4.shape
        cy = rng.integers(0, h, size=(n, self.n_holes, 1))
        cx = rng.integers(0, w, size=(n, self.n_holes, 1))
        lo = self.size // 2
        in_rows = (np.arange(h) >= cy - lo) & (np.arange(h) < cy - lo + self.size)  # (N, K, H)
        in_cols = (np.arange(w) >= cx - lo) & (np.arange(w) < cx - lo + self.size)  # (N, K, W)
        mask = (in_rows[:, :, :, None] & in_cols[:, :, None, :]).any(axis=1)  # (N, H, W)
        out = np.where(mask[:, None], np.asarray(self.fill, x4.dtype), x4)
        return out.reshape(shape)


def augment_offline(
    X: Any,
    y: Any,
    transform: Callable,
    copies: int = 1,
    generator: np.random.Generator | None = None,
    include_original: bool = True,
) -> tuple[Any, Any]:
    """Materialise an enlarged data set: X followed by `copies` transformed copies of it.

    The result holds N * (copies + 1) samples (N * copies without the original),
    labels repeated to match; copies keep X's dtype.  Online augmentation instead
    passes the transform to `DataLoader(transform=...)`, applied to every batch.
    """
    if copies < 0 or (copies == 0 and not include_original):
        raise ValueError(f"augment_offline: copies={copies} leaves nothing to return")
    rng = generator if generator is not None else default_generator()
    xs = X._data if isinstance(X, Tensor) else np.asarray(X)
    ys = y._data if isinstance(y, Tensor) else np.asarray(y)
    if len(xs) != len(ys):
        raise ValueError(f"augment_offline: X has {len(xs)} samples but y has {len(ys)}")
    parts = [xs] if include_original else []
    for _ in range(copies):
        out = transform(xs, generator=rng) if isinstance(transform, Transform) else transform(xs)
        parts.append(_to_dtype(np.asarray(out._data if isinstance(out, Tensor) else out), xs.dtype))
    X_aug, y_aug = np.concatenate(parts), np.concatenate([ys] * len(parts))
    X_out = Tensor(X_aug) if isinstance(X, Tensor) else X_aug
    return X_out, (Tensor(y_aug) if isinstance(y, Tensor) else y_aug)
