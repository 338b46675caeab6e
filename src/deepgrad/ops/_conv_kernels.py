"""NumPy kernels behind the convolution primitives (no autodiff here).

Two kernel families, chosen per layer by its output width (`_use_cl`):

* channels-last (groups 1, at most `_CL_MAX_CHANNELS` outputs: LeNet-sized layers):
  the product is (N * prod(O), K * C) columns @ (K * C, C_out), giving an output
  stored channels-last, from which the next layer's windows (N, *O, *K, C) copy runs of
  K_last * C values.  Inputs with few channels take (C * K, N * prod(O)) columns
  instead (runs of O_last values) through a transposed view.  The columns are built a
  batch chunk at a time (`_cl_chunks`, a few hundred KB: cache resident between the
  copy and the product).  The input gradient takes the flat route below (stride 1) and
  is copied back to channels-last, else one product per kernel offset (a batched
  matmul) added into a channels-last buffer.
* channels-first (wide layers, groups): im2col columns (C * prod(K), N * prod(O)),
  either strided (any stride) or "flat" (stride 1: the padded input is flattened per
  channel to one long row, each kernel offset's block is one contiguous copy, the product
  runs over every padded position and the output is cropped; col2im is prod(K)
  contiguous adds).  Outputs are (N, C, *S) views of (C, N, *S) buffers.

When asked (`save=True`, i.e. while a graph is recorded), the forward returns its
columns; the conv primitive keeps them on its graph node for the weight gradient.
The large temporaries (columns, padded copies) are recycled through `_Workspace`: a fresh
multi-megabyte array is an mmap whose pages the kernel faults in on first touch, which
on the LeNet step cost as much as the matrix products.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

# Columns per batch chunk of the flat dW product: OpenBLAS is slow on products with a
# very long inner dimension and tiny outer ones (dW of a first layer); chunks help.
_DW_CHUNK = 4096
# The flat path computes prod(padded) / prod(out) times the needed columns; past this
# ratio the strided path is cheaper.
_FLAT_MAX_RATIO = 2.5
# Channels-last kernels for layers with at most this many output channels (LeNet-sized
# layers: measured faster there); wider layers (ResNet) measured faster channels-first.
_CL_MAX_CHANNELS = 32
_CL_MAX_WEIGHTS = 256 * 256 * 9
_CL_DX_GEMM_MIN_CIN = 16
# Rows in the weight's order for wider layers with at most this many output positions.
_CK_MAX_OUT = 64
_FORCE = None  # a family name forces it (benchmarks and tests of the families)
# Bytes of columns per batch chunk of the channels-last kernels (see `_cl_chunks`):
# cache resident; measured on the LeNet layers (4-8 images of 60-80 KB).
_CL_CHUNK_BYTES = 640 << 10


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


class _Workspace:
    """Recycled scratch arrays for the large temporaries (columns, padded copies).

    A fresh multi-megabyte array is a fresh mmap whose pages the kernel faults in and
    zeroes on first touch; on the LeNet step that cost more than the products.  Buffers
    that never escape a kernel are handed back here and reused by the next call of the
    same size.  Bounded in bytes; taking is a dict pop, atomic under the GIL.
    """

    def __init__(self, max_bytes: int = 128 << 20, min_bytes: int = 1 << 16) -> None:
        self.free: dict = {}
        self.nbytes, self.max_bytes, self.min_bytes = 0, max_bytes, min_bytes

    def empty(self, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        stack = self.free.get((math.prod(shape) * dtype.itemsize, dtype.str))
        if stack:
            try:
                buf = stack.pop()
            except IndexError:
                return np.empty(shape, dtype)
            self.nbytes -= buf.nbytes
            return buf.reshape(shape)
        return np.empty(shape, dtype)

    def zeros(self, shape, dtype) -> np.ndarray:
        buf = self.empty(shape, dtype)
        buf.fill(0)
        return buf

    def give(self, buf: np.ndarray) -> None:
        """Hand back a buffer (or a view of one) that nothing else references."""
        while isinstance(buf.base, np.ndarray):
            buf = buf.base
        if buf.base is not None or buf.nbytes < self.min_bytes or not buf.flags.c_contiguous:
            return
        if self.nbytes + buf.nbytes > self.max_bytes:
            return
        stack = self.free.setdefault((buf.nbytes, buf.dtype.str), [])
        if len(stack) < 4:
            stack.append(buf.reshape(-1))
            self.nbytes += buf.nbytes


_WS = _Workspace()


def _copy_to_ws(view: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `view` in a workspace buffer."""
    out = _WS.empty(view.shape, view.dtype)
    np.copyto(out, view)
    return out


def out_shape(spatial, ksize, stride, padding, dilation) -> tuple[int, ...]:
    """floor((N + P - D(F-1) - 1)/S) + 1 per spatial dim."""
    return tuple(
        (n + lo + hi - d * (k - 1) - 1) // s + 1
        for n, k, s, (lo, hi), d in zip(spatial, ksize, stride, padding, dilation)
    )


def _use_flat(spatial, out, stride, padding) -> bool:
    if any(s != 1 for s in stride):
        return False
    padded = math.prod(n + lo + hi for n, (lo, hi) in zip(spatial, padding))
    return padded <= _FLAT_MAX_RATIO * max(math.prod(out), 1)


def _grouped_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b over a leading group axis (a plain 2-d product when there is one group)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0])[None]
    return np.matmul(a, b)


def _matmul_nt(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = a @ b^T over a leading group axis, for a long inner dimension (weight gradients).

    OpenBLAS is slow on a long inner dimension with tiny outer ones (dW of a first layer):
    small products are computed transposed (b @ a^T) and, past 4 chunks, chunk by chunk.
    `out` is written in place so the weight gradient owns its memory (no copy later).
    """
    k = a.shape[-1]
    if a.shape[1] * b.shape[1] > 1 << 16:
        return np.matmul(a, np.swapaxes(b, 1, 2), out=out)
    step = _DW_CHUNK if k > 4 * _DW_CHUNK else max(k, 1)
    acc = np.zeros((b.shape[0], b.shape[1], a.shape[1]), dtype=out.dtype)
    for i in range(0, k, step):
        acc += np.matmul(b[..., i : i + step], np.swapaxes(a[..., i : i + step], 1, 2))
    np.copyto(out, np.swapaxes(acc, 1, 2))
    return out


def _channels_first(y: np.ndarray) -> np.ndarray:
    """(N, C, *S) -> (C, N, *S); a free view when y is stored channels-first."""
    return np.moveaxis(y, 1, 0)


# --- strided layout (any stride) ---------------------------------------------------------


def _zero_pad(x: np.ndarray, padding) -> np.ndarray:
    if not any(lo or hi for lo, hi in padding):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
    xp = _WS.zeros(shape, x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))
    xp[(slice(None), slice(None)) + inner] = x
    return xp


def _cf_windows(xp, ksize, out, stride, dilation) -> np.ndarray:
    """The (C, *K, N, *O) strided view of padded xp whose copy is the im2col columns."""
    st, sp = xp.strides, xp.strides[2:]
    strides = (
        (st[1],)
        + tuple(a * d for a, d in zip(sp, dilation))
        + (st[0],)
        + tuple(a * s for a, s in zip(sp, stride))
    )
    return as_strided(xp, (xp.shape[1], *ksize, xp.shape[0], *out), strides, writeable=False)


def _im2col(x, ksize, out, stride, padding, dilation) -> np.ndarray:
    """Columns (C * prod(K), N * prod(O)) of x's zero-padded windows at `out` positions."""
    n, c = x.shape[:2]
    xp = _zero_pad(x, padding)
    cols = _copy_to_ws(_cf_windows(xp, ksize, out, stride, dilation))
    if xp is not x:
        _WS.give(xp)
    return cols.reshape(c * math.prod(ksize), n * math.prod(out))


def _col2im(cols, shape, ksize, out, stride, padding, dilation) -> np.ndarray:
    """Adjoint of im2col: add each kernel offset's columns into a (C, N, *S) buffer."""
    n, c = shape[:2]
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(shape[2:], padding))
    xp = np.zeros((c, n) + spad, dtype=cols.dtype)
    cols = cols.reshape((c, *ksize, n, *out))
    for k in itertools.product(*(range(f) for f in ksize)):
        idx = tuple(
            slice(ki * d, ki * d + s * (o - 1) + 1, s)
            for ki, d, s, o in zip(k, dilation, stride, out)
        )
        xp[(slice(None), slice(None)) + idx] += cols[(slice(None),) + k]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(shape[2:], padding))
    return xp[(slice(None), slice(None)) + crop]


# --- flat layout (stride 1) ----------------------------------------------------------------


def _flat_offsets(spad, ksize, dilation) -> list[int]:
    """Shift of the flattened padded row for each kernel offset."""
    st = [math.prod(spad[i + 1 :]) for i in range(len(spad))]
    return [
        sum(ki * d * s for ki, d, s in zip(k, dilation, st))
        for k in itertools.product(*(range(f) for f in ksize))
    ]


def _flat_input(x, padding, slack) -> tuple[np.ndarray, tuple[int, ...]]:
    """x zero-padded, channels-first, flattened to (C, N * prod(padded) + slack)."""
    n, c = x.shape[:2]
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    length = n * math.prod(spad)
    buf = _WS.zeros((c, length + slack), x.dtype)
    view = buf[:, :length].reshape((c, n) + spad)
    inner = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x.shape[2:], padding))
    view[(slice(None), slice(None)) + inner] = _channels_first(x)
    return buf, spad


def _flat_cols(x, ksize, padding, dilation) -> tuple[np.ndarray, tuple[int, ...]]:
    """Columns (C * prod(K), N * prod(padded)): one contiguous copy per kernel offset."""
    n, c = x.shape[:2]
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], padding))
    offs = _flat_offsets(spad, ksize, dilation)
    buf, spad = _flat_input(x, padding, max(offs))
    length = n * math.prod(spad)
    # rows padded past a power-of-two length: such a row stride makes the product's
    # reads alias in cache (2x slower on the first LeNet layer, 64 x 32 x 32 columns)
    cols = _WS.empty((c, len(offs), length + _row_pad(length)), x.dtype)
    for j, s in enumerate(offs):
        cols[:, j, :length] = buf[:, s : s + length]
    _WS.give(buf)
    return cols.reshape(c * len(offs), -1)[:, :length], spad


def _row_pad(length: int) -> int:
    return 16 if length >= 1024 and length & (length - 1) == 0 else 0


def _extend(y: np.ndarray, spad) -> np.ndarray:
    """(N, C, *O) -> channels-first (C, N * prod(padded)) with zeros past O."""
    n, c = y.shape[:2]
    ext = _WS.zeros((c, n) + tuple(spad), y.dtype)
    ext[(slice(None), slice(None)) + tuple(slice(0, o) for o in y.shape[2:])] = _channels_first(y)
    return ext.reshape(c, -1)


# --- reuse of the forward's columns ----------------------------------------------------------


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
    xcl = np.moveaxis(x, 1, -1)
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
    ycl = np.moveaxis(y, 1, -1)
    if ycl.flags.c_contiguous:
        return ycl.reshape(-1, y.shape[1])
    ycf = np.moveaxis(y, 1, 0)
    if ycf.flags.c_contiguous:
        return ycf.reshape(y.shape[1], -1).T
    return np.ascontiguousarray(ycl).reshape(-1, y.shape[1])


def _cl_out(y2: np.ndarray, n: int, out) -> np.ndarray:
    """(N*P, C) -> (N, C, *O) view."""
    return np.moveaxis(y2.reshape((n, *out, y2.shape[1])), -1, 1)


def _cl_forward(x, w, ksize, out, stride, padding, dilation, save):
    """(y, columns kept for the weight gradient when `save`, else None)."""
    n, cout = x.shape[0], w.shape[0]
    y2 = np.empty((n * math.prod(out), cout), dtype=np.result_type(x, w))
    wr = np.moveaxis(w, 1, -1).reshape(cout, -1).T  # rows-first order (K, C)
    wc = w.reshape(cout, -1).T  # columns-first order (C, K)
    # when saving, the whole columns are written for the weight gradient: rebuilding
    # them there (cache-cold in the backward pass) measured slower over a LeNet step
    np_, kc = y2.shape[0], x.shape[1] * math.prod(ksize)
    full = np.empty((np_ * kc,), x.dtype) if save else None
    whole = w.nbytes > _CL_CHUNK_BYTES
    for r0, r1, rows, cols in _cl_chunks(x, ksize, out, stride, padding, dilation, full, whole):
        np.matmul(cols if rows else cols.T, wr if rows else wc, out=y2[r0:r1])
    saved = None
    if full is not None:
        rows = _cl_rows_first(x.shape[1], ksize, out, stride, dilation)
        saved = ("cl", full.reshape((np_, kc) if rows else (kc, np_)))
    return _cl_out(y2, n, out), saved


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
            dw = _owned_weight(np.moveaxis(dw, -1, 1), dt)
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
        return _owned_weight(np.moveaxis(dw, -1, 1), dt)
    dw = np.empty((cout, cin) + ksize, dt)
    np.copyto(dw.reshape(cout, -1), acc)
    return dw


def _cl_input_grad_gemm(y, w, size, stride, padding, dilation) -> np.ndarray:
    """conv_transpose channels-last as ONE product over the batch, g (N*P, C_out) @
    w (C_out, K*C_in) -> column gradients (N, *O, *K, C_in), then col2im: one strided add
    per kernel offset into a channels-last (N, *padded, C_in) buffer (runs of C_in)."""
    n, cout, cin, ksize, out = y.shape[0], w.shape[0], w.shape[1], w.shape[2:], y.shape[2:]
    g = _cl_matrix(y)
    wm = np.moveaxis(w, 1, -1).reshape(cout, -1)  # (C_out, K*C_in), a copy
    kk = math.prod(ksize)
    cols = _WS.empty((g.shape[0], kk * cin), np.result_type(g, wm))
    np.matmul(g, wm, out=cols)
    cols = cols.reshape((n, *out, kk, cin))
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    xp = np.zeros((n, *spad, cin), dtype=cols.dtype)
    nd = len(ksize)
    for j, k in enumerate(itertools.product(*(range(f) for f in ksize))):
        idx = tuple(
            slice(ki * d, ki * d + s * (o - 1) + 1, s)
            for ki, d, s, o in zip(k, dilation, stride, out)
        )
        xp[(slice(None),) + idx] += cols[(slice(None),) * (1 + nd) + (j,)]
    _WS.give(cols)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return np.moveaxis(xp[(slice(None),) + crop], -1, 1)


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
        # LeNet: 1.33 -> 1.0 ms); the result is copied back to channels-last (the layout
        # the pooling before this layer reads fastest)
        xp = _flat_input_grad(y, w, 1, size, padding, dilation, scratch=True)
        dx = np.ascontiguousarray(np.moveaxis(xp, 0, -1))
        _WS.give(xp)
        return np.moveaxis(dx, -1, 1)
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
    return np.moveaxis(xp[(slice(None),) + crop], -1, 1)


def _flat_input_grad(y, w, groups, size, padding, dilation, scratch=False) -> np.ndarray:
    """conv_transpose for stride 1 in the flat layout, as a (C_in, N, *size) view: one
    product over every padded position, then prod(K) contiguous adds (col2im).  With
    `scratch` the result's buffer comes from the workspace (the caller copies it out and
    hands it back)."""
    n, cout, ksize = y.shape[0], w.shape[0], w.shape[2:]
    cin = w.shape[1] * groups
    wt = w.reshape(groups, cout // groups, -1).transpose(0, 2, 1)
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    offs = _flat_offsets(spad, ksize, dilation)
    ext = _extend(y, spad)
    length = ext.shape[1]
    cols = _WS.empty((groups, cin // groups * len(offs), length), ext.dtype)
    np.matmul(wt, ext.reshape(groups, cout // groups, length), out=cols)
    _WS.give(ext)
    cols = cols.reshape(cin, len(offs), length)
    shape = (cin, length + max(offs))
    buf = _WS.zeros(shape, cols.dtype) if scratch else np.zeros(shape, cols.dtype)
    for j, s in enumerate(offs):
        buf[:, s : s + length] += cols[:, j]
    _WS.give(cols)
    xp = buf[:, :length].reshape((cin, n) + spad)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return xp[(slice(None), slice(None)) + crop]


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
    return np.moveaxis(y, 0, 1), (("ck", cols) if save else None)


def _ck_input_grad(y, w, size, stride, padding, dilation) -> np.ndarray:
    n, cin, ksize, out = y.shape[0], w.shape[1], w.shape[2:], y.shape[2:]
    g = _cl_matrix(y)
    cols = _WS.empty((g.shape[0], w[0].size), np.result_type(g, w))
    np.matmul(g, w.reshape(w.shape[0], -1), out=cols)
    cols = cols.reshape((n, *out, cin, *ksize))
    spad = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
    xp = np.zeros((n, *spad, cin), dtype=cols.dtype)
    lead = (slice(None),) * (2 + len(out))
    for k in itertools.product(*(range(f) for f in ksize)):
        idx = tuple(
            slice(ki * d, ki * d + s * (o - 1) + 1, s)
            for ki, d, s, o in zip(k, dilation, stride, out)
        )
        xp[(slice(None),) + idx] += cols[lead + k]
    _WS.give(cols)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
    return np.moveaxis(xp[(slice(None),) + crop], -1, 1)


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


# --- the three kernels -----------------------------------------------------------------------


def conv_forward(x, w, stride, padding, dilation, groups, save=False):
    """(y, saved): y = conv(x, w) as an (N, C_out, *O) view (channels-last or -first
    memory); with `save`, the columns the weight gradient needs (else None)."""
    n, cout, ksize = x.shape[0], w.shape[0], w.shape[2:]
    out = out_shape(x.shape[2:], ksize, stride, padding, dilation)
    family = _family(cout, groups, w.size, out)
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
    return np.moveaxis(y, 0, 1), saved


def conv_input_grad(y, w, stride, padding, dilation, groups, size) -> np.ndarray:
    """x = conv_transpose(y, w) of spatial `size`, as an (N, C_in, *size) view."""
    family = _family(w.shape[0], groups, w.size, y.shape[2:])
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
    return np.moveaxis(xp, 0, 1)


def conv_weight_grad(x, y, stride, padding, dilation, groups, ksize, saved=None) -> np.ndarray:
    """dw[o, c, k] = sum_{n, p} y[n, o, p] x_pad[n, c, s p + d k], shape (C_out, C_in/G, *K).

    `saved` is what `conv_forward(x, ..., save=True)` returned: the columns of x,
    which are then not built again."""
    cout, cin = y.shape[1], x.shape[1]
    ksize = tuple(ksize)
    family = _family(cout, groups, cout * cin // groups * math.prod(ksize), y.shape[2:])
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
    return np.moveaxis(x, 1, -1).flags.c_contiguous or np.moveaxis(x, 1, 0).flags.c_contiguous
