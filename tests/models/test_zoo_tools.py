"""summary (receptive fields), transfer-learning helpers and attribution maps."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.models as M
from deepgrad import nn
from deepgrad.models import interpret as I
from deepgrad.models import transfer as T
from deepgrad.nn.summary import receptive_field_step, summary


def test_summary_receptive_fields_of_a_known_stack():
    """Three 3x3 convs = one 7x7 field (Simonyan & Zisserman 2015); a 2x2/2 pool doubles the jump."""
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                          nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 8, 3, dilation=2))  # fmt: skip
    s = summary(model, (1, 16, 16))
    rf = [r.receptive_field[0] for r in s.rows]
    jumps = [r.jump[0] for r in s.rows]
    # r_k = r_{k-1} + (f_k - 1) prod(s_1..s_{k-1}): 3, 3, 5, 6, 6 + 2*2 = 10, 10 + 4*2 = 18
    assert rf == [3, 3, 5, 6, 10, 18]
    assert jumps == [1, 1, 1, 2, 2, 2]
    assert s.rows[0].start == (0.5, 0.5) and s.rows[3].start == (1.0, 1.0)
    assert [r.output_shape for r in s.rows][-1] == (1, 8, 4, 4)
    assert s.rows[0].params == 40 and s.total_params == model.num_parameters()
    text = str(s)
    assert "RF" in text and "Conv2d" in text and f"{s.total_params:,}" in text


def test_summary_lenet_and_resnet_final_field():
    s = summary(M.lenet5(), (1, 28, 28))
    convs = [r for r in s.rows if r.type == "Conv2d"]
    assert [c.receptive_field[0] for c in convs] == [5, 14]
    assert s.total_params == 61_706
    r = summary(M.resnet18(10), (3, 64, 64))
    assert r.rows[-1].output_shape == (1, 10)
    assert max(row.receptive_field[0] for row in r.rows if row.type == "Conv2d") >= 400


def test_receptive_field_step_formula():
    assert receptive_field_step((1,), (1,), (0.5,), (7,), (2,), (3,), (1,)) == ((7,), (2,), (0.5,))


def test_freeze_unfreeze_and_param_groups():
    model = M.resnet20(10)
    frozen = T.freeze(model, "*")
    assert len(frozen) == len(list(model.parameters()))
    T.unfreeze(model, "fc")
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}
    T.unfreeze(model, ["layer3.*"])
    groups = T.param_groups(model, backbone_lr=1e-3, head_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    assert len(groups[1]["params"]) == 2
    assert all(p.requires_grad for g in groups for p in g["params"])
    with pytest.raises(ValueError, match="no parameter name matches"):
        T.freeze(model, "nope*")


def test_replace_head_keeps_order_and_loads_backbone():
    src = M.lenet5(10)
    model = M.lenet5(10)
    new = T.replace_head(model, 3, generator=np.random.default_rng(0))
    assert model.classifier[4] is new and new.out_features == 3
    assert model(dg.zeros(2, 1, 28, 28)).shape == (2, 3)
    fresh = new.weight.numpy().copy()
    report = T.load_backbone(model, src.state_dict())
    assert "classifier.4.weight" in report["skipped"] and "features.0.weight" in report["loaded"]
    np.testing.assert_array_equal(model.features[0].weight.data, src.features[0].weight.data)
    np.testing.assert_array_equal(new.weight.data, fresh)


def _tiny_classifier():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 3))  # fmt: skip
    return model.double().eval()


def test_integrated_gradients_satisfy_completeness():
    model = _tiny_classifier()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    attr, delta = I.integrated_gradients(model, x, target=[0, 2], steps=64, return_delta=True)
    assert attr.shape == x.shape
    out = (
        model(dg.Tensor(x)).data[[0, 1], [0, 2]]
        - model(dg.zeros(2, 1, 8, 8).double()).data[[0, 1], [0, 2]]
    )
    np.testing.assert_allclose(attr.reshape(2, -1).sum(axis=1), out, rtol=1e-2, atol=1e-3)
    assert np.all(np.abs(delta) < 1e-2 * (1 + np.abs(out)))


def test_saliency_gradient_x_input_smoothgrad_and_occlusion():
    model = _tiny_classifier()
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8))
    sal = I.saliency(model, x)
    assert sal.shape == (2, 8, 8) and np.all(sal >= 0) and sal.max() > 0
    raw = I.saliency(model, x, target=1, reduce=None)
    np.testing.assert_allclose(I.gradient_x_input(model, x, target=1), raw * x)
    # the score is linear in x for a linear model, so gradient x input sums to f(x) - f(0)
    lin = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).double()
    gxi = I.gradient_x_input(lin, x, target=2).reshape(2, -1).sum(axis=1)
    f = lin(dg.Tensor(x)).data[:, 2] - lin.get_submodule("1").bias.data[2]
    np.testing.assert_allclose(gxi, f, rtol=1e-10)
    sg = I.smoothgrad(model, x, n_samples=4, generator=np.random.default_rng(0))
    assert sg.shape == x.shape and np.all(np.isfinite(sg))
    occ = I.occlusion(lin, x, target=0, window=2, stride=2)
    w = lin.get_submodule("1").weight.numpy()[0].reshape(8, 8)
    np.testing.assert_allclose(
        occ[0], (w * x[0, 0]).reshape(4, 2, 4, 2).sum(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    )
