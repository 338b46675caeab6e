"""The spatial transformer's two functions (Jaderberg et al. 2015): `affine_grid` and
`grid_sample` for 4-d (N, C, H, W) inputs, as composites of ops (exported from
`deepgrad.nn.functional`).

Coordinates are normalised to [-1, 1] (x along W, y along H).  With
`align_corners=True`, -1 and 1 are the centres of the corner pixels; with False
(the default), the outer edges of the corner pixels.  Gradients flow to the
input through the gathered values and to the grid through the bilinear weights.
"""

from __future__ import annotations

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
    """Sampling grid (N, H, W, 2) of $\\theta [x, y, 1]^T$ over the output pixels of
    `size` = (N, C, H, W); theta is (N, 2, 3)."""
    theta = as_tensor(theta)
    size = tuple(int(s) for s in size)
    if len(size) != 4:
        raise ValueError(f"affine_grid: size must be (N, C, H, W) (4-d only here), got {size}")
    n, _, h, w = size
    if theta.shape != (n, 2, 3):
        raise ValueError(f"affine_grid: theta must be ({n}, 2, 3) for size {size}, got {theta.shape}")  # fmt: skip
    ys, xs = np.meshgrid(_base(h, align_corners), _base(w, align_corners), indexing="ij")
    base = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)], axis=1).astype(theta.data.dtype)
    grid = matmul(Tensor(base), swapaxes(theta, 1, 2))  # (N, H W, 2)
    return reshape(grid, (n, h, w, 2))


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
    flips = np.floor(dist.data / span)  # piecewise constant: no gradient of its own
    extra = E.sub(dist, Tensor(span * flips))
    even = flips % 2 == 0
    sign = Tensor(np.where(even, 1.0, -1.0).astype(coord.data.dtype))
    offset = Tensor(np.where(even, low, span + low).astype(coord.data.dtype))
    return E.clip(E.add(E.mul(extra, sign), offset), 0.0, float(size - 1))


def _gather(x: Tensor, yi: np.ndarray, xi: np.ndarray, zeros: bool) -> Tensor:
    """x[n, :, yi, xi] as (N, Ho, Wo, C), zero where (yi, xi) is outside and `zeros`."""
    n, _, h, w = x.shape
    inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
    rows = np.arange(n).reshape(n, 1, 1)
    vals = getitem(x, (rows, slice(None), np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)))
    if zeros and not inside.all():
        vals = E.mul(vals, Tensor(inside[..., None].astype(x.data.dtype)))
    return vals


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
) -> Tensor:
    """$y[n, c, i, j] = \\sum_{p \\in corners} w_p \\, x[n, c, p]$ at the point grid[n, i, j]
    (bilinear weights; `nearest` takes the closest pixel).  padding_mode 'zeros',
    'border' (clamp to the edge) or 'reflection' (mirror at the borders).  With `nearest`
    the grid gets no gradient (None; PyTorch returns zeros): the output is piecewise
    constant in it."""
    input, grid = as_tensor(input), as_tensor(grid)
    if input.ndim != 4 or grid.ndim != 4 or grid.shape[-1] != 2 or grid.shape[0] != input.shape[0]:
        raise ValueError(
            f"grid_sample: expects input (N, C, H, W) and grid (N, Ho, Wo, 2), got {input.shape} "
            f"and {grid.shape}"
        )
    if mode not in ("bilinear", "nearest"):
        raise ValueError(f"grid_sample: mode must be 'bilinear' or 'nearest', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', got "
            f"{padding_mode!r}"
        )
    h, w = input.shape[2:]
    x = _unnormalize(grid[..., 0], w, align_corners)
    y = _unnormalize(grid[..., 1], h, align_corners)
    zeros = padding_mode == "zeros"
    if padding_mode == "border":
        x, y = E.clip(x, 0.0, float(w - 1)), E.clip(y, 0.0, float(h - 1))
    elif padding_mode == "reflection":
        x, y = _reflect(x, w, align_corners), _reflect(y, h, align_corners)
    if mode == "nearest":
        out = _gather(input, np.rint(y.data).astype(np.int64), np.rint(x.data).astype(np.int64), zeros)  # fmt: skip
        return permute(out, 0, 3, 1, 2)
    x0, y0 = np.floor(x.data), np.floor(y.data)
    wx1 = E.sub(x, Tensor(x0))  # weights are differentiable in the grid
    wy1 = E.sub(y, Tensor(y0))
    wx0, wy0 = E.rsub(wx1, 1.0), E.rsub(wy1, 1.0)
    xi, yi = x0.astype(np.int64), y0.astype(np.int64)
    out = None
    for dy, wy in ((0, wy0), (1, wy1)):
        for dx, wx in ((0, wx0), (1, wx1)):
            term = E.mul(_gather(input, yi + dy, xi + dx, zeros), unsqueeze(E.mul(wy, wx), -1))
            out = term if out is None else E.add(out, term)
    return permute(out, 0, 3, 1, 2)
