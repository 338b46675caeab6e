"""Regression tests for the classes of bad input issue 12 found: each one now raises a clear
error naming the public function or module (or, for dtypes, follows PyTorch's policy)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.ops.validation import DimError, check_dim, check_ints


def _x(*shape):
    return dg.tensor(np.arange(float(np.prod(shape))).reshape(shape) / 7.0)


# --- int / bool inputs to floating-point functions -------------------------------------


@pytest.mark.parametrize("fn", ["sigmoid", "exp", "log1p", "tanh", "sin", "sqrt"])
def test_int_input_to_float_function_is_promoted(fn):
    x = dg.tensor([1, 2, 3])
    y = getattr(dg, fn)(x)
    assert y.dtype == dg.get_default_dtype()
    ref = getattr(np, fn if fn != "sigmoid" else "exp")(np.array([1.0, 2.0, 3.0]))
    if fn == "sigmoid":
        ref = 1.0 / (1.0 + 1.0 / ref)
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6)


def test_sigmoid_of_int_is_not_truncated_to_zero():
    assert dg.sigmoid(dg.tensor([1, 2])).numpy().min() > 0.7


def test_bool_input_to_tanh_is_promoted():
    y = dg.tanh(dg.tensor([True, False]))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.numpy(), [np.tanh(1.0), 0.0], rtol=1e-6)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: F.cross_entropy(dg.tensor([[1, 2], [3, 1]]), dg.tensor([0, 1])), "cross_entropy"),
        (lambda: F.nll_loss(dg.tensor([[1, 2]]), dg.tensor([0])), "nll_loss"),
        (lambda: F.mse_loss(dg.tensor([1, 2]), dg.tensor([1, 3])), "mse_loss"),
        (lambda: dg.softmax(dg.tensor([1, 2]), dim=0), "softmax"),
        (lambda: dg.log_softmax(dg.tensor([1, 2]), dim=0), "log_softmax"),
        (lambda: F.layer_norm(dg.tensor([[1, 2]]), (2,)), "layer_norm"),
    ],
)
def test_int_input_is_refused_where_pytorch_refuses(call, name):
    with pytest.raises(TypeError, match=rf"{name}: input must be a floating-point tensor.*int64"):
        call()


@pytest.mark.parametrize("fn", [dg.exp, dg.relu, dg.abs, dg.sigmoid, dg.neg])
def test_complex_input_is_refused(fn):
    with pytest.raises(TypeError, match=r"complex tensors are not supported.*complex128"):
        fn(dg.tensor(np.array([1.0 + 1.0j])))


def test_object_array_is_refused():
    with pytest.raises(TypeError, match=r"tensor: object arrays are not supported"):
        dg.tensor(np.array([1, None], dtype=object))


def test_float16_reductions_accumulate_in_float32():
    x = dg.tensor(np.full(4, 65504.0, np.float16))
    m = x.mean()
    assert m.dtype == np.float16 and float(m) == 65504.0  # float16 accumulation gives inf
    s = dg.tensor(np.full(3000, 1.0, np.float16)).sum()
    assert s.dtype == np.float16 and float(s) == 3000.0  # float16 accumulation stalls at 2048


# --- dims: out of range raises, never wraps -------------------------------------------


@pytest.mark.parametrize(
    "call, name, arg",
    [
        (lambda x: dg.softmax(x, dim=2), "softmax", "dim"),
        (lambda x: dg.softmax(x, dim=-3), "softmax", "dim"),
        (lambda x: dg.log_softmax(x, dim=5), "log_softmax", "dim"),
        (lambda x: dg.stack([x, x], dim=4), "stack", "dim"),
        (lambda x: dg.flatten(x, 5), "flatten", "start_dim"),
        (lambda x: dg.flatten(x, 0, -4), "flatten", "end_dim"),
        (lambda x: nn.Unflatten(4, (3, 1))(x), "Unflatten", "dim"),
        (lambda x: dg.gather(x, 3, dg.tensor([[0]])), "gather", "dim"),
        (lambda x: x.argmax(dim=4), "argmax", "dim"),
        (lambda x: x.unsqueeze(4), "unsqueeze", "dim"),
        (lambda x: x.permute(0, 2), "permute", "dims"),
        (lambda x: dg.take_along_axis(x, np.zeros((1, 1), int), 2), "take_along_axis", "axis"),
    ],
)
def test_out_of_range_dim_raises(call, name, arg):
    with pytest.raises(DimError, match=rf"{name}: {arg} -?\d+ is out of range .* 2 dims"):
        call(_x(2, 3))


def test_dim_error_is_an_index_error_and_a_value_error():
    with pytest.raises(IndexError):
        check_dim("f", 3, 2)
    with pytest.raises(ValueError):
        check_dim("f", -3, 2)
    assert check_dim("f", -1, 2) == 1 and check_dim("f", 0, 0) == 0


def test_negative_gather_index_raises():
    with pytest.raises(IndexError, match=r"gather: index values must lie in \[0, 3\).*min -1"):
        dg.gather(_x(2, 3), 1, dg.tensor([[-1]]))


# --- shapes named by the public function ----------------------------------------------


def test_layer_norm_shape_mismatch():
    with pytest.raises(ValueError, match=r"layer_norm: normalized_shape \(4,\) does not match"):
        F.layer_norm(_x(2, 3), (4,))
    with pytest.raises(ValueError, match=r"layer_norm: weight must have shape \(3,\), got \(4,\)"):
        F.layer_norm(_x(2, 3), (3,), dg.ones(4))


def test_instance_norm_needs_spatial_axes():
    with pytest.raises(ValueError, match=r"instance_norm: expected input \(N, C, L, \*\)"):
        F.instance_norm(_x(2, 3))
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element"):
        F.instance_norm(_x(2, 3, 1))


def test_embedding_weight_must_be_2d():
    with pytest.raises(ValueError, match=r"embedding: weight must be 2-d .* got \(5,\)"):
        F.embedding(dg.tensor([0, 1]), dg.randn(5))


@pytest.mark.parametrize("arg", ["running_mean", "running_var", "weight", "bias"])
def test_batch_norm_per_channel_shapes_name_batch_norm(arg):
    kw = {"running_mean": dg.zeros(3), "running_var": dg.ones(3), arg: dg.ones(4)}
    with pytest.raises(ValueError, match=rf"batch_norm: {arg} must have shape \(3,\), got \(4,\)"):
        F.batch_norm(_x(2, 3), **kw)


def test_group_norm_weight_shape():
    with pytest.raises(ValueError, match=r"group_norm: weight must have shape \(4,\)"):
        F.group_norm(_x(2, 4, 2), 2, dg.ones(3))


# --- constructor and keyword values are checked, never replaced -----------------------


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: nn.MaxPool2d(2, stride=0), r"MaxPool2d: stride must be >= 1, got 0"),
        (lambda: nn.AvgPool2d(2, stride=0), r"AvgPool2d: stride must be >= 1, got 0"),
        (lambda: nn.MaxUnpool2d(2, stride=0), r"MaxUnpool2d: stride must be >= 1, got 0"),
        (lambda: nn.AvgPool2d(2, divisor_override=0), r"AvgPool2d: divisor_override .* got 0"),
        (lambda: nn.MaxPool2d(0), r"MaxPool2d: kernel_size must be >= 1, got 0"),
        (lambda: nn.Linear(-2, 3), r"Linear: in_features must be >= 0, got -2"),
        (lambda: nn.Embedding(4, -1), r"Embedding: embedding_dim must be >= 0, got -1"),
        (lambda: nn.BatchNorm1d(-2), r"BatchNorm1d: num_features must be >= 0, got -2"),
        (lambda: nn.LayerNorm(-1), r"LayerNorm: normalized_shape must be >= 0, got -1"),
        (lambda: nn.PReLU(0), r"PReLU: num_parameters must be >= 1, got 0"),
    ],
)
def test_invalid_constructor_values_raise(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: nn.Linear(2.5, 3), r"Linear: in_features must be an int, got 2.5"),
        (lambda: nn.Conv2d(1, 1, 2.5), r"Conv2d: kernel_size must be an int, got 2.5"),
        (lambda: nn.MaxPool2d(2.5), r"MaxPool2d: kernel_size must be an int, got 2.5"),
        (lambda: nn.ZeroPad2d(1.5), r"ZeroPad2d: padding must be an int, got 1.5"),
        (lambda: nn.GroupNorm(1.0, 2), r"GroupNorm: num_groups must be an int"),
        (lambda: nn.Conv2d(2.0, 3, 3), r"Conv2d: in_channels must be an int, got 2.0"),
        (lambda: nn.Maxout(2.5, 3), r"Maxout: in_features must be an int, got 2.5"),
    ],
)
def test_non_integer_sizes_raise(build, match):
    with pytest.raises(TypeError, match=match):
        build()


def test_pool_functions_refuse_divisor_override_zero_and_negative_padding():
    x = _x(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"avg_pool: divisor_override must be >= 1, got 0"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"max_pool.*padding >= 0"):
        F.max_pool2d(x, 2, padding=-1)
    with pytest.raises(ValueError, match=r"Conv2d: padding must be non-negative"):
        nn.Conv2d(1, 1, 3, padding=-1)


def test_check_ints_expands_and_checks():
    assert check_ints("f", "stride", 2, 3) == (2, 2, 2)
    with pytest.raises(ValueError, match=r"f: stride must be an int or 2 ints"):
        check_ints("f", "stride", (1, 2, 3), 2)


# --- conv transpose honours output_padding on every path -------------------------------


@pytest.mark.parametrize("d", [1, 2, 3])
def test_conv_transpose_output_padding_on_every_path(d):
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[d - 1]
    layer = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[d - 1]
    x, w = dg.randn(1, 1, *(3,) * d), dg.randn(1, 1, *(3,) * d)
    # (N - 1) S - 2P + D(F - 1) + output_padding + 1 = 2*2 + 2 + 1 + 1 = 8
    assert fn(x, w, stride=2, output_padding=1).shape[2:] == (8,) * d
    assert fn(x, w, stride=2).shape[2:] == (7,) * d
    m = layer(1, 1, 3, stride=2, output_padding=1)
    assert m(x).shape[2:] == (8,) * d
    assert layer(1, 1, 3, stride=2)(x, output_size=(8,) * d).shape[2:] == (8,) * d
