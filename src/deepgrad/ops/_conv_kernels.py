"""NumPy kernels behind the convolution primitives (no autodiff here): the kernel family
chosen per layer, and the three entry points (forward, input gradient, weight gradient).

Three families (`_family`), chosen by measurement on the LeNet-5 and ResNet-18 layers
(see docs/design.md, "Convolutional networks"):

* "cl", channels-last (`_conv_cl`): layers with at most `_CL_MAX_CHANNELS` outputs or at
  most `_CL_MAX_WEIGHTS` weights, whose (K * C, C_out) permutation is cheap to copy;
* "ck", rows in the weight's own (C, K) order (`_conv_cl`): wider layers with at most
  `_CK_MAX_OUT` output positions per image (ResNet's 512-channel stage), where permuting a
  9 MB weight per call would cost more than the product's copies of K_last-long runs;
* "cf", channels-first im2col, strided or flat (`_conv_cf`): everything else, and every
  grouped convolution.

Every family takes an input in any memory order; outputs are (N, C, *S) views of
channels-last or channels-first buffers.
"""

from __future__ import annotations

import math

import numpy as np

from ._conv_cf import (
    _WS,
    _channels_first,
    _col2im,
    _extend,
    _flat_cols,
    _flat_input_grad,
    _grouped_matmul,
    _im2col,
    _matmul_nt,
    _swap01,
    _to_last,
    _use_flat,
    out_shape,
)
from ._conv_cl import (
    _ck_forward,
    _ck_input_grad,
    _ck_weight_grad,
    _cl_forward,
    _cl_input_grad,
    _cl_matrix,
    _cl_weight_grad,
)

__all__ = ["channel_sum", "conv_forward", "conv_input_grad", "conv_weight_grad", "out_shape"]

# Channels-last kernels for layers with at most this many output channels (LeNet-sized
# layers) or at most this many weights (ResNet-18 up to its 256-channel stage).
_CL_MAX_CHANNELS = 32
_CL_MAX_WEIGHTS = 256 * 256 * 9
# Rows in the weight's order for wider layers with at most this many output positions.
_CK_MAX_OUT = 64
_FORCE = None  # a family name forces it (benchmarks and tests of the families)
# Drop the taps that only read padding when that leaves at most 1/this of them.
_TRIM_MIN_SAVING = 3


def _family(cout: int, groups: int, weights: int, out) -> str:
    """The kernel family of a layer: "cl" (channels-last), "ck" (rows in the weight's
    order, small outputs) or "cf" (channels-first, and every grouped conv)."""
    if _FORCE is not None and groups == 1:
        return _FORCE
    if _use_cl(cout, groups, weights):
        return "cl"
    if groups == 1 and math.prod(out) <= _CK_MAX_OUT:
        return "ck"
    return "cf"


def _use_cl(cout: int, groups: int, weights: int = 0) -> bool:
    """Channels-last kernels for narrow layers and for layers of at most _CL_MAX_WEIGHTS
    weights (their (K * C, C_out) permutation, copied per call, stays cheap)."""
    return groups == 1 and (cout <= _CL_MAX_CHANNELS or weights <= _CL_MAX_WEIGHTS)


# --- the three kernels -----------------------------------------------------------------------


def _live_taps(spatial, ksize, out, stride, padding, dilation):
    """None when every kernel tap reads an input value for some output position; else
    (taps, padding'): per spatial dim the slice of the taps that do, and the padding that
    keeps every output window where it was once the others are dropped.

    The dropped taps multiply only the zero padding (ResNet-18's 512-channel 3x3 layers on
    a 1x1 map, the CIFAR shape, read 1 tap of 9), so the convolution with the remaining
    taps is exactly the same and its three products are up to 9x smaller."""
    taps, pads, trimmed = [], [], False
    for n, k, o, s, (lo, hi), d in zip(spatial, ksize, out, stride, padding, dilation):
        k0 = max(0, -((s * (o - 1) - lo) // d))  # first tap some window reads input with
        k1 = min(k, (n - 1 + lo) // d + 1)  # one past the last
        lo2 = lo - d * k0
        if k1 <= k0 or lo2 < 0:
            return None
        hi2 = max(0, s * (o - 1) + d * (k1 - 1 - k0) - lo2 - n + 1)
        if (n + lo2 + hi2 - d * (k1 - k0 - 1) - 1) // s + 1 != o:
            return None
        taps.append(slice(k0, k1))
        pads.append((lo2, hi2))
        trimmed = trimmed or k0 > 0 or k1 < k
    live = math.prod(t.stop - t.start for t in taps)
    # gathering the live taps reads every cache line of the weight (9 MB for 512 x 512 x
    # 3 x 3) and the weight gradient is written whole: worth it from 3x fewer products
    # (ResNet's stride-2 512 layer at the CIFAR shape, 4 taps of 9: 2.4 -> 7.8 ms trimmed)
    if not trimmed or live * _TRIM_MIN_SAVING > math.prod(ksize):
        return None
    return tuple(taps), tuple(pads)


def conv_forward(x, w, stride, padding, dilation, groups, save=False):
    """(y, saved): y = conv(x, w) as an (N, C_out, *O) view (channels-last or -first
    memory); with `save`, the columns the weight gradient needs (else None).  Kernel taps
    that only ever read padding are dropped first (`_live_taps`)."""
    out = out_shape(x.shape[2:], w.shape[2:], stride, padding, dilation)
    family = _family(w.shape[0], groups, w.size, out)  # by the whole weight's size
    live = _live_taps(x.shape[2:], w.shape[2:], out, stride, padding, dilation)
    if live is not None:
        w, padding = w[(slice(None), slice(None)) + live[0]], live[1]
    return _conv_forward(x, w, stride, padding, dilation, groups, save, family)


def conv_input_grad(y, w, stride, padding, dilation, groups, size) -> np.ndarray:
    """x = conv_transpose(y, w) of spatial `size`, as an (N, C_in, *size) view."""
    family = _family(w.shape[0], groups, w.size, y.shape[2:])
    live = _live_taps(tuple(size), w.shape[2:], y.shape[2:], stride, padding, dilation)
    if live is not None:
        w, padding = w[(slice(None), slice(None)) + live[0]], live[1]
    return _conv_input_grad(y, w, stride, padding, dilation, groups, size, family)


def conv_weight_grad(x, y, stride, padding, dilation, groups, ksize, saved=None) -> np.ndarray:
    """dw[o, c, k] = sum_{n, p} y[n, o, p] x_pad[n, c, s p + d k], shape (C_out, C_in/G, *K).

    `saved` is what `conv_forward(x, ..., save=True)` returned: the columns of x,
    which are then not built again.  Taps that only read padding get a zero gradient."""
    ksize = tuple(ksize)
    cout = y.shape[1]
    family = _family(cout, groups, cout * x.shape[1] // groups * math.prod(ksize), y.shape[2:])
    live = _live_taps(x.shape[2:], ksize, y.shape[2:], stride, padding, dilation)
    if live is None:
        return _conv_weight_grad(x, y, stride, padding, dilation, groups, ksize, saved, family)
    taps, padding = live
    sub = tuple(t.stop - t.start for t in taps)
    part = _conv_weight_grad(x, y, stride, padding, dilation, groups, sub, saved, family)
    dw = np.zeros(part.shape[:2] + ksize, part.dtype)
    dw[(slice(None), slice(None)) + taps] = part
    return dw


def _conv_forward(x, w, stride, padding, dilation, groups, save, family):
    """(y, saved): y = conv(x, w) as an (N, C_out, *O) view (channels-last or -first
    memory); with `save`, the columns the weight gradient needs (else None)."""
    n, cout, ksize = x.shape[0], w.shape[0], w.shape[2:]
    out = out_shape(x.shape[2:], ksize, stride, padding, dilation)
    if family == "cl":
        return _cl_forward(x, w, ksize, out, stride, padding, dilation, save)
    if family == "ck":
        return _ck_forward(x, w, ksize, out, stride, padding, dilation, save)
    wg = w.reshape(groups, cout // groups, -1)
    if _use_flat(x.shape[2:], out, stride, padding):
        cols, spad = _flat_cols(x, ksize, padding, dilation)
        y = _grouped_matmul(wg, cols.reshape(groups, cols.shape[0] // groups, cols.shape[1]))
        saved = ("flat", cols, spad)
        y = y.reshape((cout, n) + spad)[
            (slice(None), slice(None)) + tuple(slice(0, o) for o in out)
        ]
    else:
        cols = _im2col(x, ksize, out, stride, padding, dilation)
        y = _grouped_matmul(
            wg, cols.reshape(groups, cols.shape[0] // groups, cols.shape[1])
        ).reshape((cout, n) + out)
        saved = ("strided", cols)
    if not save:
        _WS.give(cols)
        saved = None
    return _swap01(y), saved


def _conv_input_grad(y, w, stride, padding, dilation, groups, size, family) -> np.ndarray:
    """conv_input_grad with every tap of `w`, in kernel family `family`."""
    if family == "cl":
        return _cl_input_grad(y, w, tuple(size), stride, padding, dilation)
    if family == "ck":
        return _ck_input_grad(y, w, tuple(size), stride, padding, dilation)
    n, cout, ksize = y.shape[0], w.shape[0], w.shape[2:]
    cin = w.shape[1] * groups
    wt = w.reshape(groups, cout // groups, -1).transpose(0, 2, 1)
    if _use_flat(size, y.shape[2:], stride, padding):
        xp = _flat_input_grad(y, w, groups, size, padding, dilation)
    else:
        yc = _channels_first(y).reshape(groups, cout // groups, -1)
        cols = _grouped_matmul(wt, yc)
        xp = _col2im(cols, (n, cin) + tuple(size), ksize, y.shape[2:], stride, padding, dilation)
    return _swap01(xp)


def _conv_weight_grad(x, y, stride, padding, dilation, groups, ksize, saved, family):
    """conv_weight_grad with every tap of `ksize` (those the forward's columns hold)."""
    cout, cin = y.shape[1], x.shape[1]
    if family == "cl":
        return _cl_weight_grad(x, y, ksize, stride, padding, dilation, saved)
    if family == "ck":
        return _ck_weight_grad(x, y, ksize, stride, padding, dilation, saved)
    if _use_flat(x.shape[2:], y.shape[2:], stride, padding):
        cols, spad = saved[1:] if saved is not None else _flat_cols(x, ksize, padding, dilation)
        yc = _extend(y, spad)
    else:
        cols = (
            saved[1]
            if saved is not None
            else _im2col(x, ksize, y.shape[2:], stride, padding, dilation)
        )
        yc = _channels_first(y).reshape(cout, -1)
    dw = np.empty((cout, cin // groups) + ksize, dtype=np.result_type(x, y))
    a, b = (
        yc.reshape(groups, cout // groups, -1),
        cols.reshape(groups, cols.shape[0] // groups, cols.shape[1]),
    )
    _matmul_nt(a, b, dw.reshape(groups, cout // groups, -1))
    if saved is None:  # saved columns stay with the graph node
        _WS.give(cols)
    if yc.base is not None and not np.may_share_memory(yc, y):
        _WS.give(yc)
    return dw


def channel_sum(x: np.ndarray) -> np.ndarray:
    """sum of (N, C, *S) over all axes but 1, as matrix-vector products when it can: one
    over the (N * prod(S), C) matrix (channels-last or -first memory), or, for (N, C, *S)
    C-contiguous memory, one over the (N * C, prod(S)) rows and a sum over N (copying
    that order to channels-last first cost 10x more)."""
    if x.dtype.kind != "f":
        return _cl_matrix(x).sum(axis=0)
    if x.ndim > 2 and x.flags.c_contiguous and not _cl_or_cf(x):
        rows = x.reshape(x.shape[0] * x.shape[1], -1)
        per = np.matmul(rows, np.ones(rows.shape[1], dtype=x.dtype))
        return per.reshape(x.shape[:2]).sum(axis=0)
    m = _cl_matrix(x)
    return np.matmul(np.ones(m.shape[0], dtype=x.dtype), m)


def _cl_or_cf(x: np.ndarray) -> bool:
    """Is x stored channels-last or channels-first (its (N*S, C) matrix a view)?"""
    return _to_last(x).flags.c_contiguous or _swap01(x).flags.c_contiguous
