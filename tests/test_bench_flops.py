"""bench/flops.py: the analytic FLOP counts behind the suite's GFLOP/s (no timing here).

Expected values are worked out by hand in each test, taken from the literature
(ResNet-18's 1.81 G multiply-adds at 224x224, He et al. 2016 / torchvision), or
counted independently by PyTorch's FlopCounterMode when torch is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import flops


def test_a_product_costs_two_m_k_n_and_its_backward_two_more_or_one_without_input_grad():
    p = flops.Product("p", 2, 3, 4)
    assert p.forward == 48
    assert p.training == 144
    assert flops.Product("p", 2, 3, 4, count=5, input_grad=False).training == 5 * 96


def test_conv_out_matches_the_usual_formula_cases():
    assert flops.conv_out(64, 7, 2, 3) == 32
    assert flops.conv_out(32, 3, 2, 1) == 16
    assert flops.conv_out(28, 5) == 24
    assert flops.conv_out(7, 3, 2, 1) == 4


def test_mlp_counts_each_layer_and_skips_the_datas_gradient():
    # 784x512 (no input grad: 2x), 512x256 and 256x10 (3x), batch 1
    want = 2 * 2 * 784 * 512 + 3 * 2 * 512 * 256 + 3 * 2 * 256 * 10
    assert flops.total(flops.mlp(1)) == want == 2_407_424
    assert flops.total(flops.mlp(128)) == 128 * want


def test_lenet5_by_hand():
    conv1 = 2 * 28 * 28 * (1 * 25) * 6
    conv2 = 2 * 10 * 10 * (6 * 25) * 16
    fc = 2 * (400 * 120 + 120 * 84 + 84 * 10)
    assert flops.total(flops.lenet5(1), training=False) == conv1 + conv2 + fc == 833_040
    assert flops.total(flops.lenet5(3)) == 3 * (2 * conv1 + 3 * (conv2 + fc))


def test_resnet18_at_224_is_the_published_1_81_g_multiply_adds():
    macs = flops.total(flops.resnet18(1, 224, 224, classes=1000), training=False) / 2
    assert macs / 1e9 == pytest.approx(1.81, abs=0.01)
    assert len(flops.resnet18(1, 224, 224)) == 1 + 16 + 3 + 1  # stem, 16 convs, 3 shortcuts, fc


def test_recurrent_and_transformer_by_hand():
    t, b, i, h = 5, 2, 3, 4
    per_step = 2 * b * (i + h) * 4 * h
    lstm = flops.lstm(t, b, i, h)
    assert flops.total(lstm, training=False) == t * per_step + 2 * b * h
    assert (
        flops.total(flops.gru(t, b, i, h), training=False)
        == t * 2 * b * (i + h) * 3 * h + 2 * b * h
    )
    layer = flops.transformer_encoder_layer(batch=2, length=8, d_model=16, heads=4, d_ff=32)
    tokens = 16
    dense = 2 * tokens * 16 * (3 * 16 + 16 + 32) + 2 * tokens * 32 * 16
    attention = 2 * (2 * 2 * 8 * 8 * 16)  # scores and weights @ V over all heads
    assert flops.total(layer, training=False) == dense + attention + 2 * 2 * 16


def _torch_count(torch, fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def test_counts_equal_pytorchs_flop_counter():
    torch = pytest.importorskip("torch", reason="PyTorch's FlopCounterMode is the reference")
    from cnn import _torch_resnet18, lenet_torch
    from sequence import recurrent_step, transformer_step

    torch.manual_seed(0)
    net = _torch_resnet18(torch, torch.nn).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert _torch_count(torch, lambda: net(x)) == flops.total(flops.resnet18(1, 32, 32), False)
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    step = lenet_torch(torch, xb, np.array([1, 2]))
    assert _torch_count(torch, step) == flops.total(flops.lenet5(2))
    xs, ys = torch.randn(3, 2, 64), torch.randn(2, 1)  # bench/sequence.py's 64 -> 256 GRU
    step = recurrent_step(torch, "GRU", xs, ys)
    assert _torch_count(torch, step) == flops.total(flops.gru(3, 2, 64, 256))
    step = transformer_step(torch, torch.randn(1, 8, 256), torch.randn(1, 1))
    want = flops.total(flops.transformer_encoder_layer(1, 8, 256, 4, 1024))
    assert _torch_count(torch, step) == want
