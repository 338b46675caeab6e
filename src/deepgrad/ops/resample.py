"""Resampling: reflect/replicate/circular padding, interpolation, pixel shuffle.

    pad_nd:        y = x[src(i)] with src the reflected / clamped / wrapped index
                   dx: each padded position's gradient added back to its source
    interpolate:   nearest (an index map) and (bi/tri)linear (a sparse averaging
                   matrix per axis: y = M_h x M_w^T), as `torch.nn.functional.interpolate`
    pixel_shuffle: (N, C r^2, H, W) -> (N, C, H r, W r), a reshape and a permutation
                   (Shi et al. 2016)

Only `pad_nd` is a primitive; the rest are compositions of linear ops.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _ones, apply, primitive
from .index import getitem
from .linalg import matmul
from .shape import broadcast_to, permute, reshape, swapaxes

__all__ = ["interpolate", "pad_nd", "pixel_shuffle", "pixel_unshuffle"]

_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _source_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """For each padded position along one axis, the input index it copies."""
    return np.pad(np.arange(n), (lo, hi), mode=_NP_MODES[mode])


@primitive(
    "pad_nd",
    linear=True,
    transpose=[lambda g, x, pad, mode: apply(pad_nd_t_p, g, pad=pad, mode=mode, size=x.shape)],
    domain=Domain(
        [
            Case(((1, 2, 4, 5),), {"pad": ((0, 0), (0, 0), (1, 2), (2, 1)), "mode": "reflect"}),
            Case(((2, 1, 3, 3),), {"pad": ((0, 0), (0, 0), (2, 0), (1, 3)), "mode": "replicate"}),
            Case(((1, 2, 5),), {"pad": ((0, 0), (0, 0), (2, 3)), "mode": "circular"}),
        ],
        errors=[
            ErrorCase(
                lambda: pad_nd(_ones(2, 3), ((0, 0), (1, 1)), mode="mirror"),
                ValueError,
                r"pad_nd: mode must be one of",
            ),
            ErrorCase(
                lambda: pad_nd(_ones(2, 3), ((0, 0), (3, 3))),
                ValueError,
                r"pad_nd: reflect padding \(3, 3\) must be smaller than the input size 3",
            ),
        ],
    ),
)
def pad_nd_p(x, pad, mode):
    """$y_i = x_{src(i)}$ (reflect, replicate or circular index map); dx: adjoint scatter-add."""
    return np.pad(x, pad, mode=_NP_MODES[mode])


@primitive(
    "pad_nd_t",
    linear=True,
    transpose=[lambda g, y, pad, mode, size: apply(pad_nd_p, g, pad=pad, mode=mode)],
    domain=Domain(
        [
            Case(
                ((1, 2, 7, 8),),
                {"pad": ((0, 0), (0, 0), (1, 2), (2, 1)), "mode": "reflect", "size": (1, 2, 4, 5)},
            ),
            Case(
                ((1, 2, 10),),
                {"pad": ((0, 0), (0, 0), (2, 3)), "mode": "circular", "size": (1, 2, 5)},
            ),
        ],
        errors=[
            ErrorCase(
                lambda: pad_nd(_ones(2, 3), ((0, 0), (-1, 1))),
                ValueError,
                r"pad_nd: padding .* does not fit",
            )
        ],
    ),
)
def pad_nd_t_p(y, pad, mode, size):
    """Adjoint of pad_nd: $x_j = \\sum_{i: src(i) = j} y_i$, one axis at a time."""
    out = y
    for ax, (lo, hi) in enumerate(pad):
        if not lo and not hi:
            continue
        n = size[ax]
        src = _source_index(n, lo, hi, mode)
        pre = (slice(None),) * ax
        res = out[pre + (slice(lo, lo + n),)].copy()
        for i in list(range(lo)) + list(range(lo + n, lo + n + hi)):
            res[pre + (src[i],)] += out[pre + (i,)]
        out = res
    return out


def pad_nd(x: Tensor, pad, mode: str = "reflect") -> Tensor:
    """Pad with `mode` in reflect / replicate / circular; `pad` is ((before, after), ...) per axis.

    Reflect mirrors without repeating the edge (PyTorch, NumPy 'reflect'); replicate
    repeats the edge; circular wraps around.
    """
    if mode not in _NP_MODES:
        raise ValueError(f"pad_nd: mode must be one of {sorted(_NP_MODES)}, got {mode!r}")
    pad = tuple((int(a), int(b)) for a, b in pad)
    if len(pad) != x.ndim or any(a < 0 or b < 0 for a, b in pad):
        raise ValueError(f"pad_nd: padding {pad} does not fit a tensor of shape {x.shape}")
    for ax, (lo, hi) in enumerate(pad):
        n = x.shape[ax]
        if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(
                f"pad_nd: reflect padding ({lo}, {hi}) must be smaller than the input size {n} "
                f"along axis {ax} (input shape {x.shape})"
            )
        if mode != "reflect" and (lo or hi) and n == 0:
            raise ValueError(f"pad_nd: cannot {mode}-pad an empty axis {ax} of {x.shape}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad_nd: circular padding ({lo}, {hi}) exceeds size {n} on axis {ax}")
    if not any(lo or hi for lo, hi in pad):
        return x
    return apply(pad_nd_p, x, pad=pad, mode=mode)


# --- interpolation ---------------------------------------------------------------------


def _out_sizes(x: Tensor, size, scale_factor) -> tuple[tuple[int, ...], tuple[float | None, ...]]:
    d = x.ndim - 2
    if d < 1:
        raise ValueError(f"interpolate: expected a batched input (N, C, *spatial), got {x.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    if size is not None:
        out = (int(size),) * d if isinstance(size, (int, np.integer)) else tuple(map(int, size))
        if len(out) != d:
            raise ValueError(f"interpolate: size {size} must have {d} entries for input {x.shape}")
        return out, (None,) * d
    sf = (
        (float(scale_factor),) * d if np.isscalar(scale_factor) else tuple(map(float, scale_factor))
    )
    if len(sf) != d:
        raise ValueError(f"interpolate: scale_factor {scale_factor} must have {d} entries")
    return tuple(math.floor(n * f) for n, f in zip(x.shape[2:], sf)), sf


def _scale(n_in: int, n_out: int, factor: float | None) -> float:
    """PyTorch's source-per-destination scale: 1/scale_factor when given, else in/out."""
    return 1.0 / factor if factor else n_in / n_out


def _nearest_index(n_in, n_out, factor) -> np.ndarray:
    scale = _scale(n_in, n_out, factor)
    return np.minimum(np.floor(np.arange(n_out) * scale).astype(np.int64), n_in - 1)


def _linear_matrix(n_in, n_out, factor, align_corners, dtype) -> np.ndarray:
    """(n_in, n_out) matrix of linear-interpolation weights (two per output)."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        src = np.maximum((dst + 0.5) * _scale(n_in, n_out, factor) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    w1 = src - i0
    m = np.zeros((n_in, n_out), dtype=np.float64)
    np.add.at(m, (i0, np.arange(n_out)), 1.0 - w1)
    np.add.at(m, (i1, np.arange(n_out)), w1)
    return m.astype(dtype)


def _nearest(x: Tensor, out, factors) -> Tensor:
    spatial = x.shape[2:]
    ints = [o % n == 0 and (f is None or f == o // n) for n, o, f in zip(spatial, out, factors)]
    if all(ints) and all(o >= n for n, o in zip(spatial, out)):
        # integer upscaling: a broadcast and a reshape (its adjoint sums each block)
        reps = [o // n for n, o in zip(spatial, out)]
        shape = x.shape[:2] + tuple(v for n in spatial for v in (n, 1))
        big = x.shape[:2] + tuple(v for n, r in zip(spatial, reps) for v in (n, r))
        return reshape(broadcast_to(reshape(x, shape), big), x.shape[:2] + tuple(out))
    y = x
    for i, (n, o, f) in enumerate(zip(spatial, out, factors)):
        if n != o:
            y = getitem(y, (slice(None),) * (2 + i) + (_nearest_index(n, o, f),))
    return y


def interpolate(
    x: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None
) -> Tensor:
    """Resize the spatial axes, as `torch.nn.functional.interpolate` (Long et al. 2015).

    nearest: $y_i = x_{\\lfloor i \\cdot s \\rfloor}$; linear / bilinear / trilinear:
    $y_i = (1 - \\lambda) x_{i_0} + \\lambda x_{i_0 + 1}$ with the source coordinate from
    `align_corners` (corners aligned) or half-pixel centres (default).
    """
    out, factors = _out_sizes(x, size, scale_factor)
    if any(o < 1 for o in out):
        raise ValueError(f"interpolate: output size {out} must be positive (input {x.shape})")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError("interpolate: align_corners only applies to the linear modes")
        return _nearest(x, out, factors)
    linear = {"linear": 1, "bilinear": 2, "trilinear": 3}
    if mode not in linear:
        raise ValueError(
            f"interpolate: unknown mode {mode!r} (nearest, linear, bilinear, trilinear)"
        )
    if linear[mode] != x.ndim - 2:
        raise ValueError(
            f"interpolate: mode {mode!r} needs a {linear[mode] + 2}-d input, got {x.shape}"
        )
    y = x
    for i, (n, o, f) in enumerate(zip(x.shape[2:], out, factors)):
        if n == o and f in (None, 1.0):
            continue
        m = Tensor(_linear_matrix(n, o, f, bool(align_corners), x.dtype))
        y = swapaxes(matmul(swapaxes(y, 2 + i, -1), m), 2 + i, -1)
    return y


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(N, C r^2, H, W) -> (N, C, H r, W r): sub-pixel convolution's rearrangement (Shi et al. 2016)."""
    r = int(upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(
            f"pixel_shuffle: channels ({x.shape[-3] if x.ndim >= 3 else '?'}) must be divisible "
            f"by upscale_factor^2 = {r * r}; got input {x.shape}"
        )
    *lead, c, h, w = x.shape
    y = reshape(x, (*lead, c // (r * r), r, r, h, w))
    k = len(lead)
    y = permute(y, *range(k), k, k + 3, k + 1, k + 4, k + 2)
    return reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """(N, C, H r, W r) -> (N, C r^2, H, W), the inverse of `pixel_shuffle`."""
    r = int(downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(f"pixel_unshuffle: H and W of {x.shape} must be divisible by {r}")
    *lead, c, h, w = x.shape
    y = reshape(x, (*lead, c, h // r, r, w // r, r))
    k = len(lead)
    y = permute(y, *range(k), k, k + 2, k + 4, k + 1, k + 3)
    return reshape(y, (*lead, c * r * r, h // r, w // r))
