"""Distributions: moments of draws, Monte-Carlo KL, rsample gradients, validation errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.distributions import (
    Bernoulli,
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    Normal,
    kl_divergence,
    register_kl,
)
from deepgrad.testing import gradcheck


def _t(x, grad=False):
    return dg.tensor(np.asarray(x, dtype=np.float64), requires_grad=grad)


def _pairs():
    """(p, q) pairs with closed-form KL, each with batch shape (2,)."""
    return [
        (Normal(_t([0.0, 1.0]), _t([1.0, 0.5])), Normal(_t([0.5, -1.0]), _t([2.0, 1.5]))),
        (Bernoulli(probs=_t([0.3, 0.9])), Bernoulli(logits=_t([0.5, -1.0]))),
        (
            Categorical(probs=_t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
            Categorical(logits=_t([[0.0, 1.0, -1.0], [0.3, 0.2, 0.1]])),
        ),
    ]


@pytest.mark.parametrize("i", range(3), ids=["normal", "bernoulli", "categorical"])
def test_kl_matches_a_monte_carlo_estimate(i):
    p, q = _pairs()[i]
    x = p.sample((200_000,), generator=np.random.default_rng(1))
    mc = (p.log_prob(x) - q.log_prob(x)).numpy().mean(axis=0)
    exact = kl_divergence(p, q).numpy()
    assert exact.shape == (2,)
    np.testing.assert_allclose(exact, mc, atol=0.02)
    assert np.all(exact > 0)


def test_kl_of_a_distribution_with_itself_is_zero_and_independent_sums():
    for p, _ in _pairs():
        np.testing.assert_allclose(kl_divergence(p, p).data, 0.0, atol=1e-12)
    p, q = _pairs()[0]
    ip, iq = Independent(p, 1), Independent(q, 1)
    assert ip.batch_shape == () and ip.event_shape == (2,)
    np.testing.assert_allclose(kl_divergence(ip, iq).data, kl_divergence(p, q).data.sum())


def test_sample_moments_match_mean_and_variance():
    rng = np.random.default_rng(0)
    for d in [Normal(_t([1.0, -2.0]), _t([0.5, 3.0])), Bernoulli(logits=_t([0.3, -2.0]))]:
        x = d.sample((100_000,), generator=rng).data
        np.testing.assert_allclose(x.mean(0), d.mean.data, atol=0.03)
        np.testing.assert_allclose(x.std(0), d.stddev.data, rtol=0.03)
    c = Categorical(probs=_t([0.1, 0.6, 0.3]))
    counts = np.bincount(c.sample((50_000,), generator=rng).data, minlength=3) / 50_000
    np.testing.assert_allclose(counts, [0.1, 0.6, 0.3], atol=0.01)


def test_the_generator_makes_draws_reproducible():
    d = Normal(_t(0.0), _t(1.0))
    a = d.sample((5,), generator=np.random.default_rng(3)).data
    b = d.sample((5,), generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, b)
    assert d.sample((2, 3)).shape == (2, 3)
    assert not d.sample((2,)).requires_grad


def test_normal_rsample_passes_gradcheck():
    loc, scale = _t([0.3, -1.0], True), _t([0.7, 1.2], True)

    def f(m, s):
        return Normal(m, s).rsample((3,), generator=np.random.default_rng(0))

    assert gradcheck(f, [loc, scale])


def test_rsample_gradient_is_the_reparameterisation():
    loc, scale = _t(1.0, True), _t(2.0, True)
    x = Normal(loc, scale).rsample((4,), generator=np.random.default_rng(5))
    x.sum().backward()
    eps = np.random.default_rng(5).standard_normal(4)
    assert float(loc.grad) == pytest.approx(4.0)
    assert float(scale.grad) == pytest.approx(eps.sum())


def test_log_prob_entropy_kl_gradients_pass_gradcheck():
    m, s = _t([0.2, -0.4], True), _t([0.8, 1.5], True)
    lg = _t([[0.1, -0.3, 0.5]], True)
    assert gradcheck(lambda a, b: Normal(a, b).log_prob(_t([0.5, 0.1])), [m, s])
    assert gradcheck(lambda a, b: kl_divergence(Normal(a, b), Normal(_t(0.0), _t(1.0))), [m, s])
    assert gradcheck(lambda a: Bernoulli(logits=a).entropy(), [m])
    assert gradcheck(lambda a: Categorical(logits=a).entropy(), [lg])
    assert gradcheck(lambda a: Categorical(logits=a).log_prob(np.array([2])), [lg])


def test_bernoulli_probs_and_logits_agree():
    a, b = Bernoulli(probs=_t([0.25, 0.8])), Bernoulli(logits=_t(np.log([1 / 3, 4.0])))
    np.testing.assert_allclose(a.logits.data, b.logits.data, rtol=1e-6)
    np.testing.assert_allclose(b.probs.data, [0.25, 0.8])
    np.testing.assert_allclose(a.log_prob(_t([1.0, 0.0])).data, np.log([0.25, 0.2]))
    np.testing.assert_allclose(a.variance.data, [0.1875, 0.16])


def test_categorical_log_prob_broadcasts_values_over_the_batch():
    c = Categorical(probs=_t([[0.2, 0.8], [0.5, 0.5]]))
    lp = c.log_prob(np.array([[1], [0]]))
    assert lp.shape == (2, 2)
    np.testing.assert_allclose(lp.data, np.log([[0.8, 0.5], [0.2, 0.5]]))
    assert c.enumerate_support().shape == (2, 2)


def test_gaussian_mixture_log_prob_and_moments():
    mix = Categorical(probs=_t([0.25, 0.75]))
    comp = Normal(_t([-2.0, 3.0]), _t([0.5, 1.0]))
    gmm = MixtureSameFamily(mix, comp)
    x = np.array([-2.0, 0.0, 3.5])

    def pdf(v, m, s):
        return np.exp(-0.5 * ((v - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))

    want = np.log(0.25 * pdf(x, -2, 0.5) + 0.75 * pdf(x, 3, 1.0))
    np.testing.assert_allclose(gmm.log_prob(_t(x)).data, want, rtol=1e-10)
    draws = gmm.sample((100_000,), generator=np.random.default_rng(2)).data
    assert draws.shape == (100_000,)
    np.testing.assert_allclose(draws.mean(), float(gmm.mean), atol=0.05)
    np.testing.assert_allclose(draws.var(), float(gmm.variance), rtol=0.03)


def test_mixture_of_diagonal_gaussians_samples_have_the_event_shape():
    comp = Independent(Normal(_t(np.zeros((3, 2))), _t(np.ones((3, 2)))), 1)
    gmm = MixtureSameFamily(Categorical(logits=_t(np.zeros(3))), comp)
    assert gmm.event_shape == (2,) and gmm.batch_shape == ()
    assert gmm.sample((7,), generator=np.random.default_rng(0)).shape == (7, 2)
    assert gmm.log_prob(_t(np.zeros((7, 2)))).shape == (7,)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Normal(0.0, -1.0), r"Normal: scale must be positive"),
        (lambda: Normal(np.nan, 1.0), r"Normal: loc must be finite"),
        (lambda: Bernoulli(probs=1.5), r"Bernoulli: probs must lie in \[0, 1\]"),
        (lambda: Bernoulli(probs=0.5, logits=0.0), r"Bernoulli: pass exactly one"),
        (lambda: Categorical(), r"Categorical: pass exactly one"),
        (lambda: Categorical(probs=[-0.1, 1.1]), r"Categorical: probs must be non-negative"),
        (lambda: Categorical(probs=0.5), r"Categorical: parameter must have at least 1 dim"),
        (lambda: Bernoulli(probs=0.5).log_prob(0.5), r"Bernoulli.log_prob: .*support"),
        (lambda: Categorical(probs=[0.5, 0.5]).log_prob(2), r"Categorical.log_prob: .*support"),
        (lambda: Normal(_t([0.0, 0]), 1.0).log_prob(_t([1.0, 2, 3])), r"does not broadcast"),
        (lambda: Independent(Normal(0.0, 1.0), 1), r"reinterpreted_batch_ndims must be in"),
        (lambda: Bernoulli(probs=0.5).rsample(), r"Bernoulli.rsample: .*has_rsample=False"),
        (lambda: kl_divergence(Normal(0.0, 1.0), Bernoulli(probs=0.5)), r"no KL registered"),
        (
            lambda: MixtureSameFamily(Categorical(probs=[0.5, 0.5]), Normal(_t([0.0] * 3), 1.0)),
            r"component batch_shape \(3,\) must be",
        ),
    ],
)
def test_invalid_arguments_are_refused(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_validate_args_false_allows_relaxed_bernoulli_values():
    d = Bernoulli(logits=_t(0.0), validate_args=False)
    assert float(d.log_prob(_t(0.5))) == pytest.approx(-np.log(2))
    assert Normal(0.0, -1.0, validate_args=False).scale.shape == ()


def test_register_kl_adds_a_pair_and_picks_the_most_specific():
    class MyNormal(Normal):
        pass

    @register_kl(MyNormal, Normal)
    def _kl(p, q):
        return dg.tensor(-1.0)

    assert float(kl_divergence(MyNormal(0.0, 1.0), Normal(0.0, 1.0))) == -1.0
    assert float(kl_divergence(Normal(0.0, 1.0), MyNormal(1.0, 1.0))) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="register_kl: type_p must be a Distribution subclass"):
        register_kl(int, Normal)
    assert issubclass(MyNormal, Distribution)


def test_normal_cdf_modes_and_perplexity():
    d = Normal(_t([0.0, 1.0]), _t([1.0, 2.0]))
    np.testing.assert_allclose(d.cdf(_t([0.0, 1.0 + 2 * 1.959964])).data, [0.5, 0.975], atol=1e-6)
    np.testing.assert_allclose(d.mode.data, [0.0, 1.0])
    np.testing.assert_allclose(d.perplexity().data, np.exp(d.entropy().data))
    assert d.sample_n(4, generator=np.random.default_rng(0)).shape == (4, 2)
    c = Categorical(logits=_t([[0.1, 2.0, -1.0]]))
    assert c.mode.data.tolist() == [1] and np.isnan(c.mean.data).all()
    assert Bernoulli(probs=_t([0.2, 0.7])).mode.data.tolist() == [0.0, 1.0]
