"""Convolution and pooling primitives: derivatives, the adjoint identity, double backward,
geometry and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.core.primitive import REGISTRY, apply
from deepgrad.ops import conv as C
from deepgrad.ops import pool as P
from deepgrad.ops import resample as R
from deepgrad.testing import check_jvp, gradcheck, gradgradcheck

MINE = [
    "conv", "conv_transpose", "conv_weight_grad", "max_pool", "window_sum", "window_sum_t",
    "window_take", "window_put", "take_flat", "put_flat", "pad_nd", "pad_nd_t",
]  # fmt: skip


def _cases():
    for name in MINE:
        for k in range(len(REGISTRY[name].domain.cases)):
            yield pytest.param(name, k, id=f"{name}-{k}")


@pytest.mark.parametrize("name,k", list(_cases()))
def test_every_domain_case_passes_first_and_second_order_checks(name, k):
    prim = REGISTRY[name]
    case = prim.domain.cases[k]
    rng = np.random.default_rng(k)
    params = case.params(rng) if callable(case.params) else case.params
    xs = [dg.Tensor(rng.uniform(-2, 2, s), requires_grad=True) for s in case.shapes]

    def f(*a):
        return apply(prim, *a, **params)

    assert gradcheck(f, xs, atol=1e-6, rtol=1e-5)
    check_jvp(f, xs)
    if prim.domain.second_order:
        assert gradgradcheck(f, xs, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "xs,ws,stride,padding,dilation,groups",
    [
        ((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), (1, 2), (1, 2), 2),
        ((2, 3, 11), (4, 3, 3), 3, 2, 2, 1),
        ((1, 2, 5, 6, 7), (4, 1, 2, 3, 2), (1, 2, 1), (1, 0, 1), (2, 1, 1), 2),
        ((3, 6, 7, 7), (6, 1, 3, 3), 1, 1, 1, 6),  # depthwise, flat path
        ((2, 3, 6, 5), (4, 3, 1, 1), 1, 0, 1, 1),  # pointwise
    ],
)
def test_adjoint_identity_conv_and_conv_transpose(xs, ws, stride, padding, dilation, groups):
    """<conv(x), y> == <x, conv_transpose(y)> and == <w, conv_weight_grad(x, y)>."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = C.conv(dg.Tensor(x), dg.Tensor(w), stride, padding, dilation, groups)
    v = rng.standard_normal(y.shape)
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    d = len(xs) - 2
    pairs = C.norm_padding(padding, d, "t")
    z = apply(REGISTRY["conv_transpose"], dg.Tensor(v), dg.Tensor(w), size=xs[2:],
              **{**p, "stride": C.norm_tuple(stride, d, "", ""), "padding": pairs,
                 "dilation": C.norm_tuple(dilation, d, "", "")})  # fmt: skip
    dw = C.conv_weight_grad(dg.Tensor(x), dg.Tensor(v), ws[2:], **p)
    lhs = float(np.sum(y.numpy() * v))
    assert np.isclose(lhs, float(np.sum(x * z.numpy())), rtol=1e-10)
    assert np.isclose(lhs, float(np.sum(w * dw.numpy())), rtol=1e-10)


def test_conv_transpose_is_the_input_gradient_of_conv():
    rng = np.random.default_rng(1)
    x = dg.Tensor(rng.standard_normal((2, 4, 7, 6)), requires_grad=True)
    w = dg.Tensor(rng.standard_normal((4, 2, 3, 3)))
    y = C.conv(x, w, stride=2, padding=1, groups=2)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    z = C.conv_transpose(dg.Tensor(g), w, stride=2, padding=1, output_padding=(0, 1), groups=2)
    np.testing.assert_allclose(x.grad.data, z.data, rtol=1e-12)


def test_double_backward_through_conv_matches_finite_differences():
    """Gradient of a gradient-norm penalty: d/dw |d loss/dx|^2 (as in WGAN-GP, input saliency)."""
    rng = np.random.default_rng(2)
    x = dg.Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = dg.Tensor(rng.standard_normal((3, 2, 3, 3)) * 0.5, requires_grad=True)

    def penalty(x, w):
        y = dg.tanh(C.conv(x, w, padding=1))
        (gx,) = dg.autograd_grad((y * y).sum(), [x], create_graph=True)
        return (gx * gx).sum()

    assert gradcheck(penalty, [x, w], atol=1e-5, rtol=1e-4)
    d2 = dg.grad(dg.grad(lambda w: (C.conv(x.detach(), w, padding=1) ** 3).sum()))
    assert d2 is not None


def test_flat_and_strided_paths_agree():
    """Stride-1 convs take the flat (shifted-row) path; compare with a strided reference."""
    from deepgrad.ops import _conv_cf as CF
    from deepgrad.ops import _conv_kernels as K

    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 4, 9, 7)), rng.standard_normal((6, 2, 3, 2))
    p = {"stride": (1, 1), "padding": ((1, 2), (0, 1)), "dilation": (2, 1), "groups": 2}
    flat, _ = K.conv_forward(x, w, **p)
    old, CF._FLAT_MAX_RATIO = CF._FLAT_MAX_RATIO, 0.0
    try:
        strided, _ = K.conv_forward(x, w, **p)
        g = rng.standard_normal(flat.shape)
        dx_s = K.conv_input_grad(g, w, size=(9, 7), **p)
        dw_s = K.conv_weight_grad(x, g, ksize=(3, 2), **p)
    finally:
        CF._FLAT_MAX_RATIO = old
    np.testing.assert_allclose(flat, strided, rtol=1e-12)
    np.testing.assert_allclose(K.conv_input_grad(g, w, size=(9, 7), **p), dx_s, rtol=1e-12)
    np.testing.assert_allclose(K.conv_weight_grad(x, g, ksize=(3, 2), **p), dw_s, rtol=1e-12)


def test_output_padding_beyond_stride_with_dilation_is_cropped_in_the_vjp():
    rng = np.random.default_rng(4)
    y = dg.Tensor(rng.standard_normal((1, 2, 4)), requires_grad=True)
    w = dg.Tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)
    f = lambda y, w: C.conv_transpose(y, w, stride=1, output_padding=1, dilation=2)
    assert f(y, w).shape == (1, 3, 4 - 1 + 4 + 1 + 1)
    assert gradcheck(f, [y, w])


@pytest.mark.parametrize("shape", [(1, 2, 7, 5), (2, 1, 9, 11), (1, 3, 6, 6)])
def test_pool_odd_sizes_gradients(shape):
    rng = np.random.default_rng(5)
    x = dg.Tensor(rng.standard_normal(shape), requires_grad=True)
    for f in [
        lambda x: P.max_pool(x, 3, 2, 1, ceil_mode=True),
        lambda x: P.max_pool(x, 2),
        lambda x: P.avg_pool(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        lambda x: P.adaptive_avg_pool(x, (2, 3)),
        lambda x: P.adaptive_max_pool(x, (3, 2)),
        lambda x: R.interpolate(x, scale_factor=1.7, mode="bilinear"),
        lambda x: R.interpolate(x, size=(4, 9), mode="nearest"),
    ]:
        assert gradcheck(f, [x])


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima():
    x = dg.Tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    P.max_pool(x, 2).sum().backward()
    assert x.grad.numpy().ravel().tolist() == [1.0, 0.0, 0.0, 0.0]


def test_max_unpool_inverts_max_pool_on_the_maxima():
    rng = np.random.default_rng(6)
    x = dg.Tensor(rng.standard_normal((2, 3, 6, 6)))
    y, idx = P.max_pool(x, 2, return_indices=True)
    u = P.max_unpool(y, idx, 2, output_size=(6, 6))
    mask = u.data != 0
    np.testing.assert_array_equal(u.data[mask], x.data[mask])
    assert mask.sum() == y.numel()


def test_kernel_larger_than_input_names_the_formula_and_numbers():
    x = dg.Tensor(np.zeros((1, 1, 4, 4)))
    w = dg.Tensor(np.zeros((1, 1, 7, 7)))
    with pytest.raises(ValueError, match=r"floor\(\(4 \+ 2 - 1\*\(7-1\) - 1\)/1\) \+ 1 = 0 < 1"):
        C.conv(x, w, padding=1)
    with pytest.raises(ValueError, match="kernel larger than the padded input"):
        P.max_pool(x, 5)


def test_channel_mismatch_and_bad_arguments_are_refused():
    x = dg.Tensor(np.zeros((1, 3, 5, 5)))
    with pytest.raises(ValueError, match="expected input with 4 channels"):
        C.conv(x, dg.Tensor(np.zeros((2, 2, 3, 3))), groups=2)
    with pytest.raises(ValueError, match="output_padding 2 must be smaller than stride 2"):
        C.conv_transpose(x, dg.Tensor(np.zeros((3, 2, 3, 3))), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="at most half"):
        P.max_pool(x, 2, padding=2)
    with pytest.raises(ValueError, match="reflect padding"):
        R.pad_nd(x, ((0, 0), (0, 0), (5, 0), (0, 0)), "reflect")
