"""Adversarial attacks, adversarial training, distillation, MC dropout, and the visualisation
methods (activation maximisation, deep dream, Gram matrices, style transfer, TCAV, ablation)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.models.robustness import adversarial_loss, distillation_loss, fgsm, mc_dropout, pgd
from deepgrad.models.visualize import (
    ablation,
    activation_maximization,
    deep_dream,
    gram_matrix,
    layer_output,
    style_transfer,
    tcav,
)
from deepgrad.testing import gradcheck


def _blobs(n=200, d=20, sep=0.6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    mean = np.zeros(d)
    mean[:] = sep / np.sqrt(d)
    x = rng.normal(0, 0.15, size=(n, d)) + np.where(y[:, None] == 1, mean, -mean) + 0.5
    return np.clip(x, 0, 1).astype(np.float32), y  # inputs in [0, 1], like pixels


def _robust_and_brittle(n=300, seed=0):
    """One robust feature (classes 0.4 apart) and 19 brittle ones (0.2 apart, each noisy):
    an L-inf attack of 0.1 flips every brittle feature but cannot flip the robust one."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    sign = np.where(y == 1, 1.0, -1.0)[:, None]
    robust = 0.5 + 0.2 * sign[:, :1] + rng.normal(0, 0.1, size=(n, 1))
    brittle = 0.5 + 0.1 * sign + rng.normal(0, 0.1, size=(n, 19))
    return np.clip(np.concatenate([robust, brittle], 1), 0, 1).astype(np.float32), y


def _train(model, x, y, steps=150, eps=None):
    opt = dg.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        if eps is None:
            loss = nn.functional.cross_entropy(model(dg.tensor(x)), dg.tensor(y))
        else:
            loss = adversarial_loss(model, x, y, eps, steps=3)
        loss.backward()
        opt.step()
    return model


def _acc(model, x, y):
    return float((model(dg.tensor(x)).data.argmax(axis=1) == y).mean())


def test_fgsm_on_a_linear_model_moves_against_the_true_class():
    model = nn.Linear(3, 2)
    x = np.full((1, 3), 0.5, dtype=np.float32)
    adv = fgsm(model, x, np.array([0]), eps=0.1)
    w = model.weight.data
    # d CE / dx = (p - onehot) W; for the true class 0 its sign is sign(w1 - w0) up to p_1 > 0
    assert np.allclose(adv - x, 0.1 * np.sign(w[1] - w[0]), atol=1e-6)
    assert float(nn.functional.cross_entropy(model(dg.tensor(adv)), dg.tensor([0])).data) > float(
        nn.functional.cross_entropy(model(dg.tensor(x)), dg.tensor([0])).data
    )
    with pytest.raises(ValueError, match="fgsm: eps must be a finite number >= 0, got -1"):
        fgsm(model, x, np.array([0]), eps=-1)


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_pgd_stays_in_its_ball_and_beats_the_clean_loss(norm):
    x, y = _blobs()
    dg.manual_seed(0)
    model = _train(nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 2)), x, y)
    eps = 0.2 if norm == "inf" else 1.0
    adv = pgd(model, x, y, eps, steps=10, norm=norm)
    delta = (adv - x).reshape(len(x), -1)
    size = np.abs(delta).max(axis=1) if norm == "inf" else np.sqrt((delta**2).sum(axis=1))
    assert np.all(size <= eps + 1e-5)
    assert _acc(model, adv, y) < _acc(model, x, y) - 0.2


def test_adversarial_training_makes_the_model_more_robust():
    x, y = _robust_and_brittle(seed=1)
    dg.manual_seed(0)
    plain = _train(nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2)), x, y, 300)
    dg.manual_seed(0)
    robust = _train(nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 2)), x, y, 300, 0.12)
    xt, yt = _robust_and_brittle(seed=2)  # measured: plain 0.72, adversarially trained 0.82
    plain_acc = _acc(plain, pgd(plain, xt, yt, 0.1, steps=10), yt)
    robust_acc = _acc(robust, pgd(robust, xt, yt, 0.1, steps=10), yt)
    assert _acc(plain, xt, yt) > 0.9 and robust_acc > plain_acc + 0.07, (plain_acc, robust_acc)


def test_distillation_loss_is_the_scaled_kl_plus_the_hard_loss():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(4, 3))
    t = rng.normal(size=(4, 3))
    y = np.array([0, 2, 1, 1])
    T, alpha = 3.0, 0.7
    p = np.exp(t / T) / np.exp(t / T).sum(1, keepdims=True)
    q = np.exp(s / T) / np.exp(s / T).sum(1, keepdims=True)
    ps = np.exp(s) / np.exp(s).sum(1, keepdims=True)
    kl = (p * (np.log(p) - np.log(q))).sum(1).mean()
    hard = -np.log(ps[np.arange(4), y]).mean()
    out = distillation_loss(dg.tensor(s), t, dg.tensor(y), temperature=T, alpha=alpha)
    assert float(out.data) == pytest.approx(alpha * T * T * kl + (1 - alpha) * hard, rel=1e-6)
    z = dg.tensor(s, requires_grad=True)
    assert gradcheck(lambda v: distillation_loss(v, t, dg.tensor(y), T, alpha), [z])


def test_mc_dropout_gives_a_spread_and_needs_dropout():
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    model.eval()
    mean, std = mc_dropout(model, np.ones((2, 4), np.float32), samples=20)
    assert np.allclose(mean.sum(axis=1), 1.0, atol=1e-5) and np.all(std.max(axis=1) > 0)
    assert not model.training
    with pytest.raises(ValueError, match="mc_dropout: the model has no Dropout layer"):
        mc_dropout(nn.Linear(4, 3), np.ones((1, 4), np.float32))


def test_activation_maximization_finds_the_unit_s_weight_direction():
    model = nn.Sequential(nn.Linear(6, 3))
    x = activation_maximization(model, "0", unit=2, input_shape=(6,), steps=100, jitter=0, blur=0)
    w = model[0].weight.data[2]
    assert float(x @ w / (np.linalg.norm(x) * np.linalg.norm(w))) > 0.95


def test_deep_dream_amplifies_the_layer():
    dg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3))
    img = np.random.default_rng(0).uniform(0.2, 0.8, size=(1, 12, 12)).astype(np.float32)
    before = float((layer_output(model, "1", img[None]).data ** 2).mean())
    dream = deep_dream(model, img, "1", steps=30)
    after = float((layer_output(model, "1", dream[None]).data ** 2).mean())
    assert after > 1.2 * before and dream.min() >= 0 and dream.max() <= 1


def test_gram_matrix_and_style_transfer():
    f = np.random.default_rng(0).normal(size=(1, 3, 4, 5))
    expect = np.einsum("cp,dp->cd", f[0].reshape(3, -1), f[0].reshape(3, -1)) / 20
    assert np.allclose(gram_matrix(dg.tensor(f)).numpy()[0], expect)
    dg.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                        nn.ReLU())  # fmt: skip
    rng = np.random.default_rng(1)
    content = rng.uniform(0, 1, size=(1, 16, 16)).astype(np.float32)
    style = (np.indices((16, 16)).sum(0) % 4 < 2).astype(np.float32)[None]  # stripes
    losses = []
    out = style_transfer(net, content, style, ["1"], ["1", "3"], steps=30,
                         callback=lambda step, loss: losses.append(loss))  # fmt: skip
    assert losses[-1] < 0.5 * losses[0] and out.shape == content.shape
    assert out.min() >= 0 and out.max() <= 1


def test_tcav_scores_a_concept_the_logit_depends_on():
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False))
    model[0].weight.data[...] = np.eye(2)
    model[1].weight.data[...] = np.array([[1.0, -1.0], [-1.0, 1.0]])  # class 0 grows with a0 - a1
    rng = np.random.default_rng(0)
    concept = rng.normal([3, 0], 0.5, size=(50, 2)).astype(np.float32)
    random = rng.normal(0, 1, size=(50, 2)).astype(np.float32)
    inputs = rng.normal(0, 1, size=(30, 2)).astype(np.float32)
    result = tcav(model, "0", concept, random, inputs, target=0)
    assert result["cav_accuracy"] > 0.9 and result["score"] == 1.0
    assert tcav(model, "0", concept, random, inputs, target=1)["score"] == 0.0


def test_ablation_of_the_only_path_drops_to_chance():
    x, y = _blobs(seed=3)
    dg.manual_seed(0)
    model = _train(nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 2)), x, y)
    rows = ablation(model, x, y, ["1"])
    assert rows[0]["ablated"] == "nothing" and rows[0]["accuracy"] > 0.9
    assert rows[1]["drop"] > 0.3
    per_unit = ablation(model, x, y, ["1"], units=8)
    assert len(per_unit) == 9 and all(r["accuracy"] <= 1 for r in per_unit)
