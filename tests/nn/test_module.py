"""Module system: registration, tree walks, modes, state_dict, hooks, repr, errors with paths."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.BatchNorm1d(6))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def _gen(seed=0):
    return np.random.default_rng(seed)


def test_parameter_is_a_tensor_requiring_grad_with_its_own_repr():
    p = nn.Parameter(dg.zeros(2))
    assert isinstance(p, dg.Tensor) and p.requires_grad
    assert repr(p).startswith("Parameter containing:\n")
    assert not nn.Parameter(np.zeros(2, np.float32), requires_grad=False).requires_grad


def test_named_parameters_are_dotted_and_ordered():
    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "features.0.weight",
        "features.0.bias",
        "features.2.weight",
        "features.2.bias",
        "classifier.1.weight",
        "classifier.1.bias",
        "classifier.3.weight",
        "classifier.3.bias",
    ]


def test_shared_parameters_and_modules_are_listed_once():
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.Tanh(), lin)
    assert len(list(net.parameters())) == 2
    assert net.num_parameters() == 12
    assert len(list(net.modules())) == 3  # net, lin, tanh
    tied = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))
    tied[1].weight = tied[0].weight
    assert [n for n, _ in tied.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_buffers_children_modules_and_get_submodule():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == [
        "features.2.running_mean",
        "features.2.running_var",
        "features.2.num_batches_tracked",
    ]
    assert [n for n, _ in net.named_children()] == ["features", "classifier"]
    assert [n for n, _ in net.named_modules()][:3] == ["", "features", "features.0"]
    assert net.get_submodule("classifier.3") is net.classifier[3]
    with pytest.raises(AttributeError, match="nothing"):
        net.get_submodule("classifier.nothing")


def test_register_buffer_persistence_and_reassignment():
    m = nn.Module()
    m.register_buffer("a", np.ones(2))
    m.register_buffer("b", np.zeros(1), persistent=False)
    assert set(m.state_dict()) == {"a"}
    m.a = dg.zeros(3)
    assert m._buffers["a"].shape == (3,)
    with pytest.raises(TypeError, match="Parameter or None"):
        lin = nn.Linear(2, 2)
        lin.weight = dg.zeros(2, 2)


def test_assignment_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(dg.zeros(1))

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Bad()


def test_train_eval_requires_grad_zero_grad_apply():
    net = Net()
    assert net.training and net.classifier[0].training
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.num_parameters(trainable_only=True) == 0
    net.requires_grad_(True)
    net(dg.randn(4, 8, generator=_gen())).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Net" and seen[0] == "Linear"


def test_state_dict_round_trip_restores_identical_outputs():
    x = dg.randn(6, 8, generator=_gen(1))
    a, b = Net(), Net()
    a.train()
    a(x)  # updates running statistics
    a.eval()
    b.eval()
    sd = a.state_dict()
    assert (
        list(sd)
        == [n for n, _ in a.named_parameters()][:4]
        + [
            "features.2.running_mean",
            "features.2.running_var",
            "features.2.num_batches_tracked",
        ]
        + [n for n, _ in a.named_parameters()][4:]
    )
    sd["features.0.weight"][...] = 0  # a copy: editing it leaves the model alone
    assert np.any(a.features[0].weight.numpy() != 0)
    missing, unexpected = b.load_state_dict(a.state_dict())
    assert missing == [] and unexpected == []
    np.testing.assert_array_equal(a(x).data, b(x).data)
    assert int(b.features[2].num_batches_tracked.data) == 1


def test_failed_load_names_every_problem_and_changes_nothing():
    a = Net()
    sd = a.state_dict()
    sd["classifier.3.weight"] = np.zeros((4, 5), np.float32)  # wrong shape
    sd["extra.weight"] = np.zeros(1)
    del sd["features.0.bias"]
    b = Net()
    before = {k: v.copy() for k, v in b.state_dict().items()}
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(sd)
    msg = str(err.value)
    assert "classifier.3.weight" in msg and "(4, 5)" in msg and "(3, 5)" in msg
    assert "missing keys: features.0.bias" in msg
    assert "unexpected keys: extra.weight" in msg
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_non_strict_load_reports_keys_but_still_rejects_shapes():
    b = Net()
    sd = Net().state_dict()
    del sd["features.0.bias"]
    sd["junk"] = np.zeros(2)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["features.0.bias"] and res.unexpected_keys == ["junk"]
    np.testing.assert_array_equal(b.features[0].weight.data, sd["features.0.weight"])
    sd["features.0.weight"] = np.zeros((1, 1))
    with pytest.raises(RuntimeError, match="features.0.weight"):
        b.load_state_dict(sd, strict=False)


def test_forward_hooks_fire_replace_and_remove():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, inp: calls.append(("pre", inp[0].shape)))
    h2 = lin.register_forward_hook(lambda m, inp, out: calls.append(("post", out.shape)))
    lin(dg.zeros(3, 2))
    assert calls == [("pre", (3, 2)), ("post", (3, 2))]
    h1.remove()
    h2.remove()
    lin(dg.zeros(3, 2))
    assert len(calls) == 2
    with lin.register_forward_hook(lambda m, inp, out: out * 0 + 7):
        assert np.all(lin(dg.zeros(1, 2)).numpy() == 7)
    assert not lin._forward_hooks
    h = lin.register_forward_pre_hook(lambda m, inp: (inp[0] + 1,))
    np.testing.assert_allclose(lin(dg.zeros(1, 2)).data, lin.forward(dg.ones(1, 2)).data)
    h.remove()


def test_repr_is_an_indented_tree_with_parameter_counts():
    text = repr(Net())
    assert text.startswith("Net(  # 119 params")
    assert "  (features): Sequential(  # 66 params" in text
    assert "    (0): Linear(in_features=8, out_features=6, bias=True)  # 54 params" in text
    assert "    (0): Dropout(p=0.5)\n" in text


def test_wrong_input_shape_names_the_module_path():
    net = Net()
    with pytest.raises(ValueError) as err:
        net(dg.zeros(128, 512))
    assert str(err.value) == "features.0 (Linear 8 -> 6) expects input (*, 8), got (128, 512)"
    model = nn.Sequential(nn.Linear(4, 512), nn.ReLU(), nn.Linear(256, 10))
    with pytest.raises(
        ValueError,
        match=r"^2 \(Linear 256 -> 10\) expects input \(\*, 256\), "
        r"got \(128, 512\)$",
    ):
        model(dg.zeros(128, 4))
    with pytest.raises(ValueError, match=r"^Linear 3 -> 1 expects"):
        nn.Linear(3, 1)(dg.zeros(2))


def test_norm_layer_shape_errors_name_path_and_layout():
    net = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(5))
    with pytest.raises(
        ValueError,
        match=r"1 \(BatchNorm1d 5\) expects input \(N, 5\) or "
        r"\(N, 5, L\), got \(2, 3\)",
    ):
        net(dg.zeros(2, 4))
    with pytest.raises(ValueError, match=r"LayerNorm \(4,\) expects input \(\*, 4\)"):
        nn.LayerNorm(4)(dg.zeros(2, 3))


def test_dtype_casts_parameters_buffers_and_grads():
    net = Net()
    net(dg.randn(4, 8, generator=_gen())).sum().backward()
    net.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.features[2].running_mean.dtype == np.float64
    assert net.features[2].num_batches_tracked.dtype == np.int64
    assert net(dg.randn(4, 8, generator=_gen(), dtype="float64")).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError):
        net.to("int64")


def test_deepcopy_gives_an_independent_model():
    a = Net()
    b = copy.deepcopy(a)
    b.features[0].weight.data[...] = 0
    assert np.any(a.features[0].weight.numpy() != 0)
    assert b.features[0].path == "features.0"


def test_sequential_indexing_slicing_and_mutation():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    assert head(dg.zeros(4, 2)).shape == (4, 3)
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear", "Sigmoid"]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[7]
    from collections import OrderedDict

    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.Tanh())]))
    assert named.fc is named[0]


def test_module_list_and_dict_register_their_members():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.Linear(2, 1))
    assert len(ml) == 4 and len(list(ml.parameters())) == 8
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 3
    md = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.ReLU()})
    md["c"] = nn.Linear(2, 3)
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias", "c.weight", "c.bias"]
    md.pop("a")
    assert len(md) == 2


def test_functional_call_swaps_and_restores():
    lin = nn.Linear(2, 1)
    w = dg.ones(1, 2)
    from deepgrad.nn.utils import functional_call

    out = functional_call(lin, {"weight": w, "bias": dg.zeros(1)}, dg.ones(3, 2))
    np.testing.assert_allclose(out.data, 2.0)
    assert lin.weight is lin._parameters["weight"] and isinstance(lin.weight, nn.Parameter)
    with pytest.raises(KeyError, match="nope"):
        functional_call(lin, {"nope": w}, dg.ones(3, 2))
