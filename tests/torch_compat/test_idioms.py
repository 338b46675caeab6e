"""Regression tests for the PyTorch idioms that used to run and give wrong results silently,
and for the Tensor basics, devices, dtypes and in-place rules of issue 13 (part A)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


def test_manual_sgd_under_no_grad_updates_the_model():
    model = nn.Linear(3, 1)
    before = model.weight.numpy().copy()
    x, y = dg.randn(8, 3), dg.randn(8, 1)
    ((model(x) - y) ** 2).mean().backward()
    grad = model.weight.grad.numpy().copy()
    with dg.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    np.testing.assert_allclose(model.weight.numpy(), before - 0.1 * grad, rtol=1e-6)
    assert model.weight.is_leaf and model.weight.requires_grad  # still the same parameter


def test_torch_max_with_dim_returns_values_and_indices():
    out = dg.tensor([[0.1, 0.7, 0.2], [0.9, 0.05, 0.05]])
    _, pred = dg.max(out, 1)
    assert pred.tolist() == [1, 0]
    values, indices = out.max(1)
    assert values.tolist() == pytest.approx([0.7, 0.9]) and indices.dtype == np.int64
    assert out.max(dim=1, keepdim=True).values.shape == (2, 1)
    assert out.max().shape == () and out.max().item() == pytest.approx(0.9)
    assert out.min(0).indices.tolist() == [0, 1, 1]
    assert dg.max(out, dg.zeros(2, 3)).shape == (2, 3)  # a tensor: elementwise maximum


def test_numpy_and_from_numpy_share_memory_both_ways():
    a = np.zeros(3, np.float32)
    t = dg.from_numpy(a)
    a[0] = 5
    t[1] = 7.0
    assert t.tolist() == [5, 7, 0] and a.tolist() == [5, 7, 0]
    n = t.numpy()
    t.add_(1)
    assert n.tolist() == [6, 8, 1]
    copied = dg.tensor(a)
    a[2] = 9
    assert copied.tolist()[2] == 1  # dg.tensor copies, as torch.tensor does


def test_relu_inplace_changes_its_input():
    x = dg.tensor([-1.0, 2.0])
    y = nn.functional.relu(x, inplace=True)
    assert y is x and x.tolist() == [0, 2]
    z = dg.tensor([-3.0, 1.0])
    nn.ReLU(inplace=True)(z)
    assert z.tolist() == [0, 1]
    w = dg.tensor([-1.0, 3.0])
    nn.functional.leaky_relu(w, 0.5, inplace=True)
    assert w.tolist() == [-0.5, 3]


def test_inplace_relu_inside_a_graph_keeps_gradients_right():
    w = dg.tensor([-1.0, 2.0], requires_grad=True)
    h = w * 3
    nn.functional.relu(h, inplace=True)
    h.sum().backward()
    assert w.grad.tolist() == [0, 3]


def test_size_is_a_method_and_numel_counts():
    x = dg.zeros(4, 5)
    assert x.size(0) == 4 and x.size(-1) == 5 and x.size() == (4, 5) and x.numel() == 20
    assert x.dim() == 2 and dg.numel(x) == 20
    with pytest.raises(IndexError, match=r"Tensor.size: dim 2 is out of range"):
        x.size(2)


def test_repr_format_item_tolist_like_pytorch():
    assert repr(dg.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(dg.tensor([1, 2])) == "tensor([1, 2])"
    assert "dtype=float64" in repr(dg.tensor([1.0], dtype=dg.double))
    loss = dg.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{loss.item():.2f}" == "0.12"
    assert dg.tensor([[1, 2]]).tolist() == [[1, 2]]


def test_grad_fn_and_next_functions():
    x = dg.ones(2, requires_grad=True)
    y = (x * 2).sum()
    assert y.grad_fn.name() == "SumBackward0" and x.grad_fn is None and not y.is_leaf
    ((mul, _),) = y.grad_fn.next_functions
    assert mul.name() == "MulBackward0"
    acc = [n for n, _ in mul.next_functions if n is not None]
    assert acc[0].name() == "AccumulateGrad" and acc[0].variable is x


def test_hash_is_identity_and_eq_is_elementwise():
    a, b = dg.ones(2), dg.ones(2)
    assert len({a, b}) == 2 and {a: 1}[a] == 1
    assert (a == b).tolist() == [True, True]


def test_logical_operators_on_bool_tensors():
    a, b = dg.tensor([True, False, True]), dg.tensor([True, True, False])
    assert (a & b).tolist() == [True, False, False]
    assert (a | b).tolist() == [True, True, True]
    assert (a ^ b).tolist() == [False, True, True]
    assert (~a).tolist() == [False, True, False]
    with pytest.raises(TypeError, match=r"__and__: needs bool or integer tensors"):
        dg.ones(2) & dg.ones(2)


def test_devices_and_dtypes():
    x = dg.ones(2, 3, device="cpu")
    assert x.device == dg.device("cpu") and str(x.device) == "cpu" and not x.is_cuda
    assert x.to("cpu") is x and x.cpu() is x and not dg.cuda.is_available()
    assert x.to(dg.double).dtype == np.float64 and x.to("cpu", dg.long).dtype == np.int64
    assert x.to(dtype=dg.half).dtype == np.float16 and x.long().dtype == np.int64
    assert x.bool().dtype == np.bool_ and x.double().float().dtype == np.float32
    assert x.type() == "deepgrad.FloatTensor" and x.type(dg.int).dtype == np.int32
    for bad in (
        lambda: dg.zeros(2, device="cuda"),
        lambda: x.to("cuda:0"),
        lambda: dg.device("mps"),
    ):
        with pytest.raises(RuntimeError, match=r"runs on the CPU only"):
            bad()


def test_inplace_methods_and_version_counter():
    x = dg.zeros(3)
    x.add_(1).mul_(3).sub_(dg.ones(3), alpha=2).div_(2).clamp_(max=0.4)
    assert x.tolist() == pytest.approx([0.4] * 3)
    assert x.fill_(2).tolist() == [2, 2, 2] and x.zero_().tolist() == [0, 0, 0]
    x.copy_(dg.tensor([1.0, 2.0, 3.0]))
    assert x.tolist() == [1, 2, 3] and x._version == 8
    g = dg.Generator().manual_seed(0)
    assert dg.zeros(1000).normal_(2.0, 0.5, generator=g).mean().item() == pytest.approx(2, abs=0.1)
    assert 0 <= dg.zeros(50).uniform_(0, 1).min().item()


def test_inplace_rules_on_leaves_and_saved_tensors():
    w = dg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"add_: a leaf tensor that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match=r"__setitem__: a leaf tensor that requires grad"):
        w[0] = 3.0
    h = w * 2
    out = (h * h).sum()
    h.add_(1)  # h was saved by the multiplication
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation"):
        out.backward()
    ints = dg.zeros(2, dtype=dg.long)
    with pytest.raises(RuntimeError, match=r"can't be cast"):
        ints += 0.5


def test_setitem_is_recorded_on_the_tape():
    w = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf = dg.zeros(2, 3)
    buf[0] = w * 2
    buf[1, w.data > 1.5] = w[1:] * 10  # boolean mask inside a basic index
    buf[:, 0] += 1
    assert buf.tolist() == [[3, 4, 6], [1, 20, 30]]
    buf.sum().backward()
    assert w.grad.tolist() == [2, 12, 12]


def test_iadd_on_a_non_leaf_records_and_keeps_the_identity():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 1
    h_id = id(h)
    h += w * w
    assert id(h) == h_id
    h.sum().backward()
    assert w.grad.tolist() == [3, 5]


def test_parameter_shares_its_tensor_and_data_is_a_detached_tensor():
    t = dg.zeros(3)
    p = nn.Parameter(t)
    t[0] = 1.0
    assert p.tolist()[0] == 1 and p.requires_grad and repr(p).startswith("Parameter containing:")
    p.data -= 1  # a Tensor sharing p's memory, updated in place (as PyTorch)
    assert t.tolist() == [0, -1, -1]
    d = p.data
    assert isinstance(d, dg.Tensor) and not d.requires_grad and d.grad_fn is None
    assert d.numpy() is p.numpy()


def test_data_idioms_change_the_tensor_in_place_without_bumping_its_version():
    w = nn.Parameter(dg.zeros(2, 3))
    version = w._version
    w.data.normal_(0, 0.02, generator=np.random.default_rng(0))
    assert np.abs(w.numpy()).max() > 0
    w.data.mul_(0.0)
    w.data.copy_(dg.ones(2, 3))
    w.grad = dg.ones(2, 3)
    w.data -= 0.5 * w.grad  # the tutorials' manual SGD, outside no_grad
    assert w.tolist() == [[0.5] * 3] * 2 and w.data.numpy() is w.numpy()
    assert w._version == version  # PyTorch's documented unsafe door: not tracked
    y = (w * w).sum()  # saves w; modifying w through .data goes unnoticed, as in PyTorch
    w.data.fill_(1.0)
    w.grad = None
    y.backward()
    assert w.grad.tolist() == [[2.0] * 3] * 2  # 2 w with the new w


def test_assigning_data_rebinds_the_storage_shape_and_dtype():
    x = dg.zeros(2, requires_grad=True)
    x.data = dg.arange(6, dtype=dg.float64).reshape(2, 3)
    assert x.shape == (2, 3) and x.dtype == dg.float64 and x.requires_grad
    x.data = np.ones(4, dtype=np.float32)  # an ndarray is accepted too
    assert x.tolist() == [1.0] * 4
    with pytest.raises(TypeError, match=r"Tensor.data: assigned a list; expected a Tensor"):
        x.data = [1.0]
    with pytest.raises(ValueError, match=r"item: tensor of shape \(4,\) has 4 elements, not 1"):
        x.item()  # messages read the array, not the property (whose size is a method)


def test_var_std_unbiased_and_correction():
    x = dg.tensor([1.0, 2.0, 3.0, 6.0], dtype=dg.double)
    assert x.var().item() == pytest.approx(np.var(x.numpy(), ddof=1))
    assert x.var(unbiased=False).item() == pytest.approx(np.var(x.numpy()))
    assert dg.std(x, correction=0).item() == pytest.approx(np.std(x.numpy()))
    assert x.reshape(2, 2).var(1, keepdim=True).shape == (2, 1)


def test_randomness_fresh_per_process_and_reproducible_with_manual_seed():
    code = "import deepgrad as dg; print(dg.rand(3).tolist())"
    env_runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert env_runs[0].stdout != env_runs[1].stdout
    dg.manual_seed(3)
    a = dg.randn(4).tolist(), dg.randint(10, (3,)).tolist(), dg.randperm(5).tolist()
    dg.manual_seed(3)
    b = dg.randn(4).tolist(), dg.randint(10, (3,)).tolist(), dg.randperm(5).tolist()
    assert a == b
    assert dg.initial_seed() == 3


def test_inference_mode_records_nothing():
    w = dg.ones(2, requires_grad=True)
    with dg.inference_mode():
        assert not (w * 2).requires_grad

    @dg.inference_mode()
    def f(v):
        return v * 3

    assert not f(w).requires_grad


def test_new_factories_and_like_draws():
    x = dg.ones(2, dtype=dg.double)
    assert x.new_zeros(3).dtype == np.float64 and x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 7).tolist() == [7, 7] and x.new_tensor([1, 2]).dtype == np.float64
    assert dg.rand_like(x).shape == (2,) and dg.randn_like(x).dtype == np.float64
    assert dg.randint_like(x, 5).dtype == np.float64 and dg.empty_like(x).shape == (2,)
    assert dg.is_tensor(x) and not dg.is_tensor(np.ones(2))
    assert sorted(dg.multinomial(dg.tensor([0.0, 1.0, 1.0]), 2).tolist()) == [1, 2]
    assert set(dg.bernoulli(dg.full((20,), 0.5)).tolist()) <= {0.0, 1.0}


def test_expand_with_minus_one_and_views():
    x = dg.tensor([[1.0], [2.0]], requires_grad=True)
    y = x.expand(-1, 3)
    assert y.shape == (2, 3) and x.expand_as(dg.zeros(2, 4)).shape == (2, 4)
    y.sum().backward()
    assert x.grad.tolist() == [[3], [3]]
    assert dg.zeros(2, 3).view_as(dg.zeros(3, 2)).shape == (3, 2)
    assert dg.zeros(2, 3, 4).mT.shape == (2, 4, 3) and dg.zeros(2, 3).t().shape == (3, 2)
    with pytest.raises(RuntimeError, match=r"expand: the number of sizes"):
        x.expand(3)


def test_inplace_on_a_view_of_a_graph_tensor_keeps_gradients_right():
    w = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = w * 2
    v = b[0:2]
    v.mul_(w[0:2])
    (b.sum() + v.sum()).backward()
    assert w.grad.tolist() == [6, 10, 2]  # d/dw of sum(2w) + sum(2 w^2 over the first two)
    x = dg.zeros(3)
    x[1:].add_(1)  # outside any graph a view writes through, as in PyTorch
    assert x.tolist() == [0, 1, 1]


def test_out_argument_writes_into_given_tensors():
    x = dg.tensor([[3.0, 1.0, 2.0]])
    values, indices = dg.zeros(1, 3), dg.zeros(1, 3, dtype=dg.long)
    res = dg.sort(x, 1, out=(values, indices))
    assert res.values is values and values.tolist() == [[1, 2, 3]]
    assert indices.tolist() == [[1, 2, 0]]
    c = dg.zeros(5)  # a mis-shaped out is resized, as PyTorch does
    assert dg.mm(dg.ones(2, 3), dg.ones(3, 2), out=c) is c and c.shape == (2, 2)
    assert c.tolist() == [[3, 3], [3, 3]]
    with pytest.raises(RuntimeError, match=r"mm: functions with out=\.\.\. arguments"):
        dg.mm(dg.ones(2, 2, requires_grad=True), dg.ones(2, 2), out=dg.zeros(2, 2))


def test_inplace_op_with_itself_as_argument():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3
    h.add_(h)  # h = 2 * (3 w)
    h.mul_(h.sum())  # h = 6w * sum(6w): a node of h's own past
    h.sum().backward()
    # d/dw_i of (sum 6w)^2 = 2 * 6 * sum(6w) = 12 * 18
    assert w.grad.tolist() == [216, 216]


def test_shape_changing_inplace_ops():
    x = dg.zeros(2, 3)
    view = x.numpy()
    assert x.unsqueeze_(0).shape == (1, 2, 3) and x.squeeze_(0).shape == (2, 3)
    assert x.t_().shape == (3, 2) and x.transpose_(0, 1).shape == (2, 3)
    x[0, 0] = 4.0
    assert view[0, 0] == 4  # still the same memory
    w = dg.ones(2, 3, requires_grad=True)
    h = w * 2
    h.unsqueeze_(1)
    assert h.shape == (2, 1, 3)
    (h * dg.arange(3.0)).sum().backward()
    assert w.grad.tolist() == [[0, 2, 4], [0, 2, 4]]
