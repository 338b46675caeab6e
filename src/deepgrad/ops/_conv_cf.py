"""Convolution kernels, part 1: the scratch workspace and the channels-first family.

im2col columns (C * prod(K), N * prod(O)), either strided (any stride) or "flat"
(stride 1: the padded input is flattened per channel to one long row, each kernel
offset's block is one contiguous copy, the product runs over every padded position and
the output is cropped; col2im is prod(K) contiguous adds).  Outputs are (N, C, *S) views
of (C, N, *S) buffers.  Grouped convolutions always take this family.

The large temporaries (columns, padded copies) are recycled through `_Workspace`: a fresh
multi-megabyte array is an mmap whose pages the kernel faults in on first touch, which
on the LeNet step cost as much as the matrix products.  `_conv_kernels` chooses the
family per layer.
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


def _to_last(x: np.ndarray) -> np.ndarray:
    """(N, C, *S) -> (N, *S, C) view (np.moveaxis's checks cost 7 us a call; these views
    are taken about 450 times per ResNet-18 step)."""
    return x.transpose((0, *range(2, x.ndim), 1))


def _from_last(x: np.ndarray) -> np.ndarray:
    """(N, *S, C) -> (N, C, *S) view."""
    return x.transpose((0, x.ndim - 1, *range(1, x.ndim - 1)))


def _swap01(x: np.ndarray) -> np.ndarray:
    """Axes 0 and 1 exchanged: (N, C, *S) <-> (C, N, *S) view."""
    return x.transpose((1, 0, *range(2, x.ndim)))


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
    return _swap01(y)


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
