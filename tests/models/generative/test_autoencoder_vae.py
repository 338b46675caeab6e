"""Autoencoders and VAEs: penalties, noise, training lowers the loss, ELBO <= IWAE bound."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.models.generative import (
    VAE,
    Autoencoder,
    ConditionalVAE,
    ConvAutoencoder,
    gaussian_noise,
    greedy_layerwise_pretrain,
    kl_sparsity_penalty,
    l1_code_penalty,
    masking_noise,
    reconstruction_loss,
    train_autoencoder,
)


def _bits(n=64, d=16, seed=0):
    """Binary data with structure: 4 prototypes, 5% of bits flipped."""
    g = np.random.default_rng(seed)
    protos = (g.random((4, d)) < 0.5).astype(np.float32)
    x = protos[g.integers(0, 4, n)]
    flip = g.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype(np.float32)


def test_sparsity_penalties_match_their_formulas():
    h = dg.tensor([[0.5, -1.0], [0.0, 2.0]])
    assert float(l1_code_penalty(h, 0.1)) == pytest.approx(0.1 * 3.5 / 2)
    assert float(kl_sparsity_penalty(dg.tensor([[0.05, 0.05]]), 0.05)) == pytest.approx(
        0.0, abs=1e-6
    )
    rho, r = 0.1, 0.5
    want = 2 * (rho * np.log(rho / r) + (1 - rho) * np.log((1 - rho) / (1 - r)))
    assert float(kl_sparsity_penalty(dg.full((3, 2), 0.5), rho)) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="kl_sparsity_penalty: rho must be in"):
        kl_sparsity_penalty(h, 1.5)


def test_noise_functions():
    g = np.random.default_rng(0)
    x = dg.ones(200, 100)
    masked = masking_noise(x, 0.3, g).numpy()
    assert set(np.unique(masked)) == {0.0, 1.0}
    assert (masked == 0).mean() == pytest.approx(0.3, abs=0.02)
    noisy = gaussian_noise(x, 0.5, g).numpy()
    assert noisy.std() == pytest.approx(0.5, rel=0.05) and noisy.mean() == pytest.approx(
        1, abs=0.02
    )
    with pytest.raises(ValueError, match="masking_noise: p must be in"):
        masking_noise(x, 1.0, g)


@pytest.mark.parametrize("variant", ["plain", "denoising", "sparse-l1", "sparse-kl"])
def test_autoencoders_learn_to_reconstruct(variant):
    g = np.random.default_rng(1)
    X = _bits()
    code_act = "sigmoid" if variant == "sparse-kl" else None
    model = Autoencoder((16, 12, 4), code_activation=code_act, generator=g)
    corrupt = (lambda x, r: masking_noise(x, 0.2, r)) if variant == "denoising" else None
    penalty = {"sparse-l1": lambda h: l1_code_penalty(h, 1e-3),
               "sparse-kl": lambda h: kl_sparsity_penalty(h, 0.1, 0.1)}.get(variant)  # fmt: skip
    hist = train_autoencoder(model, X, 40, g, lr=1e-2, batch_size=16, corrupt=corrupt,
                             penalty=penalty)  # fmt: skip
    assert hist[-1] < 0.5 * hist[0]
    assert model.encode(dg.tensor(X)).shape == (64, 4)


def test_conv_autoencoder_shapes_and_loss_kinds():
    model = ConvAutoencoder(width=4, code_dim=3, generator=np.random.default_rng(0))
    x = dg.zeros(2, 1, 28, 28)
    assert model.encode(x).shape == (2, 3) and model(x).shape == (2, 1, 28, 28)
    out = dg.zeros(2, 3)
    assert float(reconstruction_loss(out, np.ones((2, 3)), "mse")) == pytest.approx(3.0)
    assert float(reconstruction_loss(out, np.ones((2, 3)), "bce")) == pytest.approx(3 * np.log(2))
    with pytest.raises(ValueError, match="reconstruction_loss: kind must be"):
        reconstruction_loss(out, out, "l1")


def test_greedy_layerwise_pretraining_stacks_trained_layers():
    g = np.random.default_rng(2)
    layers = greedy_layerwise_pretrain([16, 8, 4], _bits(), 3, g, lr=1e-2, batch_size=16)
    assert [(lin.in_features, lin.out_features) for lin in layers] == [(16, 8), (8, 4)]


def test_vae_elbo_terms_and_bounds():
    g = np.random.default_rng(3)
    X = _bits(32)
    vae = VAE(16, 16, 2, generator=g)
    out = vae.elbo(X, generator=g)
    np.testing.assert_allclose(
        out["elbo"].data, (out["reconstruction"] - out["kl"]).data, rtol=1e-5
    )
    assert np.all(out["kl"].numpy() >= 0)
    mc = vae.elbo(X, generator=g, kl="mc", samples=200)["kl"].data
    np.testing.assert_allclose(mc, out["kl"].data, atol=0.06)
    beta = vae.elbo(X, generator=np.random.default_rng(0), beta=4.0)
    ref = vae.elbo(X, generator=np.random.default_rng(0))
    np.testing.assert_allclose((ref["elbo"] - beta["elbo"]).data, 3 * ref["kl"].data, rtol=1e-4)
    elbo = vae.elbo(X, generator=g, samples=50)["elbo"].data.mean()
    iw = vae.log_likelihood(X, k=50, generator=g).data.mean()
    assert elbo <= iw + 1e-3  # Burda et al.: the importance-weighted bound is tighter


def test_vae_training_lowers_the_negative_elbo_and_samples():
    g = np.random.default_rng(4)
    X = _bits(64)
    vae = VAE(16, 32, 2, generator=g)
    opt = dg.optim.Adam(vae.parameters(), lr=1e-2)
    first = float(vae.loss(X, generator=g))
    for _ in range(150):
        loss = vae.loss(X, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(vae.loss(X, generator=g)) < 0.6 * first
    s = vae.sample(5, g).data
    assert s.shape == (5, 16) and s.min() >= 0 and s.max() <= 1


def test_gaussian_decoder_and_conditional_vae():
    g = np.random.default_rng(5)
    vae = VAE(6, 8, 2, decoder="gaussian", generator=g)
    loss = vae.loss(g.normal(size=(4, 6)), generator=g)
    loss.backward()
    assert vae.log_scale.grad is not None and np.isfinite(float(loss))
    cvae = ConditionalVAE(3, input_dim=6, hidden=8, latent_dim=2, generator=g)
    assert cvae.sample(4, g, y=[0, 1, 2, 0]).shape == (4, 6)
    with pytest.raises(ValueError, match="labels are required"):
        cvae.loss(np.zeros((2, 6)), generator=g)
    with pytest.raises(ValueError, match=r"labels must be 2 ints in \[0, 3\)"):
        cvae.loss(np.zeros((2, 6)), y=[0, 5], generator=g)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: VAE(decoder="poisson"), "VAE: decoder must be"),
        (lambda: VAE(latent_dim=0), "VAE: sizes must be positive"),
        (lambda: VAE(4, 4, 2).loss(np.zeros((2, 5))), r"VAE expects input \(N, 4\)"),
        (lambda: VAE(4, 4, 2).elbo(np.zeros((2, 4)), kl="exact"), "kl must be 'analytic' or 'mc'"),
        (lambda: VAE(4, 4, 2).log_likelihood(np.zeros((2, 4)), k=0), "k must be >= 1"),
        (lambda: ConditionalVAE(0), "num_classes must be >= 1"),
    ],
)
def test_vae_refuses_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
