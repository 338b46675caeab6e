"""Understanding what a network computes: activation maximisation, deep dream, style transfer,
concept activation vectors and ablation.

    activation_maximization  gradient ascent on the input for one unit (Erhan et al. 2009)
    deep_dream               gradient ascent amplifying a layer on an image (Mordvintsev 2015)
    gram_matrix / style_transfer  match Gram matrices of features (Gatys et al. 2016)
    tcav                     concept activation vectors and directional derivatives (Kim et al. 2018)
    ablation                 the accuracy drop when units or layers are zeroed

Layers are named by their dotted path in the model (`"features.3"`); their output is read
with a forward hook, so any `Module` works.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.state import no_grad
from ..core.tensor import Tensor
from ..nn import functional as F

__all__ = [
    "ablation", "activation_maximization", "deep_dream", "gram_matrix", "layer_output",
    "style_transfer", "tcav",
]  # fmt: skip


@contextmanager
def _capture(model, layer: str):
    """Collect the output of `model.get_submodule(layer)` during the forward passes inside."""
    try:
        module = model.get_submodule(layer)
    except (AttributeError, KeyError) as e:
        raise ValueError(f"no layer {layer!r} in {type(model).__name__}: {e}") from None
    box: dict[str, Any] = {}
    handle = module.register_forward_hook(lambda m, inputs, out: box.__setitem__("out", out))
    try:
        yield box
    finally:
        handle.remove()


def layer_output(model, layer: str, x) -> Tensor:
    """The output of `layer` (a dotted module path) when the model runs on x (recorded)."""
    with _capture(model, layer) as box:
        model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    return box["out"]


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """A separable Gaussian blur over the last two axes (regularises the ascent)."""
    if sigma <= 0:
        return img
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    pad = [(0, 0)] * (img.ndim - 2) + [(r, r), (r, r)]
    p = np.pad(img, pad, mode="reflect")
    p = sum(k[i] * p[..., i : i + img.shape[-2], :] for i in range(2 * r + 1))
    return sum(k[i] * p[..., :, i : i + img.shape[-1]] for i in range(2 * r + 1))


def _ascend(objective: Callable[[Tensor], Tensor], x0: np.ndarray, steps: int, lr: float,
            jitter: int, blur: float, rng: np.random.Generator, clip=(None, None)) -> np.ndarray:  # fmt: skip
    """Normalised gradient ascent with random jitter (roll) and periodic blurring."""
    x = x0.astype(np.float32).copy()
    for step in range(steps):
        dy, dx = rng.integers(-jitter, jitter + 1, size=2) if jitter else (0, 0)
        shifted = np.roll(x, (dy, dx), axis=(-2, -1))
        xt = Tensor(shifted, requires_grad=True)
        (g,) = autodiff.grad(objective(xt), [xt])
        g = np.roll(g._data, (-dy, -dx), axis=(-2, -1))
        x += lr * g / (np.abs(g).mean() + 1e-8)
        if blur and step % 4 == 3:
            x = _blur(x, blur).astype(np.float32)
        if clip[0] is not None:
            x = np.clip(x, *clip)
    return x


def activation_maximization(model, layer: str, unit: int, input_shape: Sequence[int],
                            steps: int = 200, lr: float = 0.05, l2: float = 1e-3, jitter: int = 1,
                            blur: float = 0.5, seed: int = 0) -> np.ndarray:  # fmt: skip
    """An input that excites `unit` (a channel, or a feature of a flat layer) of `layer`:
    $x^* = \\arg\\max_x a_u(x) - \\lambda \\lVert x\\rVert^2$, by regularised gradient ascent."""
    rng = np.random.default_rng(seed)
    model.eval()

    def objective(x):
        a = layer_output(model, layer, x)
        act = a[:, unit].mean() if a.ndim > 2 else a[:, unit].sum()
        return act - l2 * (x * x).sum()

    x0 = rng.normal(0, 0.1, size=(1, *input_shape))
    return _ascend(objective, x0, steps, lr, jitter, blur, rng)[0]


def deep_dream(model, image: np.ndarray, layer: str, steps: int = 50, lr: float = 0.02,
               jitter: int = 2, blur: float = 0.5, clip=(0.0, 1.0), seed: int = 0) -> np.ndarray:  # fmt: skip
    """Amplify whatever `layer` detects in `image`: ascend $\\tfrac12\\lVert a_\\ell(x)\\rVert^2$ from
    x = image (Mordvintsev et al. 2015), with jitter and blur as regularisers."""
    model.eval()
    rng = np.random.default_rng(seed)

    def objective(x):
        a = layer_output(model, layer, x)
        return (a * a).mean() * 0.5

    return _ascend(objective, np.asarray(image)[None], steps, lr, jitter, blur, rng, clip)[0]


def gram_matrix(features: Tensor) -> Tensor:
    """$G_{ij} = \\frac{1}{HW}\\sum_p F_{ip} F_{jp}$ for features (N, C, H, W): which channels fire
    together, whatever the position: the "style" of Gatys et al. (2016)."""
    n, c, h, w = features.shape
    f = features.reshape((n, c, h * w))
    return (f @ f.permute(0, 2, 1)) / float(h * w)


def style_transfer(model, content: np.ndarray, style: np.ndarray, content_layers: Sequence[str],
                   style_layers: Sequence[str], steps: int = 200, lr: float = 0.03,
                   style_weight: float = 1e3, content_weight: float = 1.0, tv_weight: float = 1e-2,
                   callback: Callable[[int, float], Any] | None = None) -> np.ndarray:  # fmt: skip
    """Neural style transfer (Gatys et al. 2016): from the content image, descend
    $w_c \\sum_\\ell \\lVert F_\\ell(x) - F_\\ell(c)\\rVert^2 + w_s \\sum_\\ell \\lVert G_\\ell(x) - G_\\ell(s)\\rVert^2
    + w_{tv} TV(x)$ with Adam on the pixels."""
    from ..optim import Adam

    model.eval()
    layers = list(dict.fromkeys([*content_layers, *style_layers]))

    def feats(x):
        boxes = {}
        handles = []
        for name in layers:
            module = model.get_submodule(name)
            handles.append(module.register_forward_hook(
                lambda m, i, o, name=name: boxes.__setitem__(name, o)))  # fmt: skip
        try:
            model(x)
        finally:
            for h in handles:
                h.remove()
        return boxes

    with no_grad():
        target_c = {k: Tensor(v._data) for k, v in feats(Tensor(content[None])).items()}
        target_s = {k: Tensor(gram_matrix(v)._data) for k, v in feats(Tensor(style[None])).items()}
    x = Tensor(content[None].astype(np.float32).copy(), requires_grad=True)
    opt = Adam([x], lr=lr)
    for step in range(steps):
        opt.zero_grad()
        f = feats(x)
        loss = sum(content_weight * F.mse_loss(f[k], target_c[k]) for k in content_layers)
        loss = loss + sum(style_weight * F.mse_loss(gram_matrix(f[k]), target_s[k])
                          for k in style_layers)  # fmt: skip
        tv = ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + (
            (x[..., 1:] - x[..., :-1]) ** 2
        ).mean()
        loss = loss + tv_weight * tv
        loss.backward()
        opt.step()
        x._data[...] = np.clip(x._data, 0.0, 1.0)
        if callback is not None:
            callback(step, float(loss._data))
    return x._data[0]


def tcav(model, layer: str, concept: np.ndarray, random: np.ndarray, inputs: np.ndarray,
         target: int, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """Testing with concept activation vectors (Kim et al. 2018).

    A logistic regression separates the layer's activations of `concept` examples from
    those of `random` ones; its normal is the CAV $v$.  The TCAV score is the fraction of
    `inputs` whose class-`target` logit increases along $v$:
    $\\frac{1}{|X|}|\\{x : \\nabla_{a} f_t(a_\\ell(x)) \\cdot v > 0\\}|$.
    Returns the score, the CAV and its held-out accuracy.
    """
    model.eval()
    with no_grad():
        a_c = layer_output(model, layer, concept)._data.reshape(len(concept), -1)
        a_r = layer_output(model, layer, random)._data.reshape(len(random), -1)
    feats = np.concatenate([a_c, a_r]).astype(np.float64)
    labels = np.r_[np.ones(len(a_c)), np.zeros(len(a_r))]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    split = int(0.8 * len(order))
    mu, sd = feats.mean(0), feats.std(0) + 1e-8
    z = (feats - mu) / sd
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(500):  # logistic regression by gradient descent on the training part
        tr = order[:split]
        p = 1 / (1 + np.exp(-(z[tr] @ w + b)))
        w -= 0.1 * (z[tr].T @ (p - labels[tr]) / len(tr) + 1e-3 * w)
        b -= 0.1 * float(np.mean(p - labels[tr]))
    te = order[split:]
    acc = float(np.mean(((z[te] @ w + b) > 0) == labels[te])) if len(te) else float("nan")
    cav = w / sd
    cav /= np.linalg.norm(cav) + 1e-12
    x = Tensor(np.asarray(inputs, dtype=np.float32))
    with _capture(model, layer) as box:
        out = model(x)
    (g,) = autodiff.grad(out[:, target].sum(), [box["out"]])
    directional = g._data.reshape(len(inputs), -1) @ cav
    return {"score": float(np.mean(directional > 0)), "cav": cav, "cav_accuracy": acc,
            "directional_derivatives": directional}  # fmt: skip


def ablation(model, x: np.ndarray, y: np.ndarray, layers: Sequence[str],
             units: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Accuracy with each layer's output zeroed (or, with `units`, each of its first `units`
    channels zeroed in turn): the drop says how much the prediction relies on it."""
    model.eval()

    def accuracy(mask_layer=None, unit=None) -> float:
        handle = None
        if mask_layer is not None:

            def hook(m, inputs, out):
                keep = np.ones(out.shape[1:2] + (1,) * (out.ndim - 2), dtype=out.dtype)
                if unit is None:
                    keep[:] = 0
                else:
                    keep[unit] = 0
                return out * Tensor(keep)

            handle = model.get_submodule(mask_layer).register_forward_hook(hook)
        try:
            with no_grad():
                pred = model(Tensor(np.asarray(x)))._data.argmax(axis=1)
        finally:
            if handle is not None:
                handle.remove()
        return float(np.mean(pred == np.asarray(y)))

    base = accuracy()
    rows = [{"ablated": "nothing", "accuracy": base, "drop": 0.0}]
    for name in layers:
        if units is None:
            acc = accuracy(name)
            rows.append({"ablated": name, "accuracy": acc, "drop": base - acc})
        else:
            for u in range(units):
                acc = accuracy(name, u)
                rows.append({"ablated": f"{name}[{u}]", "accuracy": acc, "drop": base - acc})
    return rows
