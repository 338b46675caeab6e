"""Every image layer against PyTorch: same weights, same input, same outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch (pip install torch)")
tnn = torch.nn

# (deepgrad layer, torch layer, input shape); parameters are copied deepgrad -> torch by name.
PAIRS = [
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), lambda: tnn.Conv1d(3, 4, 3, 2, 1), (2, 3, 9)),
    (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
     lambda: tnn.Conv2d(4, 6, (3, 2), (2, 1), (1, 2), (1, 2), 2), (2, 4, 9, 8)),
    (lambda: nn.Conv2d(3, 5, 3, padding="same", padding_mode="reflect"),
     lambda: tnn.Conv2d(3, 5, 3, padding="same", padding_mode="reflect"), (2, 3, 7, 6)),
    (lambda: nn.Conv2d(3, 5, 3, padding=2, padding_mode="replicate", bias=False),
     lambda: tnn.Conv2d(3, 5, 3, padding=2, padding_mode="replicate", bias=False), (1, 3, 5, 6)),
    (lambda: nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular"),
     lambda: tnn.Conv2d(3, 5, 3, padding=1, padding_mode="circular"), (1, 3, 5, 6)),
    (lambda: nn.Conv2d(6, 6, 3, groups=6, padding=1), lambda: tnn.Conv2d(6, 6, 3, groups=6, padding=1),
     (2, 6, 7, 7)),
    (lambda: nn.Conv3d(2, 4, (2, 3, 2), stride=(1, 2, 1), padding=1),
     lambda: tnn.Conv3d(2, 4, (2, 3, 2), (1, 2, 1), 1), (1, 2, 4, 6, 5)),
    (lambda: nn.ConvTranspose1d(3, 2, 4, stride=3, padding=1, output_padding=2),
     lambda: tnn.ConvTranspose1d(3, 2, 4, 3, 1, 2), (2, 3, 5)),
    (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
     lambda: tnn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2, dilation=2), (2, 4, 5, 4)),
    (lambda: nn.ConvTranspose3d(2, 2, 2, stride=2), lambda: tnn.ConvTranspose3d(2, 2, 2, 2), (1, 2, 2, 3, 2)),
    (lambda: nn.MaxPool1d(3, 2, 1), lambda: tnn.MaxPool1d(3, 2, 1), (2, 3, 10)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), lambda: tnn.MaxPool2d(3, 2, 1, ceil_mode=True),
     (2, 3, 10, 9)),
    (lambda: nn.MaxPool2d(2, 1, dilation=2), lambda: tnn.MaxPool2d(2, 1, dilation=2), (1, 2, 6, 7)),
    (lambda: nn.MaxPool3d(2), lambda: tnn.MaxPool3d(2), (1, 2, 4, 4, 5)),
    (lambda: nn.AvgPool1d(3, 2, 1), lambda: tnn.AvgPool1d(3, 2, 1), (2, 3, 10)),
    (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
     lambda: tnn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 10, 9)),
    (lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), lambda: tnn.AvgPool2d(3, 2, 1, ceil_mode=True),
     (2, 3, 10, 9)),
    (lambda: nn.AvgPool3d(2, 1), lambda: tnn.AvgPool3d(2, 1), (1, 2, 3, 4, 3)),
    (lambda: nn.AdaptiveAvgPool1d(4), lambda: tnn.AdaptiveAvgPool1d(4), (2, 3, 11)),
    (lambda: nn.AdaptiveAvgPool2d((3, 5)), lambda: tnn.AdaptiveAvgPool2d((3, 5)), (2, 3, 10, 7)),
    (lambda: nn.AdaptiveAvgPool3d((2, 1, 3)), lambda: tnn.AdaptiveAvgPool3d((2, 1, 3)), (1, 2, 5, 3, 4)),
    (lambda: nn.AdaptiveMaxPool1d(4), lambda: tnn.AdaptiveMaxPool1d(4), (2, 3, 11)),
    (lambda: nn.AdaptiveMaxPool2d((3, 5)), lambda: tnn.AdaptiveMaxPool2d((3, 5)), (2, 3, 10, 7)),
    (lambda: nn.Upsample(scale_factor=2), lambda: tnn.Upsample(scale_factor=2), (1, 2, 3, 4)),
    (lambda: nn.Upsample(size=(5, 7)), lambda: tnn.Upsample(size=(5, 7)), (1, 2, 3, 4)),
    (lambda: nn.Upsample(scale_factor=2, mode="bilinear"),
     lambda: tnn.Upsample(scale_factor=2, mode="bilinear"), (1, 2, 3, 4)),
    (lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
     lambda: tnn.Upsample(size=(5, 7), mode="bilinear", align_corners=True), (1, 2, 3, 4)),
    (lambda: nn.Upsample(scale_factor=1.5, mode="linear"),
     lambda: tnn.Upsample(scale_factor=1.5, mode="linear"), (1, 2, 5)),
    (lambda: nn.UpsamplingBilinear2d(scale_factor=2), lambda: tnn.UpsamplingBilinear2d(scale_factor=2),
     (1, 2, 3, 3)),
    (lambda: nn.ZeroPad2d((1, -1, 2, 0)), lambda: tnn.ZeroPad2d((1, -1, 2, 0)), (1, 2, 3, 4)),
    (lambda: nn.ReflectionPad2d((1, 2, 2, 1)), lambda: tnn.ReflectionPad2d((1, 2, 2, 1)), (1, 2, 4, 4)),
    (lambda: nn.ReplicationPad2d(2), lambda: tnn.ReplicationPad2d(2), (1, 2, 3, 3)),
    (lambda: nn.PixelShuffle(2), lambda: tnn.PixelShuffle(2), (1, 8, 3, 2)),
    (lambda: nn.PixelUnshuffle(2), lambda: tnn.PixelUnshuffle(2), (1, 2, 4, 6)),
    (lambda: nn.BatchNorm2d(3), lambda: tnn.BatchNorm2d(3), (4, 3, 3, 2)),
    (lambda: nn.BatchNorm3d(2), lambda: tnn.BatchNorm3d(2), (3, 2, 2, 2, 3)),
    (lambda: nn.InstanceNorm2d(3, affine=True), lambda: tnn.InstanceNorm2d(3, affine=True), (2, 3, 4, 3)),
    (lambda: nn.InstanceNorm3d(2), lambda: tnn.InstanceNorm3d(2), (2, 2, 2, 3, 3)),
    (lambda: nn.GlobalAvgPool2d(), lambda: tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()),
     (2, 3, 4, 5)),
]  # fmt: skip


@pytest.mark.parametrize("ours,theirs,shape", PAIRS, ids=lambda v: "" if callable(v) else str(v))
def test_layer_matches_pytorch(ours, theirs, shape):
    rng = np.random.default_rng(0)
    a, b = ours().double(), theirs().double()
    with torch.no_grad():
        for name, p in a.named_parameters():
            dict(b.named_parameters())[name].copy_(torch.tensor(p.numpy()))
    x = rng.standard_normal(shape)
    xa = dg.Tensor(x, requires_grad=True)
    xb = torch.tensor(x, requires_grad=True)
    ya, yb = a(xa), b(xb)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(ya.shape)
    ya.backward(g)
    yb.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.data, xb.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in a.named_parameters():
        ref = dict(b.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(p.grad.data, ref, rtol=1e-9, atol=1e-12, err_msg=name)


def test_max_pool_indices_and_unpool_match_pytorch():
    x = np.random.default_rng(1).standard_normal((2, 3, 9, 8))
    y, idx = nn.MaxPool2d(3, 2, 1, return_indices=True)(dg.Tensor(x))
    ty, tidx = tnn.MaxPool2d(3, 2, 1, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    u = nn.MaxUnpool2d(3, 2, 1)(y, idx, output_size=(9, 8))
    tu = tnn.MaxUnpool2d(3, 2, 1)(ty, tidx, output_size=(9, 8))
    np.testing.assert_array_equal(u.data, tu.numpy())


def test_float32_conv_forward_and_backward_match_pytorch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    conv = nn.Conv2d(6, 16, 5)
    ref = tnn.Conv2d(6, 16, 5)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(conv.weight.numpy()))
        ref.bias.copy_(torch.tensor(conv.bias.numpy()))
    xa = dg.Tensor(x, requires_grad=True)
    xb = torch.tensor(x, requires_grad=True)
    ya, yb = conv(xa), ref(xb)
    np.testing.assert_allclose(ya.data, yb.detach().numpy(), rtol=1e-4, atol=1e-5)
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_allclose(xa.grad.data, xb.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-4, atol=1e-3)
