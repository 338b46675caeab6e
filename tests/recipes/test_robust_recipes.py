"""The MNIST robustness recipes' pieces on synthetic digits (no MNIST files needed)."""

from __future__ import annotations

import numpy as np
import pytest

from deepgrad.core.random import manual_seed
from deepgrad.recipes import (
    adversarial,
    deep_dream,
    distillation,
    forgetting,
    mc_dropout,
    style_transfer,
)
from deepgrad.recipes._mnist_small import accuracy, fit, mlp, n_params, small_cnn


def _blobs(n: int, seed: int, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes, each a bright 5x5 square at its own place plus noise, pixels in [0, 1]."""
    protos = np.zeros((10, 1, 28, 28))
    for k in range(10):
        r, c = 4 + 14 * (k // 5), 1 + 5 * (k % 5)
        protos[k, 0, r : r + 5, c : c + 5] = 1.0
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = np.clip(protos[y] + noise * rng.standard_normal((n, 1, 28, 28)), 0, 1)
    return x.astype(np.float32), y.astype(np.int64)


def test_small_cnn_and_mlp_shapes_and_sizes():
    manual_seed(0)
    assert n_params(small_cnn(8)) == 8 * 26 + 16 * (8 * 25 + 1) + 256 * 10 + 10
    assert n_params(mlp([784, 16, 10])) == 784 * 16 + 16 + 16 * 10 + 10


def test_entropy_of_uniform_and_one_hot():
    p = np.vstack([np.full(10, 0.1), np.eye(10)[3]])
    np.testing.assert_allclose(mc_dropout.entropy(p), [np.log(10), 0.0], atol=1e-9)


def test_attack_curves_start_at_clean_accuracy_and_fall():
    manual_seed(0)
    train, test = _blobs(300, 0), _blobs(60, 1)
    model = small_cnn(4)
    fit(model, train, test, 4, 1e-2, 32, 0)
    clean = accuracy(model, *test)
    assert clean > 0.9
    config = {**adversarial.default_config(), "eps_inf": [0.0, 0.5], "eps_l2": [0.0, 12.0],
              "pgd_steps": 5}  # fmt: skip
    curves = adversarial.attack_curves(model, *test, config)
    for attack in ("FGSM", "PGD L-inf", "PGD L2"):
        assert curves[attack][0] == pytest.approx(clean), attack
        assert curves[attack][1] < clean - 0.3, attack


def test_sequential_training_forgets_the_first_task_and_rehearsal_helps():
    train, test = _blobs(600, 0, noise=0.3), _blobs(200, 1, noise=0.3)
    config = {**forgetting.default_config(), "epochs_per_task": 6, "hidden": 32, "lr": 3e-3}
    plain = forgetting.sequential(config, train, test, replay=0)
    replay = forgetting.sequential(config, train, test, replay=150)
    assert plain[5]["accuracy_0_4"] > 0.9  # task 1 learned
    assert plain[-1]["accuracy_5_9"] > 0.75  # task 2 learned
    assert plain[-1]["accuracy_0_4"] < 0.5  # and task 1 forgotten
    assert replay[-1]["accuracy_0_4"] > plain[-1]["accuracy_0_4"] + 0.3


BAD = {"adversarial": ("pgd_steps", 0), "forgetting": ("epochs_per_task", 0),
       "mc_dropout": ("samples", 0), "distillation": ("temperatures", [4.0, 0.0]),
       "deep_dream": ("steps", 0), "style_transfer": ("size", 8)}  # fmt: skip


@pytest.mark.parametrize(
    "module", [adversarial, forgetting, mc_dropout, distillation, deep_dream, style_transfer]
)
def test_bad_settings_are_rejected(module):
    config = module.default_config()
    key, value = BAD[module.__name__.rsplit(".", 1)[1]]
    config[key] = value
    with pytest.raises(ValueError, match=module.NAME):
        module.validate(config)


def test_style_transfer_images_are_in_range_and_distinct():
    c, s = style_transfer.content_image(24), style_transfer.texture_image(24)
    assert c.shape == s.shape == (3, 24, 24)
    assert 0 <= min(c.min(), s.min()) and max(c.max(), s.max()) <= 1
    assert np.abs(c - s).mean() > 0.1


def test_tcav_concept_is_a_bar_in_the_top_half():
    bars = deep_dream.top_bar(5, seed=0)
    assert bars.shape == (5, 1, 28, 28)
    assert bars[:, :, 14:].sum() == 0 and (bars.sum(axis=(1, 2, 3)) >= 20).all()
