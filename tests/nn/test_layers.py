"""Layers and activations against NumPy formulas; Linear's init; Embedding; erf's accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F
from deepgrad.ops.nnops import erf_numpy

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 5)) * 2


def T(a, grad=False):
    return dg.Tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _sig(x):
    return 1 / (1 + np.exp(-x))


_ERF = np.vectorize(math.erf)
SELU_A, SELU_L = 1.6732632423543772, 1.0507009873554805
ACTIVATIONS = [
    (nn.Sigmoid(), _sig(X)),
    (nn.Tanh(), np.tanh(X)),
    (nn.ReLU(), np.maximum(X, 0)),
    (nn.ReLU6(), np.clip(X, 0, 6)),
    (nn.LeakyReLU(0.2), np.where(X > 0, X, 0.2 * X)),
    (nn.ELU(0.5), np.where(X > 0, X, 0.5 * np.expm1(X))),
    (nn.SELU(), SELU_L * np.where(X > 0, X, SELU_A * np.expm1(X))),
    (nn.GELU(), 0.5 * X * (1 + _ERF(X / math.sqrt(2)))),
    (nn.GELU("tanh"), 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))),
    (nn.SiLU(), X * _sig(X)),
    (nn.Swish(2.0), X * _sig(2 * X)),
    (nn.Softplus(), np.log1p(np.exp(X))),
    (nn.Softplus(beta=2, threshold=1.0), np.where(2 * X > 1, X, np.log1p(np.exp(2 * X)) / 2)),
    (nn.LogSigmoid(), np.log(_sig(X))),
    (nn.Softmax(dim=1), np.exp(X) / np.exp(X).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=0), X - np.log(np.exp(X).sum(0, keepdims=True))),
    (nn.Hardtanh(-0.5, 1.5), np.clip(X, -0.5, 1.5)),
    (nn.Step(), (X > 0).astype(float)),
    (nn.LinearActivation(0.3), 0.3 * X),
    (nn.PReLU(), np.where(X > 0, X, 0.25 * X)),
]


@pytest.mark.parametrize("layer,ref", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activation_matches_numpy(layer, ref):
    layer.double()
    np.testing.assert_allclose(layer(T(X)).data, ref, rtol=1e-12, atol=1e-14)


def test_functional_and_module_forms_agree():
    x = T(X)
    np.testing.assert_allclose(F.gelu(x).data, nn.GELU()(x).data)
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).data, nn.LeakyReLU(0.1)(x).data)
    np.testing.assert_allclose(F.softmax(x, dim=-1).data, nn.Softmax(-1)(x).data)


def test_erf_is_accurate_to_float64():
    x = np.concatenate([np.linspace(-6, 6, 4001), [0.0, 2.5, -2.5, 1e-8, 30.0, np.inf, -np.inf]])
    ref = _ERF(x)
    assert np.max(np.abs(erf_numpy(x) - ref)) < 2e-15  # a few ulp
    assert np.isnan(erf_numpy(np.array([np.nan]))[0])


def test_activation_gradients_at_the_kinks_follow_pytorch():
    x = T([0.0], grad=True)
    F.elu(x).sum().backward()
    assert x.grad.item() == 1.0  # PyTorch takes the negative branch at 0: alpha e^0
    x.grad = None
    F.leaky_relu(x, 0.1).sum().backward()
    assert x.grad.item() == pytest.approx(0.1)
    x.grad = None
    F.relu(x).sum().backward()
    assert x.grad.item() == 0.0
    x.grad = None
    F.softplus(x).sum().backward()
    assert x.grad.item() == 0.5


def test_step_has_zero_gradient_but_keeps_the_graph():
    x = T(X, grad=True)
    F.step(x).sum().backward()
    assert np.all(x.grad.numpy() == 0)


def test_prelu_learns_one_slope_per_channel():
    p = nn.PReLU(3).double()
    x = T(-np.ones((2, 3, 4)), grad=True)
    p(x).sum().backward()
    np.testing.assert_allclose(p.weight.grad.data, [-8.0, -8.0, -8.0])
    with pytest.raises(ValueError, match=r"PReLU expects input \(N, 3, \*\)"):
        p(T(np.ones((2, 4))))


def test_swish_learnable_beta_is_a_parameter():
    s = nn.Swish(1.0, learnable=True)
    assert [n for n, _ in s.named_parameters()] == ["beta"]
    assert nn.Swish(1.0).num_parameters() == 0
    assert repr(s) == "Swish(beta=1, learnable=True)  # 1 param"


def test_maxout_is_the_max_of_k_affine_pieces():
    m = nn.Maxout(5, 3, k=4, generator=np.random.default_rng(0)).double()
    z = X @ m.weight.numpy().T + m.bias.numpy()
    np.testing.assert_allclose(m(T(X)).data, z.reshape(4, 3, 4).max(-1))


def test_linear_default_init_matches_pytorch_bounds():
    lin = nn.Linear(400, 300, generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.95 * bound
    assert abs(lin.weight.numpy().var() - bound**2 / 3) < 0.05 * bound**2 / 3
    same = nn.Linear(400, 300, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(lin.weight.data, same.weight.data)


def test_linear_handles_leading_axes_and_no_bias():
    lin = nn.Linear(5, 2, bias=False).double()
    x = RNG.normal(size=(3, 4, 5))
    np.testing.assert_allclose(lin(T(x)).data, x @ lin.weight.data.T)
    assert lin.bias is None and [n for n, _ in lin.named_parameters()] == ["weight"]
    lin = nn.Linear(5, 2).double()
    np.testing.assert_allclose(lin(T(x[0, 0])).data, x[0, 0] @ lin.weight.data.T + lin.bias.data)


def test_linear_weight_is_column_major_and_so_is_its_gradient():
    # Same values and shape as PyTorch's (out, in) weight, stored as the transpose of a
    # C-contiguous (in, out) array; the gradient arrives in that layout, owning its memory.
    lin = nn.Linear(6, 4)
    w = lin.weight.numpy()
    assert w.shape == (4, 6) and w.flags.f_contiguous and not w.flags.c_contiguous
    x = RNG.normal(size=(5, 6)).astype(np.float32)
    lin(T(x)).sum().backward()
    g = lin.weight.grad.numpy()
    assert g.flags.f_contiguous and g.flags.owndata
    np.testing.assert_allclose(g, np.ones((5, 4)).T @ x, rtol=1e-6)
    assert lin.state_dict()["weight"].flags.c_contiguous
    # a route whose gradient arrives as a fresh row-major array (times a row-major
    # constant), twice so that it accumulates, still leaves .grad in the weight's
    # layout: PyTorch's gradient layout contract
    lin.weight.grad = None
    v = np.arange(24, dtype=np.float32).reshape(4, 6)
    for _ in range(2):
        (lin.weight * T(v)).sum().backward()
    g = lin.weight.grad.numpy()
    assert g.flags.f_contiguous and not g.flags.c_contiguous
    np.testing.assert_array_equal(g, 2 * v)
    # a row-major weight (assigned by the user) keeps a row-major gradient
    lin.weight.data = np.ascontiguousarray(w)
    lin.weight.grad = None
    lin(T(x)).sum().backward()
    assert lin.weight.grad.numpy().flags.c_contiguous


def test_functional_linear_names_the_shapes_at_fault():
    with pytest.raises(ValueError, match=r"linear: input \(3, 5\), weight \(2, 4\)"):
        F.linear(T(RNG.normal(size=(3, 5))), T(RNG.normal(size=(2, 4))))
    with pytest.raises(ValueError, match=r"bias \(3,\)"):
        F.linear(T(RNG.normal(size=(3, 4))), T(RNG.normal(size=(2, 4))), T(np.zeros(3)))


def test_flatten_unflatten_identity():
    x = T(RNG.normal(size=(2, 3, 4)))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(1, (3, 4))(nn.Flatten()(x)).shape == (2, 3, 4)
    assert nn.Identity(54, unused="x")(x) is x
    with pytest.raises(ValueError, match="Unflatten expects input axis 1 of size 5"):
        nn.Unflatten(1, (5,))(x)


def test_embedding_lookup_padding_row_and_errors():
    emb = nn.Embedding(6, 3, padding_idx=2).double()
    assert np.all(emb.weight.numpy()[2] == 0)
    idx = np.array([[0, 2, 5], [2, 2, 1]])
    out = emb(idx)
    np.testing.assert_array_equal(out.data, emb.weight.data[idx])
    (out * T(RNG.normal(size=(2, 3, 3)))).sum().backward()
    assert np.all(emb.weight.grad.numpy()[2] == 0) and np.any(emb.weight.grad.numpy()[0] != 0)
    with pytest.raises(IndexError, match=r"Embedding 6 x 3: embedding: index 6 is out of range"):
        emb(np.array([6]))
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0]))
