"""The spatial transformer's two functions (Jaderberg et al. 2015): `affine_grid` and
`grid_sample` for 4-d (N, C, H, W) and 5-d (N, C, D, H, W) inputs, as composites of
ops (exported from `deepgrad.nn.functional`).

Coordinates are normalised to [-1, 1] (x along W, y along H).  With
`align_corners=True`, -1 and 1 are the centres of the corner pixels; with False
(the default), the outer edges of the corner pixels.  Gradients flow to the
input through the gathered values and to the grid through the bilinear weights.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..core.tensor import Tensor, as_tensor
from ..ops import elementwise as E
from ..ops.index import getitem
from ..ops.linalg import matmul
from ..ops.shape import permute, reshape, swapaxes, unsqueeze

__all__ = ["affine_grid", "grid_sample"]


def _base(n: int, align_corners: bool) -> np.ndarray:
    """Normalised pixel-centre coordinates along an axis of n pixels."""
    if align_corners:
        return np.linspace(-1.0, 1.0, n) if n > 1 else np.zeros(1)
    return (2.0 * np.arange(n) + 1.0) / n - 1.0


def affine_grid(theta: Tensor, size, align_corners: bool = False) -> Tensor:
    """Sampling grid of $\\theta [x, y, 1]^T$ over the output pixels: (N, H, W, 2) for
    `size` = (N, C, H, W) and theta (N, 2, 3), or (N, D, H, W, 3) for a 5-d size and
    theta (N, 3, 4)."""
    theta = as_tensor(theta)
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(f"affine_grid: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    n, spatial = size[0], size[2:]
    d = len(spatial)
    if theta.shape != (n, d, d + 1):
        raise ValueError(
            f"affine_grid: theta must be ({n}, {d}, {d + 1}) for size {size}, got {theta.shape}"
        )
    axes = np.meshgrid(*[_base(k, align_corners) for k in spatial], indexing="ij")
    coords = [a.ravel() for a in reversed(axes)]  # x (last axis) first, as PyTorch
    base = np.stack(coords + [np.ones(coords[0].size)], axis=1).astype(theta._data.dtype)
    grid = matmul(Tensor(base), swapaxes(theta, 1, 2))  # (N, prod(spatial), d)
    return reshape(grid, (n, *spatial, d))


def _unnormalize(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    if align_corners:
        return E.mul(E.add(coord, 1.0), (size - 1) / 2.0)
    return E.div(E.sub(E.mul(E.add(coord, 1.0), float(size)), 1.0), 2.0)


def _reflect(coord: Tensor, size: int, align_corners: bool) -> Tensor:
    """Fold a pixel coordinate back into the image by mirroring at its borders (PyTorch's
    reflect_coordinates), then clamp to [0, size - 1]."""
    lo, hi = (0.0, 2.0 * (size - 1)) if align_corners else (-1.0, 2.0 * size - 1.0)
    if lo == hi:
        return E.mul(coord, 0.0)
    low, span = lo / 2.0, (hi - lo) / 2.0
    dist = E.abs(E.sub(coord, low))
    flips = np.floor(dist._data / span)  # piecewise constant: no gradient of its own
    extra = E.sub(dist, Tensor(span * flips))
    even = flips % 2 == 0
    sign = Tensor(np.where(even, 1.0, -1.0).astype(coord._data.dtype))
    offset = Tensor(np.where(even, low, span + low).astype(coord._data.dtype))
    return E.clip(E.add(E.mul(extra, sign), offset), 0.0, float(size - 1))


def _gather(x: Tensor, idx: list[np.ndarray], zeros: bool) -> Tensor:
    """x[n, :, *idx] as (N, *out, C), zero where idx is outside the input and `zeros`."""
    n, spatial = x.shape[0], x.shape[2:]
    inside = np.ones(idx[0].shape, dtype=bool)
    for i, k in zip(idx, spatial):
        inside &= (i >= 0) & (i < k)
    rows = np.arange(n).reshape((n,) + (1,) * (idx[0].ndim - 1))
    clipped = tuple(np.clip(i, 0, k - 1) for i, k in zip(idx, spatial))
    vals = getitem(x, (rows, slice(None), *clipped))
    if zeros and not inside.all():
        vals = E.mul(vals, Tensor(inside[..., None].astype(x._data.dtype)))
    return vals


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
) -> Tensor:
    """$y[n, c, i, j] = \\sum_{p \\in corners} w_p \\, x[n, c, p]$ at the point grid[n, i, j]
    (bilinear weights, trilinear for 5-d inputs; `nearest` takes the closest pixel).
    padding_mode 'zeros',
    'border' (clamp to the edge) or 'reflection' (mirror at the borders).  With `nearest`
    the grid gets no gradient (None; PyTorch returns zeros): the output is piecewise
    constant in it."""
    input, grid = as_tensor(input), as_tensor(grid)
    d = input.ndim - 2
    if (
        d not in (2, 3)
        or grid.ndim != d + 2
        or grid.shape[-1] != d
        or grid.shape[0] != input.shape[0]
    ):
        raise ValueError(
            "grid_sample: expects input (N, C, H, W) with grid (N, Ho, Wo, 2), or input "
            f"(N, C, D, H, W) with grid (N, Do, Ho, Wo, 3); got {input.shape} and {grid.shape}"
        )
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"grid_sample: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got "
            f"{padding_mode!r}"
        )
    spatial = input.shape[2:]
    coords = []  # pixel coordinates along each spatial axis, in axis order (z, y, x)
    for axis, size in enumerate(spatial):
        c = _unnormalize(grid[..., d - 1 - axis], size, align_corners)
        if padding_mode == "border":
            c = E.clip(c, 0.0, float(size - 1))
        elif padding_mode == "reflection":
            c = _reflect(c, size, align_corners)
        coords.append(c)
    zeros = padding_mode == "zeros"
    back = (0, d + 1, *range(1, d + 1))  # (N, *out, C) -> (N, C, *out)
    if mode == "nearest":
        idx = [np.rint(c._data).astype(np.int64) for c in coords]
        return permute(_gather(input, idx, zeros), *back)
    lows = [np.floor(c._data) for c in coords]
    upper = [E.sub(c, Tensor(lo)) for c, lo in zip(coords, lows)]  # differentiable in grid
    weights = [(E.rsub(w1, 1.0), w1) for w1 in upper]
    out = None
    for corner in itertools.product((0, 1), repeat=d):
        idx = [lo.astype(np.int64) + k for lo, k in zip(lows, corner)]
        wt = weights[0][corner[0]]
        for axis in range(1, d):
            wt = E.mul(wt, weights[axis][corner[axis]])
        term = E.mul(_gather(input, idx, zeros), unsqueeze(wt, -1))
        out = term if out is None else E.add(out, term)
    return permute(out, *back)
