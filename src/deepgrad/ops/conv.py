"""Convolution primitives: N-d convolution, its transpose and its weight gradient.

The three are one trilinear form T(x, w, y) = <conv(x, w), y> read three ways:

    conv(x, w)              = dT/dy   (cross-correlation, LeCun et al. 1998)
    conv_transpose(y, w)    = dT/dx   (the adjoint in x; "deconvolution", Long et al. 2015)
    conv_weight_grad(x, y)  = dT/dw   (correlation of the input with the output gradient)

so each one's VJP and JVP are the other two and gradients of gradients need no
extra code.  Forwards use im2col: the zero-padded input's windows, a strided
view, are copied once into a contiguous buffer and multiplied by the weight in
one BLAS product (per group).  The transpose multiplies first and scatters the
columns back with one strided add per kernel offset (col2im).  `conv_bias` adds
a layer's bias in the same primitive (in place into the fresh output) and its
gradient is `channel_sum`, one matrix-vector product.

Static parameters, all tuples with one entry per spatial dim: `stride`,
`padding` as (before, after) pairs, `dilation`; plus `groups`.  Outputs are
(N, C, *spatial) views of channels-last or channels-first memory, whichever the
kernel family (see `_conv_kernels`) and the next layer read fastest.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import as_tensor
from . import _conv_kernels as K
from ._base import Case, Domain, ErrorCase, Tensor, _ones, apply, primitive
from .cast import cast
from .channel_norm import (
    _broadcast,
    _channel_view,
    channel_bias,
    channel_sum,
    channel_sum_p,
)
from .elementwise import add
from .index import getitem
from .validation import check_ints

__all__ = [
    "channel_bias",
    "channel_sum",
    "check_out_size",
    "conv",
    "conv_out_size",
    "conv_transpose",
    "conv_transpose_out_size",
    "conv_weight_grad",
    "norm_padding",
    "norm_tuple",
]


# --- geometry ---------------------------------------------------------------------


def conv_out_size(size: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """Output length floor((N + P - D(F - 1) - 1) / S) + 1, with P the total padding."""
    return (size + pad - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_out_size(
    size: int, kernel: int, stride: int, pad: int, dilation: int, output_padding: int
) -> int:
    """Transposed-conv output length (N - 1) S - P + D(F - 1) + output_padding + 1."""
    return (size - 1) * stride - pad + dilation * (kernel - 1) + output_padding + 1


def norm_tuple(value, d: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a length-d sequence of ints, as a tuple of d ints."""
    return check_ints(op, name, value, d, low=None)


def norm_padding(padding, d: int, op: str) -> tuple[tuple[int, int], ...]:
    """int, d ints (symmetric) or d (before, after) pairs, as d pairs."""
    if isinstance(padding, (int, np.integer)):
        return ((int(padding), int(padding)),) * d
    p = tuple(padding)
    if len(p) != d:
        raise ValueError(f"{op}: padding must be an int, {d} ints or {d} pairs, got {padding!r}")
    out = tuple(check_ints(op, "padding", a, 2, low=None) for a in p)
    if any(len(a) != 2 or a[0] < 0 or a[1] < 0 for a in out):
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return out


def _out_shape(spatial, ksize, stride, padding, dilation) -> tuple[int, ...]:
    return tuple(
        conv_out_size(n, k, s, lo + hi, d)
        for n, k, s, (lo, hi), d in zip(spatial, ksize, stride, padding, dilation)
    )


# --- primitives ---------------------------------------------------------------------


def _conv_vjp_x(g, ans, x, w, stride, padding, dilation, groups, saved=None):
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return apply(conv_transpose_p, g, w, size=x.shape[2:], **p)


def _conv_vjp_w(g, ans, x, w, stride, padding, dilation, groups, saved=None):
    """dw from the forward's saved columns of x (built again only if none were saved)."""
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    return apply(conv_weight_grad_p, x, g, ksize=w.shape[2:], saved=saved, **p)


def _conv_cropped(x, w, like_shape, **p) -> Tensor:
    """conv(x, w) cut to `like_shape` (a transposed conv's output_padding can add positions)."""
    y = apply(conv_p, x, w, **p)
    if y.shape != tuple(like_shape):
        y = getitem(y, tuple(slice(0, s) for s in like_shape))
    return y


def _case(xs, ws, stride, padding, dilation, groups, **extra):
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, **extra)
    return Case((xs, ws), params)


_CONV_DOMAIN = Domain(
    [
        _case((2, 3, 5), (2, 3, 3), (1,), ((0, 0),), (1,), 1),
        _case((1, 2, 7), (2, 2, 2), (2,), ((1, 2),), (2,), 1),
        _case((1, 4, 5, 4), (4, 2, 2, 3), (2, 1), ((1, 1), (0, 2)), (1, 2), 2),
        _case((2, 2, 4, 4), (2, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 2),
        _case((1, 2, 3, 4, 3), (2, 1, 2, 2, 2), (1, 2, 1), ((0, 0), (1, 0), (0, 1)), (1, 1, 1), 2),
    ]
)


@primitive(
    "conv",
    vjp=[_conv_vjp_x, _conv_vjp_w],
    jvp=[
        lambda t, ans, x, w, **p: apply(conv_p, t, w, **_strip(p)),
        lambda t, ans, x, w, **p: apply(conv_p, x, t, **_strip(p)),
    ],
    domain=_CONV_DOMAIN.with_errors(
        ErrorCase(lambda: conv(_ones(1, 2, 5), _ones(3, 3, 3)), ValueError, r"conv: "),
        ErrorCase(
            lambda: conv(_ones(1, 3, 5), _ones(3, 3, 3), stride=0), ValueError, r"conv: stride"
        ),
    ),
    saves=True,
)
def conv_p(x, w, stride, padding, dilation, groups, save):
    """$y[n,o,p] = \\sum_{c,k} w[o,c,k] x_{pad}[n, c, s p + d k]$; dx = conv_transpose(g, w),
    dw = conv_weight_grad(x, g) (reusing the forward's columns of x)."""
    return K.conv_forward(x, w, stride, padding, dilation, groups, save)


def conv(
    x: Tensor, weight: Tensor, stride=1, padding=0, dilation=1, groups: int = 1, bias=None
) -> Tensor:
    """N-d cross-correlation with zero padding (1d/2d/3d from the weight's rank).

    $y[n, o, p] = b[o] + \\sum_{c, k} w[o, c, k]\\, x_{pad}[n, g(o) C/G + c, s p + d k]$
    (LeCun et al. 1998).  `padding` is an int, one int per dim, or (before, after) pairs;
    `bias` (optional, shape (C_out,)) is added in the same primitive.
    """
    x, weight = _promote(x, weight)
    d = weight.ndim - 2
    stride = norm_tuple(stride, d, "stride", "conv")
    dilation = norm_tuple(dilation, d, "dilation", "conv")
    padding = norm_padding(padding, d, "conv")
    _check_shapes("conv", x, weight, weight.shape[1] * groups, groups)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(
            f"conv: expected input with {weight.shape[1] * groups} channels "
            f"(weight {weight.shape}, groups={groups}), got {x.shape[1]} (input shape {x.shape})"
        )
    check_out_size("conv", x.shape[2:], weight.shape[2:], stride, padding, dilation)
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": int(groups)}
    if bias is None:
        return apply(conv_p, x, weight, **p)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"conv: bias must have shape ({weight.shape[0]},) (one per output channel), "
            f"got {bias.shape}"
        )
    if bias.dtype == x.dtype and bias.shape == (weight.shape[0],):
        return apply(conv_bias_p, x, weight, bias, **p)
    return add(apply(conv_p, x, weight, **p), _channel_view(bias, x.ndim))


@primitive(
    "conv_transpose",
    vjp=[
        lambda g, ans, y, w, **p: _conv_cropped(g, w, y.shape, **_strip(p)),
        lambda g, ans, y, w, **p: apply(conv_weight_grad_p, g, y, ksize=w.shape[2:], **_strip(p)),
    ],
    jvp=[
        lambda t, ans, y, w, **p: apply(conv_transpose_p, t, w, **p),
        lambda t, ans, y, w, **p: apply(conv_transpose_p, y, t, **p),
    ],
    domain=Domain(
        [
            _case((2, 2, 3), (2, 3, 3), (1,), ((0, 0),), (1,), 1, size=(5,)),
            _case((1, 2, 3), (2, 2, 2), (2,), ((1, 2),), (2,), 1, size=(6,)),
            _case((1, 4, 3, 2), (4, 2, 2, 3), (2, 1), ((1, 1), (0, 2)), (1, 2), 2, size=(5, 4)),
            _case((1, 2, 2, 3), (2, 1, 3, 2), (2, 2), ((1, 0), (0, 0)), (1, 1), 2, size=(4, 6)),
        ],
        errors=[
            ErrorCase(
                lambda: conv_transpose(_ones(1, 1, 3), _ones(1, 1, 3), stride=2, output_padding=2),
                ValueError,
                r"conv_transpose: output_padding 2 must be smaller than stride 2",
            )
        ],
    ),
)
def conv_transpose_p(y, w, stride, padding, dilation, groups, size):
    """$x = \\partial_x \\langle conv(x, w), y \\rangle$ (col2im of $w^T y$); dy = conv(g, w),
    dw = conv_weight_grad(g, y)."""
    return K.conv_input_grad(y, w, stride, padding, dilation, groups, size)


def conv_transpose(
    x: Tensor, weight: Tensor, stride=1, padding=0, output_padding=0, groups: int = 1, dilation=1
) -> Tensor:
    """Transposed convolution: the adjoint of `conv` in its input (PyTorch argument order).

    Weight shape (C_in, C_out/G, *K); output length (N-1)S - 2P + D(F-1) + output_padding + 1.
    (Zeiler & Fergus 2014; Long et al. 2015.)
    """
    x, weight = _promote(x, weight)
    d = weight.ndim - 2
    stride = norm_tuple(stride, d, "stride", "conv_transpose")
    dilation = norm_tuple(dilation, d, "dilation", "conv_transpose")
    padding = norm_padding(padding, d, "conv_transpose")
    opad = norm_tuple(output_padding, d, "output_padding", "conv_transpose")
    _check_shapes("conv_transpose", x, weight, weight.shape[1] * groups, groups)
    if x.shape[1] != weight.shape[0]:
        raise ValueError(
            f"conv_transpose: expected input with {weight.shape[0]} channels "
            f"(weight {weight.shape}), got {x.shape[1]} (input shape {x.shape})"
        )
    for o, s, dl in zip(opad, stride, dilation):
        if not 0 <= o < max(s, dl):
            raise ValueError(
                f"conv_transpose: output_padding {o} must be smaller than stride {s} or "
                f"dilation {dl}"
            )
    size = tuple(
        conv_transpose_out_size(n, k, s, lo + hi, dl, o)
        for n, k, s, (lo, hi), dl, o in zip(
            x.shape[2:], weight.shape[2:], stride, padding, dilation, opad
        )
    )
    if any(s < 1 for s in size):
        raise ValueError(
            f"conv_transpose: output size (N-1)S - P + D(F-1) + output_padding + 1 = {size} "
            f"is not positive for input {x.shape}, weight {weight.shape}, stride {stride}, "
            f"padding {padding}, dilation {dilation}"
        )
    p = {"stride": stride, "padding": padding, "dilation": dilation, "groups": int(groups)}
    return apply(conv_transpose_p, x, weight, size=size, **p)


@primitive(
    "conv_weight_grad",
    vjp=[
        lambda g, ans, x, y, **p: apply(conv_transpose_p, y, g, size=x.shape[2:], **_strip(p)),
        lambda g, ans, x, y, **p: _conv_cropped(x, g, y.shape, **_strip(p)),
    ],
    jvp=[
        lambda t, ans, x, y, **p: apply(conv_weight_grad_p, t, y, ksize=p["ksize"], **_strip(p)),
        lambda t, ans, x, y, **p: apply(conv_weight_grad_p, x, t, **p),
    ],
    domain=Domain(
        [
            _case((2, 3, 5), (2, 2, 3), (1,), ((0, 0),), (1,), 1, ksize=(3,)),
            _case((1, 2, 6), (1, 2, 3), (2,), ((1, 2),), (2,), 1, ksize=(2,)),
            _case((1, 4, 5, 4), (1, 4, 3, 2), (2, 1), ((1, 1), (0, 2)), (1, 2), 2, ksize=(2, 3)),
        ],
        errors=[
            ErrorCase(
                lambda: conv_weight_grad(_ones(1, 1, 5), _ones(1, 1, 3), (3, 3)),
                ValueError,
                r"conv_weight_grad: kernel_size must be an int or 1 ints",
            )
        ],
    ),
)
def conv_weight_grad_p(x, y, stride, padding, dilation, groups, ksize, saved=None):
    """$dw[o,c,k] = \\sum_{n,p} y[n,o,p] x_{pad}[n,c,s p + d k]$; dx = conv_transpose(y, g),
    dy = conv(x, g)."""
    return K.conv_weight_grad(x, y, stride, padding, dilation, groups, ksize, saved)


def conv_weight_grad(
    x: Tensor, grad_output: Tensor, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1
) -> Tensor:
    """The weight gradient of `conv`: $dw[o,c,k] = \\sum_{n,p} g[n,o,p] x_{pad}[n,c,s p + d k]$."""
    x, grad_output = _promote(x, grad_output)
    d = x.ndim - 2
    ksize = norm_tuple(kernel_size, d, "kernel_size", "conv_weight_grad")
    p = {
        "stride": norm_tuple(stride, d, "stride", "conv_weight_grad"),
        "padding": norm_padding(padding, d, "conv_weight_grad"),
        "dilation": norm_tuple(dilation, d, "dilation", "conv_weight_grad"),
        "groups": int(groups),
    }
    return apply(conv_weight_grad_p, x, grad_output, ksize=ksize, **p)


def _bias_case(xs, ws, stride, padding, dilation, groups):
    return Case((xs, ws, (ws[0],)), _case(xs, ws, stride, padding, dilation, groups).params)


@primitive(
    "conv_bias",
    vjp=[
        lambda g, ans, x, w, b, **p: _conv_vjp_x(g, ans, x, w, **p),
        lambda g, ans, x, w, b, **p: _conv_vjp_w(g, ans, x, w, **p),
        lambda g, ans, x, w, b, **p: apply(channel_sum_p, g),
    ],
    jvp=[
        lambda t, ans, x, w, b, **p: apply(conv_p, t, w, **_strip(p)),
        lambda t, ans, x, w, b, **p: apply(conv_p, x, t, **_strip(p)),
        lambda t, ans, x, w, b, **p: _broadcast(_channel_view(t, x.ndim), ans.shape),
    ],
    domain=Domain(
        [_bias_case(*c.shapes, **c.params) for c in _CONV_DOMAIN.cases[:3]],
        errors=[
            ErrorCase(
                lambda: conv(_ones(1, 3, 5), _ones(2, 3, 3), bias=_ones(3)), ValueError, r"conv: "
            )
        ],
    ),
    saves=True,
)
def conv_bias_p(x, w, b, stride, padding, dilation, groups, save):
    """conv(x, w) + b[o], the bias added in place into the fresh output (one pass, no
    temporary); dx, dw as conv, db = channel_sum(g)."""
    y, saved = K.conv_forward(x, w, stride, padding, dilation, groups, save)
    y += b.reshape((1, b.shape[0]) + (1,) * (y.ndim - 2))
    return y, saved


def _strip(p: dict) -> dict:
    """The params shared by all three primitives (drop `size`, `ksize` and the columns
    `saved` by a forward: they belong to that call's input only)."""
    return {k: v for k, v in p.items() if k not in ("size", "ksize", "saved")}


# --- public functions ------------------------------------------------------------------


def _promote(x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    x, w = as_tensor(x), as_tensor(w)
    if x.dtype != w.dtype:
        dt = np.result_type(x._data, w._data)
        x, w = cast(x, dt), cast(w, dt)
    return x, w


def _check_shapes(op, x, w, cin, groups):
    d = w.ndim - 2
    if x.ndim != w.ndim:
        raise ValueError(
            f"{op}: expected a {d + 2}-d input (N, C, {', '.join('LHW'[-d:] if d < 3 else 'DHW')}) "
            f"for a weight of shape {w.shape}, got shape {x.shape}"
        )
    if groups < 1 or cin % groups or w.shape[0] % groups:
        raise ValueError(f"{op}: groups={groups} must divide in ({cin}) and out channels")


def check_out_size(op, spatial, ksize, stride, padding, dilation) -> None:
    """Raise, with the output-size formula and the numbers, if a window does not fit."""
    for i, (n, k, s, (lo, hi), dl) in enumerate(zip(spatial, ksize, stride, padding, dilation)):
        if s < 1 or dl < 1:
            raise ValueError(f"{op}: stride and dilation must be >= 1, got {s} and {dl}")
        o = conv_out_size(n, k, s, lo + hi, dl)
        if o < 1:
            raise ValueError(
                f"{op}: kernel larger than the padded input along spatial dim {i}: output size "
                f"floor((N + P - D(F-1) - 1)/S) + 1 = floor(({n} + {lo + hi} - {dl}*({k}-1) - 1)"
                f"/{s}) + 1 = {o} < 1 (N={n}, P={lo}+{hi}, F={k}, D={dl}, S={s})"
            )
