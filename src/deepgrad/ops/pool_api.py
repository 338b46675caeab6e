"""Pooling's public functions: max, average, adaptive pooling and unpooling (PyTorch semantics).

Argument checking and the ceil_mode / padding geometry live here; the primitives they
apply are in `pool.py` (max_pool, window_sum) and `pool_flat.py` (take_flat, put_flat).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ._base import Tensor, apply
from ._pool_kernels import _first_max_mask, _flat_index, _full_padding
from .conv import norm_tuple
from .linalg import matmul
from .pool import max_pool_p, pool_out_size_all, window_sum_p
from .pool_flat import put_flat, take_flat
from .reduce import mean
from .shape import swapaxes
from .validation import check_int

__all__ = [
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "max_pool",
    "max_unpool",
    "window_sum",
]


# --- public functions ------------------------------------------------------------------


def _pool_params(op, x, kernel_size, stride, padding, dilation, ceil_mode) -> dict:
    """Normalise and validate pooling arguments (PyTorch defaults: stride = kernel_size)."""
    d = x.ndim - 2
    if d < 1:
        raise ValueError(f"{op}: expected a batched input (N, C, *spatial), got shape {x.shape}")
    k = norm_tuple(kernel_size, d, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else None
    s = s or norm_tuple(stride, d, "stride", op)
    pads = norm_tuple(padding, d, "padding", op)
    dil = norm_tuple(dilation, d, "dilation", op)
    for ki, si, pi, di in zip(k, s, pads, dil):
        if ki < 1 or si < 1 or di < 1 or pi < 0:
            raise ValueError(
                f"{op}: kernel {k}, stride {s}, dilation {dil} must be >= 1, padding >= 0"
            )
        if 2 * pi > di * (ki - 1) + 1:
            raise ValueError(
                f"{op}: padding {pi} should be at most half the effective kernel size "
                f"D(F-1)+1 = {di * (ki - 1) + 1}"
            )
    p = {"kernel": k, "stride": s, "padding": tuple((q, q) for q in pads), "dilation": dil,
             "ceil_mode": bool(ceil_mode)}  # fmt: skip
    out = pool_out_size_all(x.shape[2:], p)
    for i, o in enumerate(out):
        if o < 1:
            n = x.shape[2 + i]
            raise ValueError(
                f"{op}: kernel larger than the padded input along spatial dim {i}: output size "
                f"floor((N + 2P - D(F-1) - 1)/S) + 1 = floor(({n} + 2*{pads[i]} - {dil[i]}*"
                f"({k[i]}-1) - 1)/{s[i]}) + 1 = {o} < 1"
            )
    return p


def max_pool(
    x: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """N-d max pooling, $y[n,c,p] = \\max_k x[n,c,s p + d k]$ (-inf padding).

    With `return_indices`, also returns the argmax's flat index per channel (int64),
    as PyTorch does, for `max_unpool`.  (LeCun et al. 1998; Krizhevsky et al. 2012.)
    """
    p = _pool_params("max_pool", x, kernel_size, stride, padding, dilation, ceil_mode)
    q = _primitive_params(x, p)
    y = apply(max_pool_p, x, **q)
    if return_indices:
        arg = _first_max_mask(x._data, y._data, **q).argmax(axis=0)
        idx = _flat_index(arg, x.shape[2:], p["kernel"], p["stride"], p["padding"], p["dilation"])
        return y, Tensor(idx)
    return y


def _primitive_params(x: Tensor, p: dict) -> dict:
    """Public pool params -> primitive params (padding grown by the ceil_mode overhang)."""
    out = pool_out_size_all(x.shape[2:], p)
    full = _full_padding(x.shape[2:], p["kernel"], p["stride"], p["padding"], p["dilation"], out)
    return {
        "kernel": p["kernel"],
        "stride": p["stride"],
        "padding": full,
        "dilation": p["dilation"],
    }


def _avg_counts(spatial, p, out, include_pad) -> np.ndarray:
    """Divisor of each window: its size, without the ceil_mode overhang (and the padding)."""
    count = np.ones((), dtype=np.float64)
    for n, k, s, (lo, _), d, o in zip(spatial, p["kernel"], p["stride"], p["padding"],
                                      p["dilation"], out):  # fmt: skip
        pos = (np.arange(o) * s - lo)[:, None] + np.arange(k)[None, :] * d
        valid = (pos >= -lo) & (pos < n + lo) if include_pad else (pos >= 0) & (pos < n)
        count = np.multiply.outer(count, valid.sum(axis=1))
    return count


def avg_pool(
    x: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """N-d average pooling, $y[n,c,p] = \\frac{1}{|W_p|} \\sum_{k} x[n,c,s p + k]$.

    The divisor counts zero padding when `count_include_pad`, never the ceil_mode
    overhang (as PyTorch).  (LeCun et al. 1998; Lin et al. 2014 for the global form.)
    """
    if divisor_override is not None:
        check_int("avg_pool", "divisor_override", divisor_override, low=1)
    p = _pool_params("avg_pool", x, kernel_size, stride, padding, 1, ceil_mode)
    out = pool_out_size_all(x.shape[2:], p)
    s = apply(window_sum_p, x, **_primitive_params(x, p))
    if divisor_override:
        return s * (1.0 / divisor_override)
    count = _avg_counts(x.shape[2:], p, out, count_include_pad)
    if np.all(count == count.flat[0]):
        return s * (1.0 / float(count.flat[0]))
    return s * Tensor((1.0 / count).astype(x.dtype))


def window_sum(x: Tensor, kernel_size, stride=None, padding=0, dilation=1) -> Tensor:
    """Sum over each (zero-padded) window: average pooling times the window size."""
    p = _pool_params("window_sum", x, kernel_size, stride, padding, dilation, False)
    p.pop("ceil_mode")
    return apply(window_sum_p, x, **p)


def _adaptive_size(op, x, output_size) -> tuple[int, ...]:
    d = x.ndim - 2
    if d < 1:
        raise ValueError(f"{op}: expected a batched input (N, C, *spatial), got shape {x.shape}")
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * d
    if len(output_size) != d:
        raise ValueError(f"{op}: output_size {output_size} must have {d} entries for {x.shape}")
    out = tuple(n if o is None else int(o) for n, o in zip(x.shape[2:], output_size))
    if any(o < 1 for o in out):
        raise ValueError(f"{op}: output_size must be positive, got {output_size}")
    return out


def _bins(n: int, o: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive bins: [floor(i n / o), ceil((i + 1) n / o))."""
    return [((i * n) // o, -(-((i + 1) * n) // o)) for i in range(o)]


def adaptive_avg_pool(x: Tensor, output_size) -> Tensor:
    """Average over PyTorch's adaptive bins [floor(i N/O), ceil((i+1) N/O)) per spatial dim."""
    out = _adaptive_size("adaptive_avg_pool", x, output_size)
    spatial = x.shape[2:]
    if all(o == 1 for o in out):
        return mean(x, axis=tuple(range(2, x.ndim)), keepdims=True)
    if all(n % o == 0 for n, o in zip(spatial, out)):
        k = tuple(n // o for n, o in zip(spatial, out))
        return avg_pool(x, k, k)
    y = x
    for i, (n, o) in enumerate(zip(spatial, out)):
        if n == o:
            continue
        m = np.zeros((n, o), dtype=x.dtype)
        for j, (a, b) in enumerate(_bins(n, o)):
            m[a:b, j] = 1.0 / (b - a)
        y = swapaxes(matmul(swapaxes(y, 2 + i, -1), Tensor(m)), 2 + i, -1)
    return y


def adaptive_max_pool(x: Tensor, output_size, return_indices: bool = False):
    """Maximum over PyTorch's adaptive bins; indices are flat per channel, as `max_pool`'s."""
    out = _adaptive_size("adaptive_max_pool", x, output_size)
    spatial = x.shape[2:]
    if all(n % o == 0 for n, o in zip(spatial, out)):
        k = tuple(n // o for n, o in zip(spatial, out))
        return max_pool(x, k, k, return_indices=return_indices)
    n, c = x.shape[:2]
    index = np.empty((n, c) + out, dtype=np.int64)
    for cell in itertools.product(*(range(o) for o in out)):
        bins = [_bins(s, o)[j] for s, o, j in zip(spatial, out, cell)]
        sub = x._data[(slice(None), slice(None)) + tuple(slice(a, b) for a, b in bins)]
        local = np.unravel_index(np.argmax(sub.reshape(n, c, -1), axis=2), sub.shape[2:])
        flat = np.ravel_multi_index(tuple(li + a for li, (a, _) in zip(local, bins)), spatial)
        index[(slice(None), slice(None)) + cell] = flat
    y = take_flat(x, index)
    return (y, Tensor(index)) if return_indices else y


def max_unpool(x: Tensor, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max pooling: zeros except x placed at the pooled argmax `indices`.

    Output length (N-1)S - 2P + F unless `output_size` is given (Zeiler & Fergus 2014).
    """
    d = x.ndim - 2
    k = norm_tuple(kernel_size, d, "kernel_size", "max_unpool")
    s = k if stride is None else norm_tuple(stride, d, "stride", "max_unpool")
    pads = norm_tuple(padding, d, "padding", "max_unpool")
    if output_size is None:
        out = tuple((n - 1) * si - 2 * pi + ki for n, si, pi, ki in zip(x.shape[2:], s, pads, k))
    else:
        out = tuple(int(v) for v in tuple(output_size)[-d:])
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if idx.shape != x.shape:
        raise ValueError(f"max_unpool: indices shape {idx.shape} must equal input shape {x.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= math.prod(out)):
        raise ValueError(
            f"max_unpool: indices must lie in [0, {math.prod(out)}) for output size {out}, "
            f"got max {idx.max()}"
        )
    return put_flat(x, idx, x.shape[:2] + out, accumulate=False)
