"""Box arithmetic for detection: IoU and GIoU, non-maximum suppression, anchors, box coding.

Boxes are (x1, y1, x2, y2) with x2 >= x1 and y2 >= y1, as in torchvision.ops.
`box_iou`, `nms` and the anchors work on NumPy arrays (they choose boxes, they
are not differentiated); `generalized_box_iou_loss` takes tensors and is
differentiable, for training box regression directly on the overlap
(Rezatofighi et al. 2019).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepgrad.core.tensor import Tensor
from deepgrad.ops import maximum, minimum


def _boxes(name: str, b) -> np.ndarray:
    b = np.asarray(b._data if isinstance(b, Tensor) else b, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"{name}: boxes must be (N, 4) as (x1, y1, x2, y2), got {b.shape}")
    if np.any(b[:, 2] < b[:, 0]) or np.any(b[:, 3] < b[:, 1]):
        raise ValueError(f"{name}: boxes need x2 >= x1 and y2 >= y1")
    return b


def box_area(boxes) -> np.ndarray:
    """$(x_2 - x_1)(y_2 - y_1)$ for each box."""
    b = _boxes("box_area", boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(boxes1, boxes2) -> np.ndarray:
    """Pairwise intersection over union, (N, M): $|A \\cap B| / |A \\cup B|$ (0 when both are empty)."""
    a, b = _boxes("box_iou", boxes1), _boxes("box_iou", boxes2)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def generalized_box_iou(boxes1, boxes2) -> np.ndarray:
    """Pairwise GIoU: $IoU - |C \\setminus (A \\cup B)| / |C|$, C the smallest enclosing box."""
    a, b = _boxes("generalized_box_iou", boxes1), _boxes("generalized_box_iou", boxes2)
    iou = box_iou(a, b)
    lt = np.minimum(a[:, None, :2], b[None, :, :2])
    rb = np.maximum(a[:, None, 2:], b[None, :, 2:])
    hull = np.prod(rb - lt, axis=-1)
    inter_lt = np.maximum(a[:, None, :2], b[None, :, :2])
    inter = np.prod(np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - inter_lt, 0, None), -1)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return iou - np.divide(hull - union, hull, out=np.zeros_like(hull), where=hull > 0)


def generalized_box_iou_loss(pred: Tensor, target: Tensor, eps: float = 1e-7) -> Tensor:
    """Mean of $1 - GIoU(p_i, t_i)$ over matched pairs of boxes (differentiable in both)."""
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != 4:
        raise ValueError(
            f"generalized_box_iou_loss: pred and target must both be (N, 4), got "
            f"{tuple(pred.shape)} and {tuple(target.shape)}"
        )
    px1, py1, px2, py2 = (pred[:, i] for i in range(4))
    tx1, ty1, tx2, ty2 = (target[:, i] for i in range(4))
    iw = maximum(minimum(px2, tx2) - maximum(px1, tx1), 0.0)
    ih = maximum(minimum(py2, ty2) - maximum(py1, ty1), 0.0)
    inter = iw * ih
    union = (px2 - px1) * (py2 - py1) + (tx2 - tx1) * (ty2 - ty1) - inter
    iou = inter / (union + eps)
    hull = (maximum(px2, tx2) - minimum(px1, tx1)) * (maximum(py2, ty2) - minimum(py1, ty1))
    giou = iou - (hull - union) / (hull + eps)
    return (1.0 - giou).mean()


def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, by decreasing score.

    Repeatedly keep the highest-scoring box and drop every remaining box whose IoU
    with it is *greater than* `iou_threshold` (torchvision's rule).
    """
    b = _boxes("nms", boxes)
    s = np.asarray(scores._data if isinstance(scores, Tensor) else scores, dtype=np.float64)
    if s.shape != (len(b),):
        raise ValueError(f"nms: scores must be ({len(b)},) for {len(b)} boxes, got {s.shape}")
    order = np.argsort(-s, kind="stable")
    iou = box_iou(b, b)
    keep = []
    alive = np.ones(len(b), dtype=bool)
    for i in order:
        if not alive[i]:
            continue
        keep.append(i)
        alive &= iou[i] <= iou_threshold
        alive[i] = False
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold: float) -> np.ndarray:
    """NMS applied separately per category `idxs`: boxes of different classes never suppress."""
    b = _boxes("batched_nms", boxes)
    cats = np.asarray(idxs._data if isinstance(idxs, Tensor) else idxs)
    if cats.shape != (len(b),):
        raise ValueError(f"batched_nms: idxs must be ({len(b)},), got {cats.shape}")
    if not len(b):
        return np.zeros(0, dtype=np.int64)
    # torchvision's trick: shift each category's boxes far apart, then one NMS
    offset = cats.astype(np.float64)[:, None] * (b.max() + 1)
    return nms(b + offset, scores, iou_threshold)


def anchor_grid(feature_size: tuple[int, int], stride: int,
                sizes: Sequence[float], aspect_ratios: Sequence[float] = (1.0,)) -> np.ndarray:  # fmt: skip
    """Anchors centred on each feature-map cell: (H * W * A, 4), A = len(sizes) * len(ratios).

    An anchor of size s and aspect ratio r (height / width) has width $s/\\sqrt r$
    and height $s\\sqrt r$ (Ren et al. 2015).
    """
    h, w = feature_size
    base = []
    for s in sizes:
        for r in aspect_ratios:
            bw, bh = s / np.sqrt(r), s * np.sqrt(r)
            base.append([-bw / 2, -bh / 2, bw / 2, bh / 2])
    cy, cx = np.meshgrid(
        (np.arange(h) + 0.5) * stride, (np.arange(w) + 0.5) * stride, indexing="ij"
    )
    centres = np.stack([cx, cy, cx, cy], -1).reshape(-1, 1, 4)
    return (centres + np.asarray(base)[None]).reshape(-1, 4)


def encode_boxes(boxes, anchors, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """Regression targets of `boxes` relative to `anchors` (Girshick et al. 2014):

    $t_x = w_x (c_x - c^a_x)/w^a$, $t_y$ likewise, $t_w = w_w \\log(w / w^a)$, $t_h$ likewise.
    """
    b, a = _boxes("encode_boxes", boxes), _boxes("encode_boxes", anchors)
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    bw, bh = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    ax, ay = a[:, 0] + aw / 2, a[:, 1] + ah / 2
    bx, by = b[:, 0] + bw / 2, b[:, 1] + bh / 2
    wx, wy, ww, wh = weights
    return np.stack([wx * (bx - ax) / aw, wy * (by - ay) / ah, ww * np.log(bw / aw),
                     wh * np.log(bh / ah)], axis=1)  # fmt: skip


def decode_boxes(deltas, anchors, weights=(1.0, 1.0, 1.0, 1.0)) -> np.ndarray:
    """The inverse of `encode_boxes`: boxes from regression outputs and anchors."""
    d = np.asarray(deltas._data if isinstance(deltas, Tensor) else deltas, dtype=np.float64)
    a = _boxes("decode_boxes", anchors)
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    ax, ay = a[:, 0] + aw / 2, a[:, 1] + ah / 2
    wx, wy, ww, wh = weights
    cx, cy = ax + d[:, 0] / wx * aw, ay + d[:, 1] / wy * ah
    w = aw * np.exp(np.clip(d[:, 2] / ww, -10, 10))
    h = ah * np.exp(np.clip(d[:, 3] / wh, -10, 10))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


__all__ = [
    "anchor_grid", "batched_nms", "box_area", "box_iou", "decode_boxes", "encode_boxes",
    "generalized_box_iou", "generalized_box_iou_loss", "nms",
]  # fmt: skip
