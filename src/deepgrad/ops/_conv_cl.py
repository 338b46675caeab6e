"""Convolution kernels, part 2: the channels-last family and rows in the weight's order.

* channels-last ("cl", groups 1; narrow layers and those of at most 256 x 256 x 3 x 3
  weights): the product is (N * prod(O), K * C) columns @ (K * C, C_out), giving an
  output stored channels-last, from which the next layer's windows (N, *O, *K, C) copy
  runs of K_last * C values.  Inputs with few channels take (C * K, N * prod(O)) columns
  instead (runs of O_last values) through a transposed view.  Layers with at most
  `_CF_OUT_CHANNELS` outputs store them channels-first (LeNet's first layer: the max
  pool after it runs its loops over the windows, not over 6 channels).  The columns are built a
  batch chunk at a time (`_cl_chunks`, a few hundred KB: cache resident between the copy
  and the product).  The input gradient is one product over the batch, g (N*P, C_out) @
  w (C_out, K*C_in), and one strided add per kernel offset (runs of C_in values); inputs
  with few channels take the flat route of `_conv_cf` instead.
* rows in the weight's order ("ck", groups 1, wide layers with small outputs): see the
  section below.

When asked (`save=True`, i.e. while a graph is recorded), the forwards return their
columns; the conv primitive keeps them on its graph node for the weight gradient.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._conv_cf import (
    _WS,
    _cf_windows,
    _copy_to_ws,
    _flat_input_grad,
    _from_last,
    _swap01,
    _to_last,
    _use_flat,
    _zero_pad,
)

_DW_CHUNK = 4096  # columns per slice of a long-inner-dimension product (`_dot_long`)
# Input channels from which the channels-last input gradient is one product + col2im
# (with fewer, col2im's runs of C_in values are too short: the flat route instead; LeNet's
# conv2, 6 channels, 4.6 ms against 1.2).
_CL_DX_GEMM_MIN_CIN = 16
# Bytes of columns per batch chunk of the channels-last kernels (see `_cl_chunks`):
# cache resident; measured on the LeNet layers (4-8 images of 60-80 KB).
_CL_CHUNK_BYTES = 640 << 10
# Layers with at most this many outputs store them channels-first: the max pool after
# LeNet's first layer then routes its gradient 2x faster (channels-last, NumPy's inner
# loops would run over 6 channels); LeNet step 11.5 -> 9.2 ms CPU together with the
# channels-first few-channel input gradient.
_CF_OUT_CHANNELS = 8


# --- channels-last layout (groups == 1) ---------------------------------------------------
#
# Outputs are (N * prod(O), C_out) GEMM results, returned as (N, C_out, *O) views
# (channels-last memory); the next layer's windows (N, *O, *K, C) then have contiguous
# runs of K_last * C values.  Inputs with few channels (C * K_last < O_last, stride 1)
# are laid out the other way, (C, *K, N, *O), whose runs are O_last long; both orders feed
# the same product through a transposed view, which BLAS reads without a copy.


def _cl_rows_first(c, ksize, out, stride, dilation) -> bool:
    """True for (N*P, K*C) columns; False for (C*K, N*P) (few channels, stride 1)."""
    return c * ksize[-1] >= out[-1] or stride[-1] != 1 or dilation[-1] != 1


def _cl_padded(x, padding) -> np.ndarray:
    """x as channels-last (N, *padded, C), zero-padded (a view when already so stored)."""
    xcl = _to_last(x)
    if not any(lo or hi for lo, hi in padding) and xcl.flags.c_contiguous:
        return xcl
    shape = (x.shape[0],) + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
    buf = _WS.zeros(shape + (x.shape[1],), x.dtype)
    buf[(slice(None),) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))] = xcl
    return buf


def _cl_windows(x, ksize, out, stride, padding, dilation):
    """(rows_first, windows, scratch): the strided view whose copy is the columns, either
    (N, *O, *K, C) (rows (N*P, prod(K)*C)) or (C, *K, N, *O) (columns (C*prod(K), N*P)),
    and the padded copy it reads (to hand back to the workspace; None if x itself)."""
    n, c = x.shape[:2]
    rows = _cl_rows_first(c, ksize, out, stride, dilation)
    if rows:
        xp = _cl_padded(x, padding)
        sp = xp.strides[1:-1]
        strides = (
            (xp.strides[0],)
            + tuple(a * s for a, s in zip(sp, stride))
            + tuple(a * d for a, d in zip(sp, dilation))
            + (xp.strides[-1],)
        )
        win = as_strided(xp, (n, *out, *ksize, c), strides, writeable=False)
    else:
        xp = _zero_pad(x, padding)
        win = _cf_windows(xp, ksize, out, stride, dilation)
    return rows, win, None if np.may_share_memory(xp, x) else xp


def _cl_step(n: int, image_bytes: int) -> int:
    """Images per batch chunk: about _CL_CHUNK_BYTES of columns (at least one image)."""
    return max(1, min(n, _CL_CHUNK_BYTES // max(image_bytes, 1)))


def _cl_chunks(x, ksize, out, stride, padding, dilation, full=None, whole=False):
    """Yield (r0, r1, rows_first, columns) per batch chunk of x: the columns of images
    [r0 / P, r1 / P) (rows r0:r1 of the full columns matrix), in one recycled buffer.

    Built whole, the columns of a LeNet layer (3.8-5 MB) go out to DRAM and are read
    back by the product: both steps are memory bound.  A chunk of a few hundred KB stays
    in cache between its copy and its product (conv1 forward alone: 0.84 -> 0.45 ms).
    With `full` (a buffer of the whole columns' size) the chunks are written into it
    instead, in the whole matrix's layout, to be kept for the weight gradient (the
    product still reads each chunk from cache: conv1 forward in a step 0.87 -> 0.72 ms).
    With `whole` (a weight larger than a chunk, which each product would pack again) the
    batch is one chunk.
    """
    n = x.shape[0]
    p, kc = math.prod(out), x.shape[1] * math.prod(ksize)
    rows, win, xp = _cl_windows(x, ksize, out, stride, padding, dilation)
    step = n if whole else _cl_step(n, p * kc * x.dtype.itemsize)
    buf = _WS.empty((step * p * kc,), x.dtype) if full is None else None
    lead = () if rows else (slice(None),) * (1 + len(ksize))
    for n0 in range(0, n, step):
        part = win[lead + (slice(n0, n0 + step),)]
        m = part.shape[len(lead)]
        r0, r1 = n0 * p, (n0 + m) * p
        if buf is not None:
            cols = buf[: part.size].reshape(part.shape)
        elif rows:
            cols = full.reshape(n * p, kc)[r0:r1].reshape(part.shape)
        else:
            cols = full.reshape(win.shape)[lead + (slice(n0, n0 + m),)]
        np.copyto(cols, part)
        if buf is None:
            cols = full.reshape(n * p, kc)[r0:r1] if rows else full.reshape(kc, n * p)[:, r0:r1]
        else:
            cols = cols.reshape(m * p, kc) if rows else cols.reshape(kc, m * p)
        yield r0, r1, rows, cols
    if buf is not None:
        _WS.give(buf)
    if xp is not None:
        _WS.give(xp)


def _cl_matrix(y: np.ndarray) -> np.ndarray:
    """(N, C, *S) as an (N * prod(S), C) matrix: a view if stored channels-last or
    channels-first (then a transposed view, which BLAS reads as is), else a copy."""
    ycl = _to_last(y)
    if ycl.flags.c_contiguous:
        return ycl.reshape(-1, y.shape[1])
    ycf = _swap01(y)
    if ycf.flags.c_contiguous:
        return ycf.reshape(y.shape[1], -1).T
    return np.ascontiguousarray(ycl).reshape(-1, y.shape[1])


def _cl_out(y2: np.ndarray, n: int, out) -> np.ndarray:
    """(N*P, C) -> (N, C, *O) view."""
    return _from_last(y2.reshape((n, *out, y2.shape[1])))


def _cl_forward(x, w, ksize, out, stride, padding, dilation, save):
    """(y, columns kept for the weight gradient when `save`, else None)."""
    n, cout = x.shape[0], w.shape[0]
    y2 = np.empty((n * math.prod(out), cout), dtype=np.result_type(x, w))
    wr = _to_last(w).reshape(cout, -1).T  # rows-first order (K, C)
    wc = w.reshape(cout, -1).T  # columns-first order (C, K)
    # when saving, the whole columns are written for the weight gradient: rebuilding
    # them there (cache-cold in the backward pass) measured slower over a LeNet step
    np_, kc = y2.shape[0], x.shape[1] * math.prod(ksize)
    full = np.empty((np_ * kc,), x.dtype) if save else None
    whole = w.nbytes > _CL_CHUNK_BYTES
    cf = cout <= _CF_OUT_CHANNELS
    ycf = np.empty((cout, y2.shape[0]), y2.dtype) if cf else None
    for r0, r1, rows, cols in _cl_chunks(x, ksize, out, stride, padding, dilation, full, whole):
        if cf and not rows:
            np.matmul(wc.T, cols, out=ycf[:, r0:r1])
        elif cf:
            np.matmul(wr.T, cols.T, out=ycf[:, r0:r1])
        else:
            np.matmul(cols if rows else cols.T, wr if rows else wc, out=y2[r0:r1])
    if cf:
        y = _swap01(ycf.reshape((cout, n, *out)))
    saved = None
    if full is not None:
        rows = _cl_rows_first(x.shape[1], ksize, out, stride, dilation)
        saved = ("cl", full.reshape((np_, kc) if rows else (kc, np_)))
    return (y if cf else _cl_out(y2, n, out)), saved


def _dot_long(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a long inner dimension and a small result (a first layer's dW): OpenBLAS
    runs these at half speed in one call; _DW_CHUNK-long slices, summed, are 2x faster."""
    k = a.shape[1]
    if k <= 2 * _DW_CHUNK or a.shape[0] * b.shape[1] > 1 << 16:
        return np.matmul(a, b)
    acc = np.matmul(a[:, :_DW_CHUNK], b[:_DW_CHUNK])
    for i in range(_DW_CHUNK, k, _DW_CHUNK):
        acc += np.matmul(a[:, i : i + _DW_CHUNK], b[i : i + _DW_CHUNK])
    return acc


def _owned_weight(dw: np.ndarray, dtype) -> np.ndarray:
    """dw as a fresh C-contiguous array that owns its memory (the backward would copy a view
    once more before making it .grad)."""
    out = np.empty(dw.shape, dtype)
    np.copyto(out, dw)
    return out


def _cl_weight_grad(x, y, ksize, stride, padding, dilation, saved) -> np.ndarray:
    """g^T @ columns: from the forward pass's saved columns if any, else summed over
    batch chunks of the columns, rebuilt per chunk (in cache)."""
    out, (cout, cin) = y.shape[2:], (y.shape[1], x.shape[1])
    g = _cl_matrix(y)
    dt = np.result_type(x, y)
    if saved is not None:
        cols = saved[1]
        if cols.shape[0] == g.shape[0]:  # rows first: (N*P, K*C)
            dw = _dot_long(g.T, cols).reshape((cout, *ksize, cin))
            dw = _owned_weight(_from_last(dw), dt)
        else:
            dw = np.empty((cout, cin) + ksize, dt)
            np.copyto(dw.reshape(cout, -1), _dot_long(cols, g).T)
        return dw  # the saved columns stay with the graph node (a second backward reads them)
    rows = _cl_rows_first(cin, ksize, out, stride, dilation)
    acc = np.zeros((cout, cin * math.prod(ksize)), dtype=np.result_type(g, x))
    for r0, r1, _, cols in _cl_chunks(x, ksize, out, stride, padding, dilation):
        acc += np.matmul(g[r0:r1].T, cols) if rows else np.matmul(cols, g[r0:r1]).T
    if rows:  # (C_out, K*C)
        dw = acc.reshape((cout, *ksize, cin))
        return _owned_weight(_from_last(dw), dt)
    dw = np.empty((cout, cin) + ksize, dt)
    np.copyto(dw.reshape(cout, -1), acc)
    return dw


def _col2im_cl(block, n, cin, size, ksize, out, stride, padding, dilation, dtype):
    """Adjoint of the channels-last im2col: dx (N, *size, C_in) += block(j, k), the
    (N, *O, C_in) column gradients of kernel offset k (flat index j), each added to the
    input positions it covers; the padding's positions are skipped instead of added into
    a padded buffer and cropped, so dx is one C-contiguous channels-last array (a cropped
    view made every later elementwise pass on it mix strides)."""
    dx = np.zeros((n, *size, cin), dtype=dtype)
    for j, k in enumerate(itertools.product(*(range(f) for f in ksize))):
        src, dst = [], []
        for ki, d, s, o, lo, m in zip(k, dilation, stride, out, (p[0] for p in padding), size):
            off = ki * d - lo  # input index of output position 0
            o0 = max(0, -(off // s)) if off < 0 else 0
            o1 = min(o, (m - 1 - off) // s + 1)
            if o1 <= o0:
                break
            src.append(slice(o0, o1))
            dst.append(slice(o0 * s + off, (o1 - 1) * s + off + 1, s))
        else:
            b = block(j, k)
            dx[(slice(None), *dst)] += b[(slice(None), *src)]
    return _from_last(dx)


def _cl_input_grad_gemm(y, w, size, stride, padding, dilation) -> np.ndarray:
    """conv_transpose channels-last as ONE product over the batch, g (N*P, C_out) @
    w (C_out, K*C_in) -> column gradients (N, *O, *K, C_in), then col2im: one strided add
    per kernel offset into a channels-last (N, *padded, C_in) buffer (runs of C_in)."""
    n, cout, cin, ksize, out = y.shape[0], w.shape[0], w.shape[1], w.shape[2:], y.shape[2:]
    g = _cl_matrix(y)
    wm = _to_last(w).reshape(cout, -1)  # (C_out, K*C_in), a copy
    kk = math.prod(ksize)
    cols = _WS.empty((g.shape[0], kk * cin), np.result_type(g, wm))
    np.matmul(g, wm, out=cols)
    cols = cols.reshape((n, *out, kk, cin))
    lead = (slice(None),) * (1 + len(out))
    dx = _col2im_cl(lambda j, k: cols[lead + (j,)], n, cin, size, ksize, out, stride,
                    padding, dilation, cols.dtype)  # fmt: skip
    _WS.give(cols)
    return dx


def _cl_input_grad(y, w, size, stride, padding, dilation) -> np.ndarray:
    if w.shape[1] >= _CL_DX_GEMM_MIN_CIN:
        return _cl_input_grad_gemm(y, w, size, stride, padding, dilation)
    n, cout, cin, ksize, out = y.shape[0], w.shape[0], w.shape[1], w.shape[2:], y.shape[2:]
    g = _cl_matrix(y)
    kk = math.prod(ksize)
    wk = np.ascontiguousarray(w.reshape(cout, cin, kk).transpose(2, 0, 1))
    if kk == 1 and not any(lo or hi for lo, hi in padding) and all(s == 1 for s in stride):
        return _cl_out(np.matmul(g, wk[0]), n, out)
    if _use_flat(size, out, stride, padding):
        # one (C_in*K, C_out) @ (C_out, N*padded) product and K contiguous adds beat the
        # K small products (N*P, C_out) @ (C_out, C_in) and strided adds below (conv2 of
        # LeNet: 1.33 -> 1.0 ms); the result stays channels-first, where the max pool
        # before this layer (few channels) routes it fastest
        return _swap01(_flat_input_grad(y, w, 1, size, padding, dilation))
    cols = np.matmul(g, wk, out=_WS.empty((kk, g.shape[0], cin), np.result_type(g, wk)))
    cols = cols.reshape((kk, n, *out, cin))
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    xp = np.zeros((n, *spad, cin), dtype=cols.dtype)
    for j, k in enumerate(itertools.product(*(range(f) for f in ksize))):
        idx = tuple(
            slice(ki * d, ki * d + s * (o - 1) + 1, s)
            for ki, d, s, o in zip(k, dilation, stride, out)
        )
        xp[(slice(None),) + idx] += cols[j]
    _WS.give(cols)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return _from_last(xp[(slice(None),) + crop])


# --- rows in the weight's (C, K) order (groups == 1, small outputs) ---------------------------
#
# Columns (N * prod(O), C * prod(K)) in the weight's own order, so the forward, the input
# gradient and the weight gradient are each one product with w.reshape(C_out, -1) (or its
# transposed view) and no permutation of a large weight (9 MB for 512 x 512 x 3 x 3).  The
# copies run K_last values long, cheap only while the output is small (the last ResNet
# stages); col2im adds into a channels-last buffer (runs of C_in values), where the
# channels-first one would run prod(O) <= 4 values (0.1 ms per 16k-value add).


def _ck_windows(x, ksize, out, stride, padding, dilation):
    """((N, *O, C, *K) strided view of the zero-padded x, the padded copy or None)."""
    xp = _zero_pad(x, padding)
    st, sp = xp.strides, xp.strides[2:]
    strides = (
        (st[0],)
        + tuple(a * s for a, s in zip(sp, stride))
        + (st[1],)
        + tuple(a * d for a, d in zip(sp, dilation))
    )
    win = as_strided(xp, (x.shape[0], *out, x.shape[1], *ksize), strides, writeable=False)
    return win, (None if xp is x else xp)


def _ck_cols(x, ksize, out, stride, padding, dilation) -> np.ndarray:
    win, xp = _ck_windows(x, ksize, out, stride, padding, dilation)
    cols = _copy_to_ws(win)
    if xp is not None:
        _WS.give(xp)
    return cols.reshape(x.shape[0] * math.prod(out), -1)


def _ck_forward(x, w, ksize, out, stride, padding, dilation, save):
    cols = _ck_cols(x, ksize, out, stride, padding, dilation)
    # w @ cols^T (C_out, N*P), channels-first: OpenBLAS runs this orientation of the
    # product up to 2x faster than cols @ w^T when N*P is small (512 x 4608 x 32: 1.4 ms
    # against 2.6)
    y = np.matmul(w.reshape(w.shape[0], -1), cols.T).reshape((w.shape[0], x.shape[0], *out))
    if not save:
        _WS.give(cols)
    return _swap01(y), (("ck", cols) if save else None)


def _ck_input_grad(y, w, size, stride, padding, dilation) -> np.ndarray:
    n, cin, ksize, out = y.shape[0], w.shape[1], w.shape[2:], y.shape[2:]
    g = _cl_matrix(y)
    cols = _WS.empty((g.shape[0], w[0].size), np.result_type(g, w))
    np.matmul(g, w.reshape(w.shape[0], -1), out=cols)
    cols = cols.reshape((n, *out, cin, *ksize))
    lead = (slice(None),) * (2 + len(out))
    dx = _col2im_cl(lambda j, k: cols[lead + k], n, cin, size, ksize, out, stride, padding,
                    dilation, cols.dtype)  # fmt: skip
    _WS.give(cols)
    return dx


def _ck_weight_grad(x, y, ksize, stride, padding, dilation, saved) -> np.ndarray:
    cols = (
        saved[1]
        if saved is not None
        else _ck_cols(x, ksize, y.shape[2:], stride, padding, dilation)
    )
    g = _cl_matrix(y)
    # written into its final array: a reshaped product would be a view, which the
    # backward copies once more before it becomes .grad (9 MB for 512 x 512 x 3 x 3)
    dw = np.empty((y.shape[1], x.shape[1]) + tuple(ksize), np.result_type(g, cols))
    np.matmul(g.T, cols, out=dw.reshape(y.shape[1], -1))
    if saved is None:
        _WS.give(cols)
    return dw.astype(np.result_type(x, y), copy=False)
