"""NumPy kernels of the pooling primitives (`ops/pool.py`): output sizes, padding, the
offset walk over kernel windows, the memory-order helpers and the max-pool fast paths.

Forwards walk the kernel offsets (one strided slice of the padded input per offset)
instead of the pixels; channels-last maps with few channels, when the windows tile the
map, reduce rows and then columns with long inner loops (`_tiled_max_cl`).
"""

from __future__ import annotations

import itertools
import math

import numpy as np


def pool_out_size(size, kernel, stride, pad, dilation, ceil_mode) -> int:
    """floor((N + 2P - D(F-1) - 1)/S) + 1 (ceil with ceil_mode; last window starts inside)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _extent(out, kernel, stride, dilation) -> int:
    """Input length the windows of `out` positions touch."""
    return (out - 1) * stride + dilation * (kernel - 1) + 1


def _padded(x, padding, value) -> np.ndarray:
    """x padded on the spatial axes with `value` (no copy without padding)."""
    if not any(lo or hi for lo, hi in padding):
        return x
    shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], padding))
    # in x's memory order: a channels-last map stays channels-last through the pool
    xp = _zeros_as(shape, x, zero=False)
    xp.fill(value)
    inner = tuple(slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], padding))
    xp[(slice(None), slice(None)) + inner] = x
    return xp


def _offsets(ksize, stride, dilation, out):
    """(flat kernel index, spatial slices) for every kernel offset."""
    for j, k in enumerate(itertools.product(*(range(f) for f in ksize))):
        yield (
            j,
            tuple(
                slice(ki * d, ki * d + s * (o - 1) + 1, s)
                for ki, d, s, o in zip(k, dilation, stride, out)
            ),
        )


def _full_padding(spatial, ksize, stride, padding, dilation, out):
    """Padding with the high side grown so `out` windows fit (ceil_mode overhang)."""
    full = []
    for n, k, s, (lo, hi), d, o in zip(spatial, ksize, stride, padding, dilation, out):
        full.append((lo, max(hi, _extent(o, k, s, d) - n - lo)))
    return tuple(full)


def _memory_order(a: np.ndarray) -> list[int]:
    """a's axes from the slowest-varying in memory to the fastest."""
    return sorted(range(a.ndim), key=lambda i: -abs(a.strides[i]))


def _zeros_as(shape, ref: np.ndarray, lead: tuple[int, ...] = (), dtype=None,
              zero: bool = True) -> np.ndarray:  # fmt: skip
    """Zeros of (*lead, N, C, ...) `shape` whose (N, C, ...) axes are stored in `ref`'s
    memory order (channels-first or channels-last stays so: no transposing copies)."""
    order = _memory_order(ref) if ref.ndim == len(shape) else list(range(len(shape)))
    k = len(lead)
    alloc = np.zeros if zero else np.empty
    buf = alloc(lead + tuple(shape[i] for i in order), dtype=dtype or ref.dtype)
    return buf.transpose(list(range(k)) + [k + order.index(i) for i in range(len(shape))])


def _in_order_of(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """`a`, or a copy of it stored in `ref`'s memory order when the two orders differ
    (one copy is cheaper than elementwise passes that mix channels-first and -last)."""
    if a.ndim != ref.ndim or a.ndim < 2 or _memory_order(a) == _memory_order(ref):
        return a
    out = _zeros_as(a.shape, ref, dtype=a.dtype, zero=False)
    np.copyto(out, a)
    return out


def _spatial_out(xp_shape, kernel, stride, dilation) -> tuple[int, ...]:
    return tuple(
        (n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp_shape[2:], kernel, stride, dilation)
    )


# Channels-last maps with at most this many channels take `_tiled_max_cl` (measured on
# 2x2 windows: 6 channels 259 -> 135 us, 4 channels 33 -> 9 us; 16 channels is slower).
_CL_POOL_MAX_CHANNELS = 8


def _tiled_max_cl(x, kernel, stride, padding, dilation) -> np.ndarray | None:
    """Window maxima of a channels-last (N, C, H, W) map with few channels when the 2-D
    windows tile it exactly (kernel == stride, no padding or dilation); None otherwise.

    The offset-by-offset loop of `_window_max` runs NumPy's inner loop over the C
    channels only (6 values for LeNet's first map).  Here the kernel rows are reduced
    first, on contiguous rows of W * C values, then the kernel columns through
    transposed (C, windows) views, so every inner loop runs over all the windows.
    The maximum does not depend on the order, so the result is bitwise the same.
    """
    tiles = tuple(kernel) == tuple(stride) and all(d == 1 for d in dilation)
    if not tiles or any(lo or hi for lo, hi in padding):
        return None
    if x.ndim != 4 or not 1 < x.shape[1] <= _CL_POOL_MAX_CHANNELS:
        return None
    n, c, h, w = x.shape
    kh, kw = kernel
    xh = x.transpose(0, 2, 3, 1)
    if h % kh or w % kw or not xh.flags.c_contiguous or x.dtype.kind != "f" or not x.size:
        return None
    ho, wo = h // kh, w // kw
    rows = xh.reshape(n * ho, kh, w * c)
    r = rows[:, 0, :] if kh == 1 else np.maximum(rows[:, 0, :], rows[:, 1, :])
    for a in range(2, kh):
        np.maximum(r, rows[:, a, :], out=r)
    cols = r.reshape(n * ho * wo, kw, c)
    if kw == 1:
        out = cols[:, 0, :].copy()
    else:
        out = np.empty((n * ho * wo, c), x.dtype)
        np.maximum(cols[:, 0, :].T, cols[:, 1, :].T, out=out.T, order="C")
    for b in range(2, kw):
        np.maximum(out.T, cols[:, b, :].T, out=out.T, order="C")
    return out.reshape(n, ho, wo, c).transpose(0, 3, 1, 2)


def _window_max(x, kernel, stride, padding, dilation) -> np.ndarray:
    """Window maxima over the -inf padded input (NaN propagates, as PyTorch)."""
    y = _tiled_max_cl(x, kernel, stride, padding, dilation)
    if y is not None:
        return y
    xp = _padded(x, padding, -np.inf)
    out = _spatial_out(xp.shape, kernel, stride, dilation)
    y = None
    for _, sl in _offsets(kernel, stride, dilation, out):
        cur = xp[(slice(None), slice(None)) + sl]
        if y is None:
            y = _zeros_as(cur.shape, cur, zero=False)
            np.copyto(y, cur)
        else:
            np.maximum(y, cur, out=y)
    return y


def _first_max_mask(x, y, kernel, stride, padding, dilation) -> np.ndarray:
    """One-hot (K, N, C, *O) of the first kernel offset holding each window's maximum."""
    xp = _padded(x, padding, -np.inf)
    mask = _zeros_as(y.shape, y, (math.prod(kernel),), bool)
    taken = _zeros_as(y.shape, y, (), bool)
    for j, sl in _offsets(kernel, stride, dilation, y.shape[2:]):
        m = np.equal(xp[(slice(None), slice(None)) + sl], y, out=mask[j])
        np.greater(m, taken, out=m)  # m and not taken, without a temporary
        taken |= m
    return mask


def _flat_index(arg, spatial, ksize, stride, padding, dilation) -> np.ndarray:
    """Flat per-channel input index (PyTorch's return_indices) of each window's argmax."""
    sstr = [math.prod(spatial[i + 1 :]) for i in range(len(spatial))]
    kcoords = np.array(list(itertools.product(*(range(f) for f in ksize))), dtype=np.int64)
    koff = (kcoords * np.array(dilation) * np.array(sstr)).sum(axis=1).reshape(-1)
    base = np.zeros(arg.shape[2:], dtype=np.int64)
    for i, (o, s, (lo, _)) in enumerate(zip(arg.shape[2:], stride, padding)):
        shape = [1] * len(spatial)
        shape[i] = o
        base = base + ((np.arange(o) * s - lo) * sstr[i]).reshape(shape)
    return base + koff[arg]
