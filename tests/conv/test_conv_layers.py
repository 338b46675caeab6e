"""Convolution, pooling and image layers: the registered gradient-check cases, PyTorch's
init and shapes, and error messages that name the layer."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import conv as conv_mod
from deepgrad.nn.registry import cases_for
from deepgrad.nn.utils import functional_call
from deepgrad.testing import gradcheck

LAYERS = [getattr(nn, n) for n in conv_mod.__all__ if inspect.isclass(getattr(nn, n))]
CASES = [
    pytest.param(c, k, id=f"{c.__name__}-{k}") for c in LAYERS for k in range(len(cases_for(c)))
]


def test_every_image_layer_declares_cases():
    missing = [c.__name__ for c in LAYERS if not cases_for(c)]
    assert not missing, f"layers without gradient-check cases: {missing}"


@pytest.mark.parametrize("cls,k", CASES)
def test_layer_case_gradients(cls, k):
    """Same check as tests/nn/test_layer_registry.py, over the layers of nn.conv."""
    case = cases_for(cls)[k]
    rng = np.random.default_rng(1234 + k)
    module = case.ctor().double()
    module.train(case.train)
    xs = [dg.Tensor(a, requires_grad=True) for a in case.make_inputs(rng)]
    targets = case.make_targets(rng)
    names = [n for n, p in module.named_parameters() if p.requires_grad] if case.params else []
    params = [dg.Tensor(module.get_parameter(n).numpy().copy(), requires_grad=True) for n in names]

    def f(*args):
        return functional_call(
            module, dict(zip(names, args[len(xs) :])), (*args[: len(xs)], *targets)
        )

    assert f(*xs, *params).dtype == np.float64
    assert gradcheck(f, xs + params, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_conv_init_matches_pytorch_bounds():
    conv = nn.Conv2d(16, 32, 3, generator=np.random.default_rng(0))
    bound = 1 / np.sqrt(16 * 9)  # kaiming_uniform(a=sqrt 5) gives U(+-1/sqrt(fan_in))
    assert np.abs(conv.weight.numpy()).max() <= bound
    assert np.abs(conv.weight.numpy()).max() > 0.95 * bound
    assert np.abs(conv.bias.numpy()).max() <= bound
    assert conv.weight.dtype == np.float32
    t = nn.ConvTranspose2d(8, 4, 3, groups=2)
    assert t.weight.shape == (8, 2, 3, 3)


@pytest.mark.parametrize(
    "layer,shape,out",
    [
        (lambda: nn.Conv2d(3, 8, 5, padding=2), (2, 3, 28, 28), (2, 8, 28, 28)),
        (lambda: nn.Conv2d(3, 8, 3, stride=2), (2, 3, 9, 9), (2, 8, 4, 4)),
        (lambda: nn.Conv2d(3, 8, 3, padding="same", dilation=2), (1, 3, 7, 6), (1, 8, 7, 6)),
        (lambda: nn.Conv1d(3, 8, 4, padding="same"), (3, 10), (8, 10)),
        (lambda: nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), (1, 4, 5, 5),
         (1, 2, 10, 10)),
        (lambda: nn.MaxPool2d(3, 2, ceil_mode=True), (1, 1, 8, 8), (1, 1, 4, 4)),
        (lambda: nn.PixelShuffle(3), (1, 18, 2, 2), (1, 2, 6, 6)),
        (lambda: nn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4), (1, 2, 6, 8)),
        (lambda: nn.ZeroPad2d((1, 2, 3, 4)), (1, 1, 2, 2), (1, 1, 9, 5)),
        (lambda: nn.GlobalAvgPool2d(), (2, 5, 3, 3), (2, 5)),
    ],
)  # fmt: skip
def test_output_shapes(layer, shape, out):
    assert layer()(dg.zeros(*shape)).shape == out


def test_conv_transpose_output_size_argument():
    up = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = dg.zeros(1, 2, 4, 4)
    assert up(x).shape[2:] == (7, 7)
    assert up(x, output_size=(8, 8)).shape[2:] == (8, 8)
    with pytest.raises(ValueError, match="not reachable"):
        up(x, output_size=(10, 8))


def test_layernorm_over_chw_normalises_each_sample():
    x = dg.Tensor(np.random.default_rng(0).standard_normal((3, 4, 5, 6)) * 3 + 1)
    y = nn.LayerNorm((4, 5, 6))(x).numpy()
    np.testing.assert_allclose(y.reshape(3, -1).mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(3, -1).std(axis=1), 1, atol=1e-3)


def test_dropout2d_zeroes_whole_feature_maps():
    drop = nn.Dropout2d(0.5, generator=np.random.default_rng(0))
    y = drop(dg.ones(8, 16, 4, 4)).numpy()
    per_map = y.reshape(8, 16, -1)
    assert np.all((per_map == 0).all(axis=2) | (per_map == 2).all(axis=2))
    assert 0 < (per_map == 0).all(axis=2).mean() < 1
    assert drop.eval()(dg.ones(2, 3, 2, 2)).data.min() == 1


def test_channel_mismatch_names_the_layer_path_and_counts():
    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.Conv2d(8, 16, 5))
    with pytest.raises(ValueError, match=r"^2 \(Conv2d 8 -> 16, 5x5\) expects input \(N, 8, H, W\)"
                       r" with 8 channels, got \(1, 6, 24, 24\)"):  # fmt: skip
        model(dg.zeros(1, 1, 28, 28))


def test_kernel_larger_than_input_names_the_layer_and_formula():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 5))
    with pytest.raises(ValueError, match=r"2 \(Conv2d 2 -> 2, 5x5\): kernel larger than the padded "
                       r"input along spatial dim 0: output size floor\(\(N \+ P - D\(F-1\) - 1\)/S\)"):  # fmt: skip
        model(dg.zeros(1, 1, 9, 9))
    with pytest.raises(ValueError, match=r"1 \(MaxPool2d\): max_pool: kernel larger"):
        nn.Sequential(nn.Identity(), nn.MaxPool2d(4))(dg.zeros(1, 1, 3, 3))


def test_invalid_constructor_arguments():
    with pytest.raises(ValueError, match="groups=3 must divide in_channels=4"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")


def test_batchnorm2d_normalises_per_channel_and_tracks_running_stats():
    bn = nn.BatchNorm2d(3)
    x = dg.Tensor(np.random.default_rng(0).standard_normal((8, 3, 4, 4)) * 2 + 5)
    y = bn(x).data
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * x.data.mean(axis=(0, 2, 3)), rtol=1e-5)
    with pytest.raises(
        ValueError, match=r"BatchNorm2d 3 expects input \(N, 3, H, W\), got \(2, 4, 3, 3\)"
    ):
        bn(dg.zeros(2, 4, 3, 3))


@pytest.mark.parametrize("out_channels", [8, 64])  # the channels-last and channels-first kernels
def test_empty_batch_runs_forward_and_backward(out_channels):
    conv = dg.nn.Conv2d(3, out_channels, 3, padding=1)
    x = dg.zeros(0, 3, 8, 8, requires_grad=True)
    y = conv(x)
    assert y.shape == (0, out_channels, 8, 8)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
    assert np.array_equal(conv.weight.grad.numpy(), np.zeros(conv.weight.shape, np.float32))


@pytest.mark.parametrize("n_and_c", [1, 2, 3])
def test_batch_equal_to_channels_matches_a_direct_reference(n_and_c):
    # few channels and batch == channels: the window layout must not be guessed from shapes
    rng = np.random.default_rng(0)
    n = c = n_and_c
    x = rng.standard_normal((n, c, 9, 9))
    w = rng.standard_normal((4, c, 3, 3))
    y = dg.nn.functional.conv2d(dg.Tensor(x), dg.Tensor(w), padding=1).numpy()
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = sum(
        np.einsum("nchw,oc->nohw", xp[:, :, i : i + 9, j : j + 9], w[:, :, i, j])
        for i in range(3)
        for j in range(3)
    )
    np.testing.assert_allclose(y, ref, atol=1e-12)
