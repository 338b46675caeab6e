"""Adversarial examples, adversarial training, distillation and Monte-Carlo dropout.

    fgsm             x + eps * sign(grad_x L)                          (Goodfellow et al. 2015)
    pgd              projected gradient ascent in an L-inf or L2 ball   (Madry et al. 2018)
    adversarial_loss the loss on PGD examples, for adversarial training (Madry et al. 2018)
    distillation_loss T^2 KL(softmax(z_t / T) || softmax(z_s / T)) mixed with the hard loss
                                                                         (Hinton et al. 2015)
    mc_dropout       mean and spread of predictions with dropout left on (Gal & Ghahramani 2016)

Attacks work on NumPy batches and return NumPy arrays clipped to [clip_min, clip_max];
they leave the model's mode and parameters as they were.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core import autodiff
from ..core.state import no_grad
from ..core.tensor import Tensor
from ..nn import functional as F
from ..ops import log_softmax, softmax

__all__ = ["adversarial_loss", "distillation_loss", "fgsm", "mc_dropout", "pgd"]


def _loss_grad(model, x: np.ndarray, y: np.ndarray, loss_fn: Callable) -> np.ndarray:
    """d loss(model(x), y) / d x, with the model's parameters left untouched."""
    xt = Tensor(x, requires_grad=True)
    (g,) = autodiff.grad(loss_fn(model(xt), Tensor(y)), [xt])
    return g._data


def _check_eps(name: str, eps: float) -> None:
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"{name}: eps must be a finite number >= 0, got {eps}")


def fgsm(model, x, y, eps: float, loss_fn: Callable = F.cross_entropy, clip_min: float = 0.0,
         clip_max: float = 1.0) -> np.ndarray:  # fmt: skip
    """The fast gradient sign method: $x' = \\mathrm{clip}(x + \\epsilon\\,\\mathrm{sign}(\\nabla_x L))$.

    The L-inf-bounded step that increases a linearised loss the most (Goodfellow et al. 2015).
    """
    _check_eps("fgsm", eps)
    x = np.asarray(x, dtype=np.float32)
    g = _loss_grad(model, x, np.asarray(y), loss_fn)
    return np.clip(x + eps * np.sign(g), clip_min, clip_max).astype(x.dtype)


def _project(delta: np.ndarray, eps: float, norm: str) -> np.ndarray:
    if norm == "inf":
        return np.clip(delta, -eps, eps)
    n = np.sqrt((delta.reshape(len(delta), -1) ** 2).sum(axis=1)).reshape(
        (-1,) + (1,) * (delta.ndim - 1)
    )
    return delta * np.minimum(1.0, eps / np.maximum(n, 1e-12))


def pgd(model, x, y, eps: float, alpha: float | None = None, steps: int = 10, norm: str = "inf",
        random_start: bool = True, loss_fn: Callable = F.cross_entropy, clip_min: float = 0.0,
        clip_max: float = 1.0, generator: np.random.Generator | None = None) -> np.ndarray:  # fmt: skip
    """Projected gradient descent on the loss (Madry et al. 2018), in an L-inf or L2 ball.

    $x^{k+1} = \\Pi_{B_\\epsilon(x)}\\big(x^k + \\alpha\\, s(\\nabla_x L(x^k))\\big)$ with
    $s = \\mathrm{sign}$ for L-inf and $s(g) = g / \\lVert g\\rVert_2$ for L2, starting
    from a random point of the ball when `random_start`.  Default step 2.5 eps / steps.
    """
    _check_eps("pgd", eps)
    if norm not in ("inf", "2"):
        raise ValueError(f"pgd: norm must be 'inf' or '2', got {norm!r}")
    if steps < 1:
        raise ValueError(f"pgd: steps must be >= 1, got {steps}")
    rng = generator if generator is not None else np.random.default_rng(0)
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    delta = np.zeros_like(x)
    if random_start and eps > 0:
        delta = _project(rng.uniform(-eps, eps, size=x.shape).astype(x.dtype), eps, norm)
    for _ in range(steps):
        adv = np.clip(x + delta, clip_min, clip_max)
        g = _loss_grad(model, adv, y, loss_fn)
        if norm == "inf":
            step = np.sign(g)
        else:
            n = np.sqrt((g.reshape(len(g), -1) ** 2).sum(axis=1)).reshape(
                (-1,) + (1,) * (g.ndim - 1)
            )
            step = g / np.maximum(n, 1e-12)
        delta = _project(delta + alpha * step, eps, norm)
    return np.clip(x + delta, clip_min, clip_max).astype(x.dtype)


def adversarial_loss(model, x, y, eps: float, steps: int = 5, norm: str = "inf",
                     loss_fn: Callable = F.cross_entropy, mix: float = 1.0,
                     generator: np.random.Generator | None = None) -> Tensor:  # fmt: skip
    """The training loss of Madry et al. (2018): $L(f(x_{adv}), y)$, optionally mixed with the clean
    loss, $\\text{mix}\\,L_{adv} + (1 - \\text{mix})\\,L_{clean}$.  The attack runs in eval mode."""
    was_training = model.training
    model.eval()
    x_np = x._data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)
    y_np = y._data if isinstance(y, Tensor) else np.asarray(y)
    adv = pgd(model, x_np, y_np, eps, steps=steps, norm=norm, loss_fn=loss_fn, generator=generator)
    model.train(was_training)
    loss = loss_fn(model(Tensor(adv)), Tensor(y_np))
    if mix < 1.0:
        loss = mix * loss + (1.0 - mix) * loss_fn(model(Tensor(x_np)), Tensor(y_np))
    return loss


def distillation_loss(student_logits: Tensor, teacher_logits, target, temperature: float = 4.0,
                      alpha: float = 0.9) -> Tensor:  # fmt: skip
    """Knowledge distillation (Hinton et al. 2015):
    $\\alpha T^2\\,\\mathrm{KL}(p_T \\,\\|\\, q_T) + (1 - \\alpha)\\,\\mathrm{CE}(z_s, y)$,
    $p_T = \\mathrm{softmax}(z_t / T)$, $q_T = \\mathrm{softmax}(z_s / T)$; the $T^2$ keeps the soft
    term's gradients on the scale of the hard term's."""
    if temperature <= 0 or not 0 <= alpha <= 1:
        raise ValueError(
            f"distillation_loss: need temperature > 0 and 0 <= alpha <= 1, got {temperature}, {alpha}"
        )
    t = teacher_logits._data if isinstance(teacher_logits, Tensor) else np.asarray(teacher_logits)
    p = softmax(Tensor(t / temperature), axis=1)._data
    log_q = log_softmax(student_logits / temperature, axis=1)
    kl = (Tensor(p) * (Tensor(np.log(np.maximum(p, 1e-30))) - log_q)).sum(axis=1).mean()
    hard = F.cross_entropy(student_logits, target if isinstance(target, Tensor) else Tensor(target))
    return alpha * temperature**2 * kl + (1 - alpha) * hard


def mc_dropout(model, x, samples: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Monte-Carlo dropout (Gal & Ghahramani 2016): class probabilities averaged over `samples`
    forward passes with dropout active (other layers in eval mode), and their standard deviation
    per class as an uncertainty estimate."""
    from ..nn import Dropout

    was_training = model.training
    model.eval()
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    if not drops:
        raise ValueError("mc_dropout: the model has no Dropout layer")
    for m in drops:
        m.train()
    with no_grad():
        probs = np.stack(
            [softmax(model(Tensor(np.asarray(x))), axis=1)._data for _ in range(samples)]
        )
    model.train(was_training)
    return probs.mean(axis=0), probs.std(axis=0)
