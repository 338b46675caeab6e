"""A YOLO-style one-stage detector (Redmon et al. 2016): every grid cell predicts boxes directly.

A small convolutional backbone maps the image to an S x S grid (stride 4).  The
cell that contains a ground-truth box's centre is responsible for it and
predicts, in one pass:

- objectness $o$ (is there an object centred here?), trained with binary cross-entropy
  on every cell;
- the centre offset inside the cell $\\sigma(t_x), \\sigma(t_y)$ and the size
  $w = a\\,e^{t_w}$, $h = a\\,e^{t_h}$ relative to an anchor size a, trained with a squared
  error on responsible cells;
- class logits, trained with cross-entropy on responsible cells.

Detections are cells with $\\sigma(o)\\,\\max_c p_c$ above a threshold, decoded to boxes and
filtered by per-class non-maximum suppression.  One pass and no proposals make it
fast; one object per cell limits it on crowded scenes (the one-stage vs two-stage
trade-off).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.nn import (
    BatchNorm2d,
    Conv2d,
    MaxPool2d,
    Module,
    ReLU,
    Sequential,
)
from deepgrad.nn import functional as F
from deepgrad.ops import sigmoid, softmax

from .boxes import batched_nms


def conv_block(c_in: int, c_out: int) -> Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return Sequential(Conv2d(c_in, c_out, 3, padding=1, bias=False), BatchNorm2d(c_out), ReLU())


def backbone(in_channels: int, width: int) -> Sequential:
    """Stride-4 feature extractor: two conv blocks each followed by 2x2 max pooling, then one more."""
    return Sequential(conv_block(in_channels, width), MaxPool2d(2), conv_block(width, 2 * width),
                      MaxPool2d(2), conv_block(2 * width, 2 * width))  # fmt: skip


class OneStageDetector(Module):
    """YOLO-style detector on a stride-4 grid; `forward` gives raw (N, 5 + C, S, S) outputs."""

    stride = 4

    def __init__(self, num_classes: int = 3, in_channels: int = 1, width: int = 16,
                 anchor: float = 10.0) -> None:  # fmt: skip
        super().__init__()
        if num_classes < 1 or width < 1 or anchor <= 0:
            raise ValueError(
                f"OneStageDetector: num_classes and width must be >= 1 and anchor > 0, got "
                f"{num_classes}, {width}, {anchor}"
            )
        self.num_classes, self.anchor = num_classes, anchor
        self.features = backbone(in_channels, width)
        self.head = Conv2d(2 * width, 5 + num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def targets(self, shape: tuple[int, ...], boxes: Sequence[np.ndarray], labels):
        """Per-cell targets: objectness (N, S, S), and for responsible cells their index,
        offsets (tx, ty in [0, 1], log-size tw, th) and class."""
        n, _, s_h, s_w = shape
        obj = np.zeros((n, s_h, s_w), dtype=np.float32)
        cells, box_t, cls_t = [], [], []
        for i, (b, lab) in enumerate(zip(boxes, labels)):
            for (x1, y1, x2, y2), c in zip(np.asarray(b, dtype=np.float64), lab):
                cx, cy = (x1 + x2) / 2 / self.stride, (y1 + y2) / 2 / self.stride
                gi, gj = min(int(cy), s_h - 1), min(int(cx), s_w - 1)
                if obj[i, gi, gj]:
                    continue  # one object per cell: the first one keeps it
                obj[i, gi, gj] = 1.0
                cells.append((i, gi, gj))
                box_t.append([cx - gj, cy - gi, np.log((x2 - x1) / self.anchor),
                              np.log((y2 - y1) / self.anchor)])  # fmt: skip
                cls_t.append(int(c))
        return (
            obj,
            np.asarray(cells, dtype=np.int64).reshape(-1, 3),
            np.asarray(box_t, dtype=np.float32).reshape(-1, 4),
            np.asarray(cls_t, dtype=np.int64),
        )

    def loss(self, out: Tensor, boxes: Sequence[np.ndarray], labels, box_weight: float = 5.0,
             noobj_weight: float = 0.5) -> Tensor:  # fmt: skip
        """$\\mathcal L = \\mathrm{BCE}(o) + \\lambda_{box}\\,\\mathrm{SE}(box) + \\mathrm{CE}(class)$,
        negatives' objectness down-weighted by `noobj_weight` (Redmon et al. 2016)."""
        obj, cells, box_t, cls_t = self.targets(out.shape, boxes, labels)
        weight = np.where(obj > 0, 1.0, noobj_weight).astype(np.float32)
        loss = F.binary_cross_entropy_with_logits(out[:, 0], Tensor(obj), weight=Tensor(weight))
        if len(cells):
            i, gi, gj = cells.T
            pred = out[i, :, gi, gj]  # (P, 5 + C)
            xy = sigmoid(pred[:, 1:3])
            loss = loss + box_weight * F.mse_loss(xy, Tensor(box_t[:, :2]))
            loss = loss + box_weight * F.mse_loss(pred[:, 3:5], Tensor(box_t[:, 2:]))
            loss = loss + F.cross_entropy(pred[:, 5:], Tensor(cls_t))
        return loss

    def detect(self, x: Tensor, score_threshold: float = 0.3, iou_threshold: float = 0.4):
        """Per image: (boxes (k, 4), scores (k,), labels (k,)) after per-class NMS."""
        self.eval()
        with no_grad():
            out = self(x)._data
        results = []
        s_h, s_w = out.shape[2:]
        gy, gx = np.mgrid[0:s_h, 0:s_w]
        for o in out:
            prob = softmax(Tensor(o[5:]), axis=0)._data
            score = 1 / (1 + np.exp(-o[0])) * prob.max(axis=0)
            cls = prob.argmax(axis=0)
            keep = score > score_threshold
            cx = (gx + 1 / (1 + np.exp(-o[1]))) * self.stride
            cy = (gy + 1 / (1 + np.exp(-o[2]))) * self.stride
            w, h = (
                self.anchor * np.exp(np.clip(o[3], -5, 5)),
                self.anchor * np.exp(np.clip(o[4], -5, 5)),
            )
            b = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)[keep]
            sc, lab = score[keep], cls[keep]
            k = batched_nms(b, sc, lab, iou_threshold)
            results.append((b[k], sc[k], lab[k]))
        return results


__all__ = ["OneStageDetector", "backbone", "conv_block"]
