"""Optional: the issue-13 layers and functions against PyTorch (float64 values and input grads).

PyTorch is not a dependency; this file is skipped when it is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
tnn = torch.nn
TF = torch.nn.functional
RNG = np.random.default_rng(5)

# (id, deepgrad callable, torch callable, input shapes)
CASES = [
    ("CELU", nn.CELU(0.7), tnn.CELU(0.7), [(3, 4)]),
    ("GLU", nn.GLU(1), tnn.GLU(1), [(2, 4, 3)]),
    ("Hardsigmoid", nn.Hardsigmoid(), tnn.Hardsigmoid(), [(3, 4)]),
    ("Hardswish", nn.Hardswish(), tnn.Hardswish(), [(3, 4)]),
    ("Mish", nn.Mish(), tnn.Mish(), [(3, 4)]),
    ("Softsign", nn.Softsign(), tnn.Softsign(), [(3, 4)]),
    ("Softshrink", nn.Softshrink(0.3), tnn.Softshrink(0.3), [(3, 4)]),
    ("Hardshrink", nn.Hardshrink(0.3), tnn.Hardshrink(0.3), [(3, 4)]),
    ("Tanhshrink", nn.Tanhshrink(), tnn.Tanhshrink(), [(3, 4)]),
    ("Threshold", nn.Threshold(0.2, -1.5), tnn.Threshold(0.2, -1.5), [(3, 4)]),
    ("Softmin", nn.Softmin(1), tnn.Softmin(1), [(3, 4)]),
    ("RReLU-eval", nn.RReLU(0.1, 0.3).eval(), tnn.RReLU(0.1, 0.3).eval(), [(3, 4)]),
    ("CosineSimilarity", nn.CosineSimilarity(1), tnn.CosineSimilarity(1), [(3, 4), (3, 4)]),
    ("CosineSimilarity-bcast", nn.CosineSimilarity(-1), tnn.CosineSimilarity(-1), [(3, 4), (1, 4)]),
    ("PairwiseDistance", nn.PairwiseDistance(), tnn.PairwiseDistance(), [(3, 4), (3, 4)]),
    (
        "PairwiseDistance-p1",
        nn.PairwiseDistance(1.0, keepdim=True),
        tnn.PairwiseDistance(1.0, keepdim=True),
        [(3, 4), (3, 4)],
    ),
    (
        "normalize",
        lambda x: F.normalize(x, p=3.0, dim=0),
        lambda x: TF.normalize(x, p=3.0, dim=0),
        [(3, 4)],
    ),
]


@pytest.mark.parametrize(("ours", "theirs", "shapes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_matches_torch(ours, theirs, shapes):
    arrays = [RNG.uniform(-2, 2, size=s) for s in shapes]
    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, ref = ours(*xs), theirs(*ts)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=out.shape)
    (out * dg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        # rtol 1e-6: some of torch's CPU backward kernels (celu, hardsigmoid) round a constant
        # through float32, a 3e-8 relative difference.
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-6, atol=1e-10)


def _signs(shape):
    return RNG.choice(np.array([-1.0, 1.0]), size=shape)


_ML = np.array([[3, 0, -1, 1], [1, -1, -1, -1], [0, 1, 2, 3]])
# (id, deepgrad loss, torch loss, differentiable input shapes, non-differentiable target)
LOSSES = [
    (
        "MarginRanking",
        nn.MarginRankingLoss(margin=0.2),
        tnn.MarginRankingLoss(margin=0.2),
        [(5,), (5,)],
        _signs((5,)),
    ),
    (
        "SoftMargin",
        nn.SoftMarginLoss(reduction="sum"),
        tnn.SoftMarginLoss(reduction="sum"),
        [(3, 4)],
        _signs((3, 4)),
    ),
    ("MultiLabelMargin", nn.MultiLabelMarginLoss(), tnn.MultiLabelMarginLoss(), [(3, 4)], _ML),
    (
        "MultiLabelMargin-none",
        nn.MultiLabelMarginLoss(reduction="none"),
        tnn.MultiLabelMarginLoss(reduction="none"),
        [(3, 4)],
        _ML,
    ),
    (
        "MultiLabelSoftMargin",
        nn.MultiLabelSoftMarginLoss(weight=np.array([1.0, 2.0, 0.5, 1.0])),
        tnn.MultiLabelSoftMarginLoss(
            weight=torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64)
        ),
        [(3, 4)],
        RNG.integers(0, 2, (3, 4)) * 1.0,
    ),
    (
        "PoissonNLL",
        nn.PoissonNLLLoss(),
        tnn.PoissonNLLLoss(),
        [(3, 4)],
        RNG.poisson(2.0, (3, 4)) * 1.0,
    ),
    (
        "PoissonNLL-full",
        nn.PoissonNLLLoss(log_input=False, full=True),
        tnn.PoissonNLLLoss(log_input=False, full=True),
        [(3, 4)],
        RNG.poisson(2.0, (3, 4)) * 1.0,
    ),
    (
        "TripletMargin",
        nn.TripletMarginLoss(margin=2.0),
        tnn.TripletMarginLoss(margin=2.0),
        [(3, 4)] * 3,
        None,
    ),
    (
        "TripletMargin-swap-p1",
        nn.TripletMarginLoss(margin=3.0, p=1.0, swap=True),
        tnn.TripletMarginLoss(margin=3.0, p=1.0, swap=True),
        [(3, 4)] * 3,
        None,
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "shapes", "target"), [c[1:] for c in LOSSES], ids=[c[0] for c in LOSSES]
)
def test_losses_match_torch(ours, theirs, shapes, target):
    lows = 0.5 if "PoissonNLL" in type(ours).__name__ and not ours.log_input else -2.0
    arrays = [RNG.uniform(lows, 2, size=s) for s in shapes]
    xs = [dg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    extra = [] if target is None else [target]
    out = ours(*xs, *extra)
    ref = theirs(*ts, *[torch.tensor(t) for t in extra])
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=out.shape)
    (out * dg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def _copy_params(ours, theirs):
    with torch.no_grad():
        for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
            assert name == tname
            tp.copy_(torch.tensor(p.numpy()))


LAYERS = [
    (
        "Bilinear",
        nn.Bilinear(3, 2, 4, dtype="float64"),
        tnn.Bilinear(3, 2, 4, dtype=torch.float64),
        [(5, 3), (5, 2)],
    ),
    ("RMSNorm", nn.RMSNorm(4, dtype="float64"), tnn.RMSNorm(4, dtype=torch.float64), [(3, 4)]),
    (
        "RMSNorm-2d",
        nn.RMSNorm((2, 3), eps=1e-5, dtype="float64"),
        tnn.RMSNorm((2, 3), eps=1e-5, dtype=torch.float64),
        [(4, 2, 3)],
    ),
    (
        "LocalResponseNorm",
        nn.LocalResponseNorm(3, alpha=0.5, k=2.0),
        tnn.LocalResponseNorm(3, alpha=0.5, k=2.0),
        [(2, 5, 3)],
    ),
    ("LocalResponseNorm-4d", nn.LocalResponseNorm(2), tnn.LocalResponseNorm(2), [(1, 4, 2, 2)]),
    ("ChannelShuffle", nn.ChannelShuffle(2), tnn.ChannelShuffle(2), [(1, 4, 2, 3)]),
    ("ZeroPad1d", nn.ZeroPad1d((2, 1)), tnn.ZeroPad1d((2, 1)), [(1, 2, 4)]),
    ("ConstantPad3d", nn.ConstantPad3d(1, 0.5), tnn.ConstantPad3d(1, 0.5), [(1, 1, 2, 2, 2)]),
    (
        "ReflectionPad3d",
        nn.ReflectionPad3d((1, 0, 2, 1, 0, 2)),
        tnn.ReflectionPad3d((1, 0, 2, 1, 0, 2)),
        [(1, 1, 3, 3, 3)],
    ),
    ("ReplicationPad1d", nn.ReplicationPad1d((2, 1)), tnn.ReplicationPad1d((2, 1)), [(1, 2, 4)]),
    ("ReplicationPad3d", nn.ReplicationPad3d(1), tnn.ReplicationPad3d(1), [(1, 1, 2, 2, 2)]),
    ("CircularPad1d", nn.CircularPad1d((2, 1)), tnn.CircularPad1d((2, 1)), [(1, 2, 4)]),
    ("CircularPad3d", nn.CircularPad3d(1), tnn.CircularPad3d(1), [(1, 1, 2, 2, 2)]),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "shapes"), [c[1:] for c in LAYERS], ids=[c[0] for c in LAYERS]
)
def test_layers_match_torch(ours, theirs, shapes):
    _copy_params(ours, theirs)
    test_matches_torch(ours, theirs, shapes)
    for (_, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-8, atol=1e-10)
        p.grad = None


POOLS = [
    ("Unfold", nn.Unfold(2), tnn.Unfold(2), [(1, 2, 3, 3)]),
    (
        "Unfold-strided",
        nn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2),
        tnn.Unfold((2, 3), dilation=(1, 2), padding=1, stride=2),
        [(2, 1, 4, 5)],
    ),
    ("Fold", nn.Fold((3, 3), 2), tnn.Fold((3, 3), 2), [(1, 8, 4)]),
    (
        "Fold-strided",
        nn.Fold((4, 5), (2, 3), dilation=(1, 2), padding=1, stride=2),
        tnn.Fold((4, 5), (2, 3), dilation=(1, 2), padding=1, stride=2),
        [(2, 6, 6)],
    ),
    ("LPPool1d", nn.LPPool1d(2, 3, 2), tnn.LPPool1d(2, 3, 2), [(2, 2, 7)]),
    (
        "LPPool2d",
        nn.LPPool2d(2, 2),
        tnn.LPPool2d(2, 2),
        [(1, 2, 4, 4)],
    ),  # p = 2: no roots of negatives
    (
        "AdaptiveMaxPool3d",
        nn.AdaptiveMaxPool3d((1, 2, 2)),
        tnn.AdaptiveMaxPool3d((1, 2, 2)),
        [(1, 2, 2, 3, 4)],
    ),
]


@pytest.mark.parametrize(
    ("ours", "theirs", "shapes"), [c[1:] for c in POOLS], ids=[c[0] for c in POOLS]
)
def test_pools_match_torch(ours, theirs, shapes):
    test_matches_torch(ours, theirs, shapes)


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 1]])
    ours = F.one_hot(dg.tensor(labels), 5)
    theirs = TF.one_hot(torch.tensor(labels), 5).numpy()
    assert ours.data.dtype == theirs.dtype
    np.testing.assert_array_equal(ours.data, theirs)
