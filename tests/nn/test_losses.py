"""Every loss against a NumPy reference formula, stability at extreme logits, input errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F

RNG = np.random.default_rng(0)


def T(a, grad=False):
    return dg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _logsoftmax(x, axis=1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


X = RNG.normal(size=(5, 4))
Y = RNG.normal(size=(5, 4))
P = RNG.uniform(0.05, 0.95, size=(5, 4))
B = RNG.uniform(0, 1, size=(5, 4))


@pytest.mark.parametrize(
    "reduction,red", [("mean", np.mean), ("sum", np.sum), ("none", lambda a: a)]
)
def test_regression_losses_match_numpy(reduction, red):
    d = X - Y
    refs = {
        nn.MSELoss(reduction=reduction): d**2,
        nn.L1Loss(reduction=reduction): np.abs(d),
        nn.HuberLoss(reduction=reduction, delta=0.7): np.where(
            np.abs(d) < 0.7, 0.5 * d**2, 0.7 * (np.abs(d) - 0.35)
        ),
        nn.SmoothL1Loss(reduction=reduction, beta=0.7): np.where(
            np.abs(d) < 0.7, 0.5 * d**2 / 0.7, np.abs(d) - 0.35
        ),
    }
    for loss, ref in refs.items():
        np.testing.assert_allclose(loss(T(X), T(Y)).data, red(ref), rtol=1e-12, err_msg=repr(loss))


def test_binary_losses_match_numpy():
    w = RNG.uniform(0.5, 2, size=(4,))
    ref = -(B * np.log(P) + (1 - B) * np.log(1 - P))
    np.testing.assert_allclose(nn.BCELoss()(T(P), T(B)).data, ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        nn.BCELoss(w, reduction="sum")(T(P), T(B)).data, (ref * w).sum(), rtol=1e-12
    )
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    sig = 1 / (1 + np.exp(-X))
    ref = -(pw * B * np.log(sig) + (1 - B) * np.log(1 - sig))
    got = nn.BCEWithLogitsLoss(reduction="none", pos_weight=pw)(T(X), T(B))
    np.testing.assert_allclose(got.data, ref, rtol=1e-10)
    got = nn.BCEWithLogitsLoss(w)(T(X), T(B))
    ref = -(B * np.log(sig) + (1 - B) * np.log(1 - sig)) * w
    np.testing.assert_allclose(got.data, ref.mean(), rtol=1e-10)


def test_bce_clamps_logs_at_minus_100():
    loss = F.binary_cross_entropy(T([0.0, 1.0]), T([1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0])


def test_bce_with_logits_gradient_at_zero_is_sigmoid_minus_target():
    x = T([0.0, 0.0], grad=True)
    F.binary_cross_entropy_with_logits(x, T([1.0, 0.0]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.data, [-0.5, 0.5])


def test_cross_entropy_with_indices_weights_ignore_and_smoothing():
    x = RNG.normal(size=(6, 4))
    t = np.array([0, 3, 1, -100, 2, 3])
    w = np.array([1.0, 2.0, 0.5, 1.5])
    logp = _logsoftmax(x)
    valid = t != -100
    ts = np.where(valid, t, 0)
    nll = -logp[np.arange(6), ts]
    np.testing.assert_allclose(nn.CrossEntropyLoss()(T(x), ts).data, nll.mean(), rtol=1e-12)
    sw = w[ts] * valid
    got = nn.CrossEntropyLoss(w)(T(x), t)
    np.testing.assert_allclose(got.data, (nll * sw).sum() / sw.sum(), rtol=1e-12)
    eps = 0.2
    smooth = -(logp * w).sum(1) * valid
    ref = (1 - eps) * (nll * sw).sum() / sw.sum() + eps / 4 * smooth.sum() / sw.sum()
    got = nn.CrossEntropyLoss(w, label_smoothing=eps)(T(x), t)
    np.testing.assert_allclose(got.data, ref, rtol=1e-12)
    got = nn.CrossEntropyLoss(reduction="none", label_smoothing=eps)(T(x), t)
    ref = (1 - eps) * nll * valid + eps / 4 * (-logp.sum(1)) * valid
    np.testing.assert_allclose(got.data, ref, rtol=1e-12)


def test_cross_entropy_spatial_and_probability_targets():
    x = RNG.normal(size=(2, 3, 4, 5))
    t = RNG.integers(0, 3, size=(2, 4, 5))
    logp = _logsoftmax(x, axis=1)
    ref = -np.take_along_axis(logp, t[:, None], axis=1)[:, 0]
    got = F.cross_entropy(T(x), t, reduction="none")
    np.testing.assert_allclose(got.data, ref, rtol=1e-12)
    p = RNG.uniform(size=(5, 4))
    p /= p.sum(1, keepdims=True)
    x = RNG.normal(size=(5, 4))
    ref = -(p * _logsoftmax(x)).sum(1).mean()
    np.testing.assert_allclose(F.cross_entropy(T(x), T(p)).data, ref, rtol=1e-12)
    ps = p * 0.9 + 0.1 / 4
    ref = -(ps * _logsoftmax(x)).sum(1).mean()
    np.testing.assert_allclose(F.cross_entropy(T(x), T(p), label_smoothing=0.1).data, ref)
    one = F.cross_entropy(T(x[0]), np.int64(2))  # unbatched (C,) input
    np.testing.assert_allclose(one.data, -_logsoftmax(x[:1])[0, 2], rtol=1e-12)


def test_nll_and_multi_margin_match_numpy():
    x = RNG.normal(size=(6, 4))
    t = RNG.integers(0, 4, size=6)
    w = np.array([1.0, 2.0, 0.5, 1.5])
    ref = -(x[np.arange(6), t] * w[t]).sum() / w[t].sum()
    np.testing.assert_allclose(nn.NLLLoss(w)(T(x), t).data, ref, rtol=1e-12)
    for p in (1, 2):
        z = np.maximum(0, 0.8 - x[np.arange(6), t][:, None] + x) ** p
        z[np.arange(6), t] = 0
        ref = (z * w[t][:, None]).sum(1) / 4
        got = nn.MultiMarginLoss(p=p, margin=0.8, weight=w, reduction="none")(T(x), t)
        np.testing.assert_allclose(got.data, ref, rtol=1e-12)


def test_embedding_and_distribution_losses_match_numpy():
    y = np.where(RNG.uniform(size=(5, 4)) > 0.5, 1.0, -1.0)
    ref = np.where(y == 1, X, np.maximum(0, 1.0 - X)).mean()
    np.testing.assert_allclose(nn.HingeEmbeddingLoss()(T(X), y).data, ref, rtol=1e-12)
    logq = _logsoftmax(X)
    p = np.exp(_logsoftmax(Y))
    kl = (p * (np.log(p) - logq)).sum() / 5
    np.testing.assert_allclose(nn.KLDivLoss(reduction="batchmean")(T(logq), T(p)).data, kl)
    got = nn.KLDivLoss(reduction="sum", log_target=True)(T(logq), T(np.log(p)))
    np.testing.assert_allclose(got.data, kl * 5, rtol=1e-12)
    zero = F.kl_div(T(logq), T(np.zeros((5, 4))), reduction="sum")
    assert zero.item() == 0.0
    var = RNG.uniform(0.5, 2, size=(5, 4))
    ref = 0.5 * (np.log(var) + (X - Y) ** 2 / var)
    np.testing.assert_allclose(nn.GaussianNLLLoss()(T(X), T(Y), T(var)).data, ref.mean())
    full = nn.GaussianNLLLoss(full=True, reduction="sum")(T(X), T(Y), T(var[:, 0]))
    ref = 0.5 * (np.log(var[:, :1]) + (X - Y) ** 2 / var[:, :1]) + 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(full.data, ref.sum(), rtol=1e-12)
    t = np.array([1.0, -1, 1, -1, -1])
    cos = (X * Y).sum(1) / np.sqrt(((X**2).sum(1) + 1e-12) * ((Y**2).sum(1) + 1e-12))
    ref = np.where(t == 1, 1 - cos, np.maximum(0, cos - 0.1)).mean()
    got = nn.CosineEmbeddingLoss(margin=0.1)(T(X), T(Y), t)
    np.testing.assert_allclose(got.data, ref, rtol=1e-12)


def test_gaussian_nll_clamp_passes_gradient_and_rejects_negative_var():
    v = T([0.0, 1.0], grad=True)
    F.gaussian_nll_loss(T([0.0, 0.0]), T([0.0, 0.0]), v, reduction="sum").backward()
    np.testing.assert_allclose(v.grad.data, [0.5 / 1e-6, 0.5])
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(T([0.0]), T([0.0]), T([-1.0]))


@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_losses_stay_finite_at_extreme_float32_logits(scale):
    x = dg.tensor(
        np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.0]]) * scale, dtype="float32", requires_grad=True
    )
    t = np.array([1, 1])
    for fn in (
        lambda: F.cross_entropy(x, t),
        lambda: F.cross_entropy(x, t, label_smoothing=0.1),
        lambda: F.nll_loss(F.log_softmax(x, 1), t),
        lambda: F.binary_cross_entropy_with_logits(x, np.ones((2, 3), np.float32)),
    ):
        x.grad = None
        loss = fn()
        loss.backward()
        assert loss.dtype == np.float32
        assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad.numpy()))
    ce = F.cross_entropy(x, t, reduction="none").data
    expected = 0.0 if scale < 0 else 2e4
    np.testing.assert_allclose(ce[0], expected, atol=1e-3)


def test_class_index_errors_name_the_value_and_the_range():
    x = dg.zeros(4, 10)
    with pytest.raises(
        IndexError,
        match=r"target class 12 at position \(2,\) is out of range: "
        r"valid classes are \[0, 10\)",
    ):
        F.cross_entropy(x, np.array([1, 2, 12, 3]))
    with pytest.raises(IndexError, match="target class -1"):
        nn.NLLLoss()(x, np.array([1, -1, 0, 0]))
    with pytest.raises(TypeError, match="must be integers, got dtype float32 with shape \\(4,\\)"):
        F.cross_entropy(x, np.array([1.0, 2, 3, 4], np.float32))
    with pytest.raises(
        ValueError,
        match=r"target shape \(3,\) does not match input shape "
        r"\(4, 10\): expected class indices of shape \(4,\)",
    ):
        F.cross_entropy(x, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="weight must have shape \\(10,\\)"):
        F.cross_entropy(x, np.array([1, 2, 3, 4]), weight=np.ones(3))


def test_reduction_and_argument_validation():
    with pytest.raises(ValueError, match="reduction='avg' is not valid"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="batchmean"):
        F.mse_loss(T(X), T(Y), reduction="batchmean")
    nn.KLDivLoss(reduction="batchmean")
    with pytest.raises(ValueError, match="probabilities in \\[0, 1\\]"):
        F.binary_cross_entropy(T([1.5]), T([1.0]))
    with pytest.raises(ValueError, match="must be 1 or -1, got 0"):
        F.hinge_embedding_loss(T([1.0, 2.0]), np.array([1.0, 0.0]))
    with pytest.warns(UserWarning, match="differs from input shape"):
        F.mse_loss(T(np.zeros((3, 1))), T(np.zeros(3)))
