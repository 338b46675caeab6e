"""Attribution maps for image classifiers; every function returns NumPy arrays.

    saliency              |d f_c / d x|, max over channels       (Simonyan et al. 2014)
    gradient_x_input      x * d f_c / d x                         (Shrikumar et al. 2016)
    smoothgrad            E_eps[d f_c / d x (x + eps)]             (Smilkov et al. 2017)
    integrated_gradients  (x - x') int_0^1 d f_c / d x (x' + a (x - x')) da
                          with completeness sum = f_c(x) - f_c(x') (Sundararajan et al. 2017)
    occlusion             drop of f_c when a patch is greyed out  (Zeiler & Fergus 2014)

f_c is the model's output (logit) for class c (default: the predicted class).  Put the
model in eval mode first so batch norm and dropout act per sample.
"""

from __future__ import annotations

import numpy as np

from ..core import autodiff
from ..core.random import _gen
from ..core.state import no_grad
from ..core.tensor import Tensor

__all__ = ["gradient_x_input", "integrated_gradients", "occlusion", "saliency", "smoothgrad"]


def _scores(model, x: np.ndarray, target) -> tuple[np.ndarray, np.ndarray]:
    """Class scores f_c(x) per sample and the (resolved) targets."""
    with no_grad():
        out = model(Tensor(x))._data
    if target is None:
        target = out.argmax(axis=1)
    target = np.broadcast_to(np.asarray(target, dtype=np.int64), (x.shape[0],))
    return out[np.arange(x.shape[0]), target], target


def _input_grad(model, x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d f_target / d x for each sample (one backward pass for the batch)."""
    xt = Tensor(x, requires_grad=True)
    out = model(xt)
    score = out[np.arange(x.shape[0]), target].sum()
    (g,) = autodiff.grad(score, [xt])
    return g._data


def _as_batch(x) -> np.ndarray:
    arr = np.asarray(x._data if isinstance(x, Tensor) else x)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float32)
    return arr


def saliency(model, x, target=None, reduce: str | None = "max") -> np.ndarray:
    """Vanilla gradient map $|\\partial f_c / \\partial x|$ (Simonyan et al. 2014).

    reduce="max": (N, H, W), the maximum over channels of the absolute gradient;
    reduce=None: the raw gradient (N, C, H, W).
    """
    x = _as_batch(x)
    _, target = _scores(model, x, target)
    g = _input_grad(model, x, target)
    if reduce is None:
        return g
    if reduce != "max":
        raise ValueError(f"saliency: reduce must be 'max' or None, got {reduce!r}")
    return np.abs(g).max(axis=1)


def gradient_x_input(model, x, target=None) -> np.ndarray:
    """$x \\odot \\partial f_c / \\partial x$, shape of x."""
    x = _as_batch(x)
    _, target = _scores(model, x, target)
    return x * _input_grad(model, x, target)


def smoothgrad(model, x, target=None, n_samples: int = 25, noise_level: float = 0.15,
               generator: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    """Average gradient over noisy copies $x + \\epsilon$, $\\epsilon \\sim N(0, \\sigma^2)$ with
    $\\sigma$ = noise_level (max(x) - min(x)) per sample (Smilkov et al. 2017); shape of x."""
    x = _as_batch(x)
    rng = _gen(generator)
    _, target = _scores(model, x, target)
    axes = tuple(range(1, x.ndim))
    sigma = noise_level * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True))
    total = np.zeros_like(x)
    for _ in range(n_samples):
        noisy = (x + sigma * rng.standard_normal(x.shape)).astype(x.dtype)
        total += _input_grad(model, noisy, target)
    return total / n_samples


def integrated_gradients(model, x, target=None, baseline=None, steps: int = 50,
                         return_delta: bool = False):  # fmt: skip
    """$(x - x') \\odot \\int_0^1 \\nabla f_c(x' + \\alpha (x - x')) d\\alpha$ by the trapezoid
    rule on `steps` intervals (Sundararajan et al. 2017).  Completeness: the attributions sum
    to f_c(x) - f_c(x'); with `return_delta`, also returns that gap per sample."""
    x = _as_batch(x)
    base = np.zeros_like(x) if baseline is None else np.broadcast_to(_as_batch(baseline), x.shape)
    fx, target = _scores(model, x, target)
    total = np.zeros(x.shape, dtype=np.float64)
    for k in range(steps + 1):
        a = k / steps
        w = 0.5 if k in (0, steps) else 1.0
        total += w * _input_grad(model, (base + a * (x - base)).astype(x.dtype), target)
    attr = (x - base) * total / steps
    if not return_delta:
        return attr
    fb, _ = _scores(model, np.ascontiguousarray(base), target)
    delta = attr.reshape(x.shape[0], -1).sum(axis=1) - (fx - fb)
    return attr, delta


def occlusion(model, x, target=None, window: int = 8, stride: int = 4, baseline: float = 0.0,
              batch_size: int = 64) -> np.ndarray:  # fmt: skip
    """Occlusion sensitivity (Zeiler & Fergus 2014): the drop $f_c(x) - f_c(x_{occluded})$ when
    a window x window patch (all channels) is set to `baseline`, averaged over the patches
    covering each pixel; shape (N, H, W)."""
    x = _as_batch(x)
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    fx, target = _scores(model, x, target)
    tops = list(range(0, max(h - window, 0) + 1, stride))
    lefts = list(range(0, max(w - window, 0) + 1, stride))
    heat = np.zeros((n, h, w))
    count = np.zeros((h, w))
    patches = [(t, left) for t in tops for left in lefts]
    for i in range(n):
        for s in range(0, len(patches), batch_size):
            chunk = patches[s : s + batch_size]
            batch = np.repeat(x[i : i + 1], len(chunk), axis=0)
            for j, (t, left) in enumerate(chunk):
                batch[j, ..., t : t + window, left : left + window] = baseline
            sc, _ = _scores(model, batch, np.full(len(chunk), target[i]))
            for j, (t, left) in enumerate(chunk):
                heat[i, t : t + window, left : left + window] += fx[i] - sc[j]
                if i == 0:
                    count[t : t + window, left : left + window] += 1
    return heat / np.maximum(count, 1)
