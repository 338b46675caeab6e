"""NumPy kernels behind the convolution primitives (no autodiff here).

Two ways to lay the input's windows out as columns for one BLAS product:

* strided (any stride): a strided view of the zero-padded input, shape
  (C, *K, N, *O), copied into one contiguous buffer (im2col).
* flat (stride 1): the padded input is flattened per channel to one long row
  (N * prod(padded spatial) values); the window at kernel offset k is then the
  same row shifted by a constant, so each of the prod(K) column blocks is one
  contiguous copy, and col2im is prod(K) contiguous adds.  The product is
  computed at every padded position and the output cropped (a view); the
  gradient is zero-extended to the padded positions so the extra columns
  contribute nothing.  This is the fast path for the usual stride-1 layers.

Outputs come back as (N, C, *S) views of (C, N, *S) buffers: channels-first is
the order both layouts read and write fastest, and the next im2col reads it
without a transpose.
"""

from __future__ import annotations

import itertools
import math
import weakref
from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..core.state import STATE

# Columns per batch chunk of the flat dW product: OpenBLAS is slow on products with a
# very long inner dimension and tiny outer ones (dW of a first layer); chunks help.
_DW_CHUNK = 4096
# The flat path computes prod(padded) / prod(out) times the needed columns; past this
# ratio the strided path is cheaper.
_FLAT_MAX_RATIO = 2.5


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
    xp = np.zeros(shape, dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))
    xp[(slice(None), slice(None)) + inner] = x
    return xp


def _im2col(x, ksize, out, stride, padding, dilation) -> np.ndarray:
    """Columns (C * prod(K), N * prod(O)) of x's zero-padded windows at `out` positions."""
    n, c = x.shape[:2]
    xp = _zero_pad(x, padding)
    st, sp = xp.strides, xp.strides[2:]
    shape = (c, *ksize, n, *out)
    strides = (
        (st[1],)
        + tuple(a * d for a, d in zip(sp, dilation))
        + (st[0],)
        + tuple(a * s for a, s in zip(sp, stride))
    )
    cols = np.ascontiguousarray(as_strided(xp, shape, strides, writeable=False))
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
    buf = np.zeros((c, length + slack), dtype=x.dtype)
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
    cols = np.empty((c, len(offs), length), dtype=x.dtype)
    for j, s in enumerate(offs):
        cols[:, j] = buf[:, s : s + length]
    return cols.reshape(c * len(offs), length), spad


def _extend(y: np.ndarray, spad) -> np.ndarray:
    """(N, C, *O) -> channels-first (C, N * prod(padded)) with zeros past O."""
    n, c = y.shape[:2]
    ext = np.zeros((c, n) + tuple(spad), dtype=y.dtype)
    ext[(slice(None), slice(None)) + tuple(slice(0, o) for o in y.shape[2:])] = _channels_first(y)
    return ext.reshape(c, -1)


# --- reuse of the forward's columns ----------------------------------------------------------


class _ColsCache:
    """The forward pass's columns of an input, kept for that input's weight gradient.

    A training step builds the same columns twice (conv forward, then dW in the backward
    pass); keeping them saves one im2col per layer.  Entries are only made while a graph is
    recorded, are used once, are bounded in count and bytes, and are checked on use: same
    array object (weak reference), same geometry, same sampled values (an input changed in
    place in between is recomputed).
    """

    def __init__(self, max_entries: int = 64, max_bytes: int = 256 << 20) -> None:
        self.entries: OrderedDict = OrderedDict()
        self.max_entries, self.max_bytes, self.nbytes = max_entries, max_bytes, 0

    @staticmethod
    def _key(x, geo):
        return (id(x), x.shape, x.strides, x.dtype.str, *geo)

    @staticmethod
    def _sample(x) -> bytes:
        return np.asarray(x.flat[:: max(1, x.size // 61)]).tobytes()

    def put(self, x, geo, value) -> None:
        if not STATE.grad:
            return
        key = self._key(x, geo)
        self._drop(key)
        size = sum(a.nbytes for a in value if isinstance(a, np.ndarray))
        self.entries[key] = (weakref.ref(x), self._sample(x), value, size)
        self.nbytes += size
        while self.entries and (
            len(self.entries) > self.max_entries or self.nbytes > self.max_bytes
        ):
            self._drop(next(iter(self.entries)))

    def take(self, x, geo):
        key = self._key(x, geo)
        entry = self.entries.get(key)
        if entry is None:
            return None
        self._drop(key)
        ref, sample, value, _ = entry
        if ref() is not x or sample != self._sample(x):
            return None
        return value

    def _drop(self, key) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.nbytes -= entry[3]


_CACHE = _ColsCache()


# --- the three kernels -----------------------------------------------------------------------


def conv_forward(x, w, stride, padding, dilation, groups) -> np.ndarray:
    """y = conv(x, w) as an (N, C_out, *O) view of a channels-first buffer."""
    n, cout, ksize = x.shape[0], w.shape[0], w.shape[2:]
    out = out_shape(x.shape[2:], ksize, stride, padding, dilation)
    wg = w.reshape(groups, cout // groups, -1)
    if _use_flat(x.shape[2:], out, stride, padding):
        cols, spad = _flat_cols(x, ksize, padding, dilation)
        _CACHE.put(x, ("flat", ksize, padding, dilation), (cols, spad))
        y = _grouped_matmul(wg, cols.reshape(groups, -1, cols.shape[1]))
        y = y.reshape((cout, n) + spad)[
            (slice(None), slice(None)) + tuple(slice(0, o) for o in out)
        ]
    else:
        cols = _im2col(x, ksize, out, stride, padding, dilation)
        _CACHE.put(x, ("strided", ksize, out, stride, padding, dilation), (cols,))
        y = _grouped_matmul(wg, cols.reshape(groups, -1, cols.shape[1])).reshape((cout, n) + out)
    return np.moveaxis(y, 0, 1)


def conv_input_grad(y, w, stride, padding, dilation, groups, size) -> np.ndarray:
    """x = conv_transpose(y, w) of spatial `size`, as an (N, C_in, *size) view."""
    n, cout, ksize = y.shape[0], w.shape[0], w.shape[2:]
    cin = w.shape[1] * groups
    wt = w.reshape(groups, cout // groups, -1).transpose(0, 2, 1)
    if _use_flat(size, y.shape[2:], stride, padding):
        spad = tuple(s + lo + hi for s, (lo, hi) in zip(size, padding))
        offs = _flat_offsets(spad, ksize, dilation)
        ext = _extend(y, spad)
        cols = _grouped_matmul(wt, ext.reshape(groups, -1, ext.shape[1]))
        length = ext.shape[1]
        cols = cols.reshape(cin, len(offs), length)
        buf = np.zeros((cin, length + max(offs)), dtype=cols.dtype)
        for j, s in enumerate(offs):
            buf[:, s : s + length] += cols[:, j]
        xp = buf[:, :length].reshape((cin, n) + spad)
        crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(size, padding))
        xp = xp[(slice(None), slice(None)) + crop]
    else:
        yc = _channels_first(y).reshape(groups, cout // groups, -1)
        cols = _grouped_matmul(wt, yc)
        xp = _col2im(cols, (n, cin) + tuple(size), ksize, y.shape[2:], stride, padding, dilation)
    return np.moveaxis(xp, 0, 1)


def conv_weight_grad(x, y, stride, padding, dilation, groups, ksize) -> np.ndarray:
    """dw[o, c, k] = sum_{n, p} y[n, o, p] x_pad[n, c, s p + d k], shape (C_out, C_in/G, *K)."""
    cout, cin = y.shape[1], x.shape[1]
    ksize = tuple(ksize)
    if _use_flat(x.shape[2:], y.shape[2:], stride, padding):
        hit = _CACHE.take(x, ("flat", ksize, padding, dilation))
        cols, spad = hit if hit is not None else _flat_cols(x, ksize, padding, dilation)
        yc = _extend(y, spad)
    else:
        geo = ("strided", ksize, y.shape[2:], stride, padding, dilation)
        hit = _CACHE.take(x, geo)
        cols = (
            hit[0] if hit is not None else _im2col(x, ksize, y.shape[2:], stride, padding, dilation)
        )
        yc = _channels_first(y).reshape(cout, -1)
    dw = np.empty((cout, cin // groups) + ksize, dtype=np.result_type(x, y))
    a, b = yc.reshape(groups, cout // groups, -1), cols.reshape(groups, -1, cols.shape[1])
    _matmul_nt(a, b, dw.reshape(groups, cout // groups, -1))
    return dw
