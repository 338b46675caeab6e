"""The model zoo: published parameter counts, a forward and backward pass for every model,
and segmentation outputs with the input's spatial size."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.models as M

# torchvision's counts for the reference configurations (1000 classes), the CIFAR ResNets of
# He et al. (2016, option A shortcuts) and the classic LeNet-5.
COUNTS = [
    (lambda: M.lenet5(), 61_706),
    (lambda: M.resnet18(), 11_689_512),
    (lambda: M.resnet34(), 21_797_672),
    (lambda: M.resnet50(), 25_557_032),
    (lambda: M.densenet121(), 7_978_856),
    (lambda: M.resnet20(), 269_722),
    (lambda: M.resnet56(), 853_018),
    (lambda: M.alexnet(), 61_100_840),
    (lambda: M.vgg11(), 132_863_336),
    (lambda: M.vgg16(), 138_357_544),
]


@pytest.mark.parametrize("ctor,count", COUNTS, ids=[str(c) for _, c in COUNTS])
def test_parameter_counts_match_the_published_models(ctor, count):
    assert ctor().num_parameters() == count


def test_batch_norm_vgg_adds_two_parameters_per_channel():
    convs = [64, 128, 256, 256, 512, 512, 512, 512]
    assert M.vgg11_bn(10, hidden=8).num_parameters() - M.vgg11(
        10, hidden=8
    ).num_parameters() == 2 * sum(convs)


SMALL = [
    ("lenet5", lambda: M.lenet5(), (2, 1, 28, 28), (2, 10)),
    ("alexnet", lambda: M.alexnet(7, 1), (1, 1, 63, 63), (1, 7)),
    ("vgg11_bn", lambda: M.vgg11_bn(5, 3, hidden=16, pool_size=1), (2, 3, 32, 32), (2, 5)),
    ("vgg16", lambda: M.vgg16(5, 2, hidden=16, pool_size=1), (1, 2, 32, 32), (1, 5)),
    ("resnet18", lambda: M.resnet18(10), (2, 3, 32, 32), (2, 10)),
    ("resnet34", lambda: M.resnet34(4, 1), (2, 1, 32, 32), (2, 4)),
    ("resnet50", lambda: M.resnet50(10), (2, 3, 32, 32), (2, 10)),
    ("resnet20", lambda: M.resnet20(10), (2, 3, 16, 16), (2, 10)),
    ("resnet56", lambda: M.resnet56(3, 1), (2, 1, 8, 8), (2, 3)),
    ("googlenet", lambda: M.googlenet_small(10, 3, width=0.25), (2, 3, 16, 16), (2, 10)),
    ("xception", lambda: M.xception_small(10, 3, widths=(8, 16, 32)), (2, 3, 16, 16), (2, 10)),
    ("densenet121", lambda: M.densenet121(10), (2, 3, 32, 32), (2, 10)),
    ("densenet_bc", lambda: M.densenet_bc(22, 6), (2, 3, 16, 16), (2, 10)),
    ("fcn8s", lambda: M.fcn8s(5, 3, widths=(8, 8, 16, 16, 16), fc_channels=16), (1, 3, 37, 45),
     (1, 5, 37, 45)),
    ("unet", lambda: M.unet(3, 1, depth=3, width=8), (1, 1, 29, 35), (1, 3, 29, 35)),
]  # fmt: skip


@pytest.mark.parametrize("name,ctor,shape,out", SMALL, ids=[s[0] for s in SMALL])
def test_every_model_runs_forward_and_backward(name, ctor, shape, out):
    model = ctor()
    x = dg.Tensor(
        np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True
    )
    y = model(x)
    assert y.shape == out
    y.sum().backward()
    assert np.all(np.isfinite(x.grad.numpy())) and np.any(x.grad.numpy() != 0)
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing[:5]}"


@pytest.mark.parametrize("hw", [(32, 32), (33, 47), (40, 35)])
def test_fcn8s_output_has_the_input_spatial_size(hw):
    model = M.fcn8s(3, 1, widths=(4, 4, 8, 8, 8), fc_channels=8).eval()
    assert model(dg.zeros(1, 1, *hw)).shape == (1, 3, *hw)


@pytest.mark.parametrize("hw,depth", [((16, 16), 4), ((17, 23), 2), ((31, 9), 3), ((8, 13), 1)])
def test_unet_output_has_the_input_spatial_size(hw, depth):
    model = M.unet(2, 3, depth=depth, width=4, batch_norm=False)
    assert model(dg.zeros(1, 3, *hw)).shape == (1, 2, *hw)


def test_fcn_upsampling_starts_bilinear():
    w = M.bilinear_kernel(1, 4)[0, 0]
    np.testing.assert_allclose(w[0], [0.0625, 0.1875, 0.1875, 0.0625])
    up = dg.nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1, bias=False)
    up.weight.data[...] = M.bilinear_kernel(1, 4)
    y = up(dg.ones(1, 1, 4, 4)).data
    np.testing.assert_allclose(y[0, 0, 1:-1, 1:-1], 1.0, rtol=1e-6)  # interior of a constant


def test_models_refuse_inputs_they_cannot_take():
    with pytest.raises(ValueError, match="expects input"):
        M.lenet5()(dg.zeros(1, 1, 20, 20))
    with pytest.raises(ValueError, match="H, W >= 32"):
        M.fcn8s(2, 1)(dg.zeros(1, 1, 16, 16))
    with pytest.raises(
        ValueError, match=r"conv1 \(Conv2d 3 -> 64, 7x7\) expects input \(N, 3, H, W\)"
    ):
        M.resnet18()(dg.zeros(1, 1, 32, 32))


def test_resnet_zero_init_residual_starts_blocks_as_identity():
    model = M.resnet18(10, zero_init_residual=True)
    assert np.all(model.layer1[0].bn2.weight.numpy() == 0)
