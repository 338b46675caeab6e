"""The channels-last convolution kernels against a direct reference, for every memory
order an input may arrive in, and the scratch-buffer reuse across training steps."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops import _conv_cl as CL
from deepgrad.ops import _conv_kernels as K
from deepgrad.ops import conv as C


def _reference(x, w, stride, padding, dilation):
    """Direct cross-correlation in float64 (loops over output positions; tiny shapes only)."""
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(padding))
    out = K.out_shape(x.shape[2:], w.shape[2:], stride, padding, dilation)
    y = np.zeros((x.shape[0], w.shape[0]) + out)
    for i in range(out[0]):
        for j in range(out[1]):
            h0, w0 = i * stride[0], j * stride[1]
            win = xp[:, :, h0 : h0 + dilation[0] * (w.shape[2] - 1) + 1 : dilation[0],
                     w0 : w0 + dilation[1] * (w.shape[3] - 1) + 1 : dilation[1]]  # fmt: skip
            y[:, :, i, j] = np.einsum("nckl,ockl->no", win, w)
    return y


def _in_order(a, order):
    """`a` with the same values, stored in memory order `order` (a view of a copy)."""
    if order == "nchw":
        return np.ascontiguousarray(a)
    if order == "nhwc":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, 0)), 0, 1)  # cnhw


GEOMETRIES = [
    # (x shape, w shape, stride, padding, dilation): both column orders are reached
    ((2, 1, 9, 8), (3, 1, 3, 3), (1, 1), ((1, 1), (2, 0)), (1, 1)),  # few channels
    ((2, 4, 7, 6), (5, 4, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # rows first
    ((1, 3, 9, 9), (2, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # strided
    ((2, 2, 8, 9), (3, 2, 2, 3), (1, 2), ((1, 0), (0, 2)), (2, 1)),  # dilated
    ((2, 5, 4, 4), (3, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),  # 1x1
    ((2, 16, 5, 4), (3, 16, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # one-GEMM dx
    ((1, 16, 6, 5), (2, 16, 3, 2), (2, 1), ((1, 0), (1, 1)), (1, 2)),  # one-GEMM dx, strided
    ((3, 4, 1, 1), (5, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # 1 live tap of 9
    ((2, 3, 2, 3), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1)),  # 2 x 2 live taps
    ((2, 2, 2, 4), (3, 2, 3, 3), (1, 1), ((2, 0), (0, 3)), (1, 2)),  # trimmed, dilated
]
FAMILIES = ["cl", "ck", "cf"]


@pytest.mark.parametrize("geo", GEOMETRIES)
@pytest.mark.parametrize("order", ["nchw", "nhwc", "cnhw"])
@pytest.mark.parametrize("family", FAMILIES)
def test_conv_kernels_match_direct_reference(geo, order, family, monkeypatch):
    """Every kernel family (channels-last, rows in the weight's order, channels-first),
    with every tap that only reads padding dropped."""
    monkeypatch.setattr(K, "_FORCE", family)
    monkeypatch.setattr(K, "_TRIM_MIN_SAVING", 1)
    xs, ws, stride, padding, dilation = geo
    rng = np.random.default_rng(0)
    x, w = _in_order(rng.standard_normal(xs), order), rng.standard_normal(ws)
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": 1}
    y, saved = K.conv_forward(x, w, save=True, **p)
    np.testing.assert_allclose(y, _reference(x, w, stride, padding, dilation), atol=1e-12)
    g = _in_order(rng.standard_normal(y.shape), order)
    # adjoint identities: <conv(x), g> = <x, conv_transpose(g)> = <w, conv_weight_grad(x, g)>
    dx = K.conv_input_grad(g, w, size=xs[2:], **p)
    dw = K.conv_weight_grad(x, g, ksize=ws[2:], **p)
    np.testing.assert_allclose(K.conv_weight_grad(x, g, ksize=ws[2:], saved=saved, **p), dw)
    lhs = np.vdot(y, g)
    np.testing.assert_allclose(np.vdot(x, dx), lhs, rtol=1e-10)
    np.testing.assert_allclose(np.vdot(w, dw), lhs, rtol=1e-10)
    assert dw.flags.c_contiguous and dw.base is None  # owned: becomes .grad without a copy
    assert dw.shape == w.shape and dx.shape == x.shape


@pytest.mark.parametrize(
    "xs, ws, stride, padding, dilation",
    [
        ((2, 3, 9), (4, 3, 3), (2,), ((1, 2),), (2,)),
        ((1, 2, 4, 5, 3), (3, 2, 2, 3, 2), (1, 2, 1), ((1, 0), (0, 1), (1, 1)), (1, 1, 2)),
    ],
)
def test_kernel_families_agree_in_1d_and_3d(xs, ws, stride, padding, dilation, monkeypatch):
    """The N-d code paths of the three families give one result (forward, dx, dw)."""
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": 1}
    results = []
    for family in FAMILIES:
        monkeypatch.setattr(K, "_FORCE", family)
        y, saved = K.conv_forward(x, w, save=True, **p)
        g = np.cos(np.arange(y.size)).reshape(y.shape)
        dx = K.conv_input_grad(g, w, size=xs[2:], **p)
        dw = K.conv_weight_grad(x, g, ksize=ws[2:], saved=saved, **p)
        results.append((np.array(y), np.array(dx), dw))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


def test_channel_sum_and_bias_match_numpy():
    rng = np.random.default_rng(1)
    for order in ("nchw", "nhwc", "cnhw"):
        x = _in_order(rng.standard_normal((3, 4, 5, 2)).astype(np.float32), order)
        s = C.channel_sum(dg.Tensor(x)).data
        np.testing.assert_allclose(s, x.sum(axis=(0, 2, 3)), rtol=1e-5)
        b = rng.standard_normal(4).astype(np.float32)
        y = C.channel_bias(dg.Tensor(x), dg.Tensor(b)).data
        np.testing.assert_array_equal(y, x + b[:, None, None])


def test_repeated_steps_reuse_scratch_buffers_without_aliasing():
    """Two identical steps give identical gradients (saved columns, recycled buffers)."""
    rng = np.random.default_rng(2)
    net = dg.nn.Sequential(dg.nn.Conv2d(1, 4, 5, padding=2), dg.nn.ReLU(), dg.nn.MaxPool2d(2),
                           dg.nn.Conv2d(4, 6, 3), dg.nn.ReLU())  # fmt: skip
    x = dg.tensor(rng.standard_normal((8, 1, 16, 16)).astype(np.float32))
    grads = []
    for _ in range(3):
        net.zero_grad()
        net(x).sum().backward()
        grads.append([np.array(p.grad.data) for p in net.parameters()])
        net(dg.tensor(rng.standard_normal((8, 1, 16, 16)).astype(np.float32)))  # unused graph
    for a, b in zip(grads[0], grads[2]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("geo", GEOMETRIES)
@pytest.mark.parametrize("save", [True, False])
def test_channels_last_batch_chunks_match_direct_reference(geo, save, monkeypatch):
    """Columns built a few images at a time (here one image per chunk): the forward, and
    the weight gradient from the saved columns (save) or rebuilt per chunk (not)."""
    monkeypatch.setattr(CL, "_CL_CHUNK_BYTES", 1)
    xs, ws, stride, padding, dilation = geo
    rng = np.random.default_rng(3)
    x = _in_order(rng.standard_normal((3,) + xs[1:]), "nhwc")
    w = rng.standard_normal(ws)
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": 1}
    y, saved = K.conv_forward(x, w, save=save, **p)
    assert (saved is not None) == save
    np.testing.assert_allclose(y, _reference(x, w, stride, padding, dilation), atol=1e-12)
    g = _in_order(rng.standard_normal(y.shape), "nhwc")
    dw = K.conv_weight_grad(x, g, ksize=ws[2:], saved=saved, **p)
    dx = K.conv_input_grad(g, w, size=xs[2:], **p)
    lhs = np.vdot(y, g)
    np.testing.assert_allclose(np.vdot(w, dw), lhs, rtol=1e-10)
    np.testing.assert_allclose(np.vdot(x, dx), lhs, rtol=1e-10)


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_columns_survive_a_second_backward(family, monkeypatch):
    """The forward's columns live on the graph node: retain_graph gives exactly twice the
    gradient, and changing the input in place afterwards does not change it."""
    monkeypatch.setattr(K, "_FORCE", family)
    rng = np.random.default_rng(4)
    conv = dg.nn.Conv2d(3, 8, 3, padding=1)
    x = dg.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    y = conv(x).sum()
    y.backward(retain_graph=True)
    first = conv.weight.grad.numpy().copy()
    x.data[...] = 0.0  # the saved columns are of the input as it was in the forward
    y.backward()
    np.testing.assert_array_equal(conv.weight.grad.numpy(), 2 * first)


@pytest.mark.parametrize("x_order", ["nchw", "nhwc", "cnhw"])
@pytest.mark.parametrize("g_order", ["nchw", "nhwc"])
def test_max_pool_gradient_is_the_same_in_every_memory_layout(x_order, g_order):
    # The pool's backward copies a gradient stored in another memory order than the
    # pooled map (channels-first after a Flatten, channels-last after a small conv) into
    # the map's order: the values must not depend on any of the layouts.
    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal((3, 4, 6, 8)), 0)  # ReLU zeros: many tied windows
    g = rng.standard_normal((3, 4, 3, 4))
    ref_x = dg.tensor(x, requires_grad=True)
    dg.nn.functional.max_pool2d(ref_x, 2).backward(dg.tensor(g))
    xt = dg.tensor(_in_order(x, x_order), requires_grad=True)
    y = dg.nn.functional.max_pool2d(xt, 2)
    gt = _in_order(g, g_order)
    assert gt.flags.c_contiguous == (g_order == "nchw")
    y.backward(dg.Tensor(gt))
    np.testing.assert_array_equal(xt.grad.data, ref_x.grad.data)
    # the first maximum of each window takes the whole gradient, as PyTorch
    assert np.count_nonzero(ref_x.grad.numpy()) == np.count_nonzero(g)


@pytest.mark.parametrize("channels", [2, 3, 6, 8])
@pytest.mark.parametrize("kernel", [(2, 2), (3, 3), (1, 2), (2, 1)])
def test_tiled_channels_last_max_pool_is_bitwise_the_offset_loop(channels, kernel):
    # Few-channel channels-last maps take a rows-then-columns kernel: every value,
    # NaN and -inf included, must equal the offset-by-offset loop's (channels-first input).
    from deepgrad.ops import _pool_kernels as P

    rng = np.random.default_rng(channels)
    x = np.maximum(rng.standard_normal((3, channels, 6, 6)), 0).astype(np.float32)
    x[0, 0, 0, 0], x[1, -1, 3, 2], x[2, 1, 5, 5] = np.nan, -np.inf, np.inf
    params = {"kernel": kernel, "stride": kernel, "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}
    reference = P._window_max(np.ascontiguousarray(x), **params)
    last = _in_order(x, "nhwc")
    assert P._tiled_max_cl(last, **params) is not None  # the fast path is taken
    y = P._window_max(last, **params)
    np.testing.assert_array_equal(y, reference)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous  # and stays channels-last


def test_taps_that_only_read_padding_are_dropped():
    """ResNet's 512-channel 3x3 layer on a 1x1 map reads one tap of nine; the others get a
    zero gradient (and the direct reference agrees, in the test above)."""
    assert K._live_taps((1, 1), (3, 3), (1, 1), (1, 1), ((1, 1), (1, 1)), (1, 1)) == (
        (slice(1, 2), slice(1, 2)),
        ((0, 0), (0, 0)),
    )
    assert K._live_taps((4, 4), (3, 3), (4, 4), (1, 1), ((1, 1), (1, 1)), (1, 1)) is None
    rng = np.random.default_rng(6)
    x, g = rng.standard_normal((2, 3, 1, 1)), rng.standard_normal((2, 4, 1, 1))
    p = {"stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1), "groups": 1}
    dw = K.conv_weight_grad(x, g, ksize=(3, 3), **p)
    assert dw.base is None and not dw[:, :, 0].any() and dw[:, :, 1, 1].any()
