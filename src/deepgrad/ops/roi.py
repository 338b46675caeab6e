"""Region-of-interest pooling for two-stage detectors: RoI align and RoI (max) pool.

Both read a fixed-size grid of features out of each box of a feature map
(Ren et al. 2015; He et al. 2017).  Given the boxes, each output value is a
fixed weighted sum of input pixels (bilinear samples for RoI align, the bin's
arg-max pixel for RoI pool), so both are *linear* in the feature map: the
public function computes the sampling plan (indices and weights) from the boxes,
and two primitives apply the plan and its transpose, each the other's VJP.
Boxes get no gradient, as in torchvision.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _wrap, apply, primitive


def _gather_plan(x, plan):
    """out[k, c, p] = sum_j weight[k, p, j] * x[batch[k], c, index[k, p, j]]."""
    batch, index, weight = plan
    n, c, h, w = x.shape
    flat = x.reshape(n, c, h * w)
    vals = flat[batch[:, None, None], :, index]  # (K, P, J, C)
    out = np.einsum("kpjc,kpj->kcp", vals, weight.astype(x.dtype, copy=False))
    return out


def _scatter_plan(g, plan, shape):
    """The transpose of `_gather_plan`: g[k, c, p] * weight[k, p, j] added at the sampled pixel."""
    batch, index, weight = plan
    n, c, h, w = shape
    vals = np.einsum("kcp,kpj->kpjc", g, weight.astype(g.dtype, copy=False)).reshape(-1, c)
    keys = (batch[:, None, None] * (h * w) + index).reshape(-1)
    # sum the rows that land on the same pixel: sort, reduce runs (much faster than np.add.at)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    z = np.zeros((n * h * w, c), dtype=g.dtype)
    if len(keys):
        z[keys[starts]] = np.add.reduceat(vals[order], starts, axis=0)
    return z.reshape(n, h, w, c).transpose(0, 3, 1, 2).copy()


def _roi_case(rng):
    return {"plan": _align_plan(np.array([[0, 0.5, 0.2, 3.2, 2.9], [1, 1.0, 1.0, 2.0, 3.5]]),
                                (2, 2, 5, 4), (2, 2), 1.0, 2, True)}  # fmt: skip


@primitive(
    "roi_gather",
    vjp=[lambda g, ans, x, plan, shape=None: roi_scatter(g, plan, x.shape)],
    jvp=[lambda t, ans, x, plan, shape=None: roi_gather(t, plan)],
    domain=Domain(
        [Case(((2, 2, 5, 4),), _roi_case)],
        fn=lambda x, plan: roi_gather(x, plan),
        errors=[
            ErrorCase(
                lambda: roi_align(_wrap(np.ones((1, 2, 4, 4))), np.ones((2, 4)), 2),
                ValueError,
                r"roi_align: boxes must be \(K, 5\) rows of \(batch index, x1, y1, x2, y2\)",
            ),
            ErrorCase(
                lambda: roi_align(_wrap(np.ones((2, 4, 4))), np.ones((1, 5)), 2),
                ValueError,
                r"roi_align: input must be \(N, C, H, W\), got \(2, 4, 4\)",
            ),
        ],
    ),
)
def roi_gather_p(x, plan):
    """$y_{k c p} = \\sum_j w_{k p j}\\, x_{b_k, c, i_{k p j}}$ (a fixed sampling plan); linear in x."""
    return _gather_plan(x, plan)


def roi_gather(x: Tensor, plan) -> Tensor:
    out = apply(roi_gather_p, x, plan=plan)
    return out


@primitive(
    "roi_scatter",
    vjp=[lambda g, ans, y, plan, shape: roi_gather(g, plan)],
    jvp=[lambda t, ans, y, plan, shape: roi_scatter(t, plan, shape)],
    domain=Domain(
        [Case(((2, 2, 4),), lambda rng: {**_roi_case(rng), "shape": (2, 2, 5, 4)})],
        fn=lambda y, plan, shape: roi_scatter(y, plan, shape),
        errors=[
            ErrorCase(
                lambda: roi_pool(_wrap(np.ones((1, 2, 4, 4))), np.array([[3, 0, 0, 2, 2]]), 2),
                IndexError,
                r"roi_pool: box 0 names batch image 3 but the input has 1",
            ),
        ],
    ),
)
def roi_scatter_p(y, plan, shape):
    """The adjoint of roi_gather: each output value's weights send it back to its pixels."""
    return _scatter_plan(y, plan, shape)


def roi_scatter(y: Tensor, plan, shape) -> Tensor:
    return apply(roi_scatter_p, y, plan=plan, shape=tuple(shape))


def _check(op: str, x: Tensor, boxes) -> np.ndarray:
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be (N, C, H, W), got {tuple(x.shape)}")
    b = np.asarray(boxes._data if isinstance(boxes, Tensor) else boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 5:
        raise ValueError(
            f"{op}: boxes must be (K, 5) rows of (batch index, x1, y1, x2, y2), got {b.shape}"
        )
    bad = np.flatnonzero((b[:, 0] < 0) | (b[:, 0] >= x.shape[0]) | (b[:, 0] != np.round(b[:, 0])))
    if bad.size:
        raise IndexError(
            f"{op}: box {bad[0]} names batch image {b[bad[0], 0]:g} but the input has {x.shape[0]}"
        )
    return b


def _pair(v, op: str) -> tuple[int, int]:
    ph, pw = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if ph < 1 or pw < 1:
        raise ValueError(f"{op}: output_size must be positive, got {v}")
    return int(ph), int(pw)


def _bilinear(y, x, h, w):
    """Four (flat index, weight) pairs per sample point, torchvision's border rules."""
    valid = (y >= -1) & (y <= h) & (x >= -1) & (x <= w)
    y, x = np.clip(y, 0, None), np.clip(x, 0, None)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    y = np.where(y0 >= h - 1, y0, y)
    x = np.where(x0 >= w - 1, x0, x)
    ly, lx = y - y0, x - x0
    idx = np.stack([y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1], -1)
    wts = np.stack([(1 - ly) * (1 - lx), (1 - ly) * lx, ly * (1 - lx), ly * lx], -1)
    return idx, wts * valid[..., None]


def _align_plan(boxes, shape, size, scale, sampling_ratio, aligned):
    """Sampling plan of RoI align: for each bin, a grid of bilinear samples, averaged."""
    _, _, h, w = shape
    ph, pw = size
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (boxes[:, 1:] * scale - offset).T
    rw, rh = x2 - x1, y2 - y1
    if not aligned:
        rw, rh = np.maximum(rw, 1.0), np.maximum(rh, 1.0)
    if sampling_ratio > 0:
        gh = gw = np.full(len(boxes), sampling_ratio)
    else:
        gh = np.maximum(np.ceil(rh / ph), 1).astype(int)
        gw = np.maximum(np.ceil(rw / pw), 1).astype(int)
    index = np.zeros((len(boxes), ph * pw, 4 * int(gh.max(initial=1)) * int(gw.max(initial=1))),
                     dtype=np.int64)  # fmt: skip
    weight = np.zeros(index.shape)
    # RoIs with the same sample grid are planned together (all of them when sampling_ratio > 0)
    for a, b in {(int(a), int(b)) for a, b in zip(gh, gw)}:
        k = np.flatnonzero((gh == a) & (gw == b))
        sy = (np.arange(ph)[:, None] + (np.arange(a)[None, :] + 0.5) / a) / ph  # (ph, a)
        sx = (np.arange(pw)[:, None] + (np.arange(b)[None, :] + 0.5) / b) / pw
        yy = sy[None] * rh[k, None, None] + y1[k, None, None]  # (k, ph, a)
        xx = sx[None] * rw[k, None, None] + x1[k, None, None]
        yy = np.broadcast_to(yy[:, :, None, :, None], (len(k), ph, pw, a, b))
        xx = np.broadcast_to(xx[:, None, :, None, :], (len(k), ph, pw, a, b))
        idx, wt = _bilinear(yy, xx, h, w)
        j = 4 * a * b
        index[k, :, :j] = idx.reshape(len(k), ph * pw, j)
        weight[k, :, :j] = wt.reshape(len(k), ph * pw, j) / (a * b)
    return boxes[:, 0].astype(np.int64), index, weight


def roi_align(input: Tensor, boxes, output_size, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> Tensor:  # fmt: skip
    """RoI Align (He et al. 2017), torchvision's semantics: (K, C, ph, pw) features of each box.

    `boxes` is (K, 5): (batch index, x1, y1, x2, y2) in input coordinates, scaled by
    `spatial_scale` onto the feature map.  Each of the ph x pw bins averages a
    grid of bilinear samples (`sampling_ratio` per side, or ceil(box size / bins)
    when -1); `aligned=True` shifts by half a pixel so box corners fall on pixel
    centres.  $y = A(\\text{boxes})\\,x$ is linear in x; $\\partial L/\\partial x = A^\\top g$.
    """
    b = _check("roi_align", input, boxes)
    plan = _align_plan(b, input.shape, _pair(output_size, "roi_align"), spatial_scale,
                       sampling_ratio, aligned)  # fmt: skip
    out = roi_gather(input, plan)
    ph, pw = _pair(output_size, "roi_align")
    return out.reshape((len(b), input.shape[1], ph, pw))


def _pool_plan(x: np.ndarray, boxes, size, scale):
    """RoI max pool: quantised bins, each value taken from its bin's arg-max pixel."""
    _, c, h, w = x.shape
    ph, pw = size
    index = np.zeros((len(boxes), ph * pw, c), dtype=np.int64)
    valid = np.zeros((len(boxes), ph * pw, c))
    for k, b in enumerate(boxes):
        x1, y1, x2, y2 = np.round(b[1:] * scale).astype(int)
        rw, rh = max(x2 - x1 + 1, 1), max(y2 - y1 + 1, 1)
        for p in range(ph * pw):
            i, j = divmod(p, pw)
            ys = np.clip([y1 + math.floor(i * rh / ph), y1 + math.ceil((i + 1) * rh / ph)], 0, h)
            xs = np.clip([x1 + math.floor(j * rw / pw), x1 + math.ceil((j + 1) * rw / pw)], 0, w)
            if ys[1] <= ys[0] or xs[1] <= xs[0]:
                continue  # an empty bin gives 0, as in torchvision
            patch = x[int(b[0]), :, ys[0] : ys[1], xs[0] : xs[1]].reshape(c, -1)
            arg = patch.argmax(axis=1)
            py, px = np.divmod(arg, xs[1] - xs[0])
            index[k, p] = (ys[0] + py) * w + xs[0] + px
            valid[k, p] = 1.0
    return boxes[:, 0].astype(np.int64), index, valid


def roi_pool(input: Tensor, boxes, output_size, spatial_scale: float = 1.0) -> Tensor:
    """RoI max pooling (Girshick 2015), torchvision's semantics: the max of each quantised bin.

    Bins are rounded to whole pixels; the gradient goes to each bin's arg-max
    pixel (the first one on ties).  Given the arg-max plan, $y$ is linear in $x$.
    """
    b = _check("roi_pool", input, boxes)
    ph, pw = _pair(output_size, "roi_pool")
    batch, index, valid = _pool_plan(input._data, b, (ph, pw), spatial_scale)
    k, c = len(b), input.shape[1]
    # one plan entry per (box, channel): treat channels as separate "boxes" on a 1-channel map
    n, _, h, w = input.shape
    flat = input.reshape((n * c, 1, h, w))
    chan_batch = (batch[:, None] * c + np.arange(c)[None, :]).reshape(-1)
    chan_index = index.transpose(0, 2, 1).reshape(k * c, ph * pw, 1)
    chan_valid = valid.transpose(0, 2, 1).reshape(k * c, ph * pw, 1)
    out = roi_gather(flat, (chan_batch, chan_index, chan_valid))
    return out.reshape((k, c, ph, pw))


__all__ = ["roi_align", "roi_pool"]
