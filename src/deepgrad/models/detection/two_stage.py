"""A two-stage detector with a mask head: region proposals, RoI align, classification, masks.

Stage one, the region proposal network (Ren et al. 2015), scores anchors of
several sizes at every feature-map cell and regresses their boxes; the best
proposals after non-maximum suppression go to stage two.  Stage two reads a
fixed-size feature grid from each proposal with RoI align (He et al. 2017),
classifies it (C classes + background), refines its box and predicts a 14x14
instance mask per class (Mask R-CNN).  Two passes make it slower than a
one-stage detector but each object gets its own features, which helps with
small and crowded objects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.nn import Conv2d, Linear, Module, ReLU, Sequential
from deepgrad.nn import functional as F
from deepgrad.ops import relu, sigmoid, softmax
from deepgrad.ops.roi import roi_align

from .boxes import anchor_grid, batched_nms, box_iou, decode_boxes, encode_boxes, nms
from .one_stage import backbone


def _sample(pos: np.ndarray, neg: np.ndarray, total: int, pos_fraction: float, rng):
    """Random subsets of positive and negative indices (at most pos_fraction positives)."""
    n_pos = min(len(pos), int(total * pos_fraction))
    n_neg = min(len(neg), total - n_pos)
    return rng.permutation(pos)[:n_pos], rng.permutation(neg)[:n_neg]


class TwoStageDetector(Module):
    """Region proposals + RoI head + mask head on a stride-4 backbone."""

    stride = 4

    def __init__(self, num_classes: int = 3, in_channels: int = 1, width: int = 16,
                 anchor_sizes: Sequence[float] = (6.0, 10.0, 14.0), image_size: int = 32,
                 seed: int = 0) -> None:  # fmt: skip
        super().__init__()
        if num_classes < 1 or width < 1 or not anchor_sizes:
            raise ValueError(
                f"TwoStageDetector: needs num_classes >= 1, width >= 1 and anchor sizes, got "
                f"{num_classes}, {width}, {tuple(anchor_sizes)}"
            )
        c = 2 * width
        self.num_classes, self.image_size = num_classes, image_size
        self.anchor_sizes = tuple(anchor_sizes)
        self.features = backbone(in_channels, width)
        self.rpn_conv = Conv2d(c, c, 3, padding=1)
        self.rpn_obj = Conv2d(c, len(anchor_sizes), 1)
        self.rpn_box = Conv2d(c, 4 * len(anchor_sizes), 1)
        self.box_head = Sequential(Linear(c * 16, 64), ReLU())
        self.cls = Linear(64, num_classes + 1)
        self.reg = Linear(64, 4)
        self.mask_head = Sequential(Conv2d(c, c, 3, padding=1), ReLU(), Conv2d(c, c, 3, padding=1),
                                    ReLU())  # fmt: skip
        self.mask_out = Conv2d(c, num_classes, 1)
        self.rng = np.random.default_rng(seed)

    def anchors(self, feature_shape: tuple[int, int]) -> np.ndarray:
        return anchor_grid(feature_shape, self.stride, self.anchor_sizes)

    def _rpn(self, feats: Tensor):
        """Objectness (N, H*W*A) and deltas (N, H*W*A, 4), anchors ordered as `anchor_grid`."""
        h = relu(self.rpn_conv(feats))
        n, a = feats.shape[0], len(self.anchor_sizes)
        obj = self.rpn_obj(h).permute(0, 2, 3, 1).reshape((n, -1))
        box = self.rpn_box(h).reshape((n, a, 4) + tuple(feats.shape[2:]))
        return obj, box.permute(0, 3, 4, 1, 2).reshape((n, -1, 4))

    def proposals(self, obj: Tensor, deltas: Tensor, anchors: np.ndarray, pre: int = 200,
                  post: int = 32) -> list[np.ndarray]:  # fmt: skip
        """Per image, up to `post` boxes: decoded, clipped, top `pre` by score, NMS at 0.7."""
        out = []
        for o, d in zip(obj._data, deltas._data):
            boxes = np.clip(decode_boxes(d, anchors), 0, self.image_size)
            keep = np.flatnonzero((boxes[:, 2] - boxes[:, 0] > 1) & (boxes[:, 3] - boxes[:, 1] > 1))
            keep = keep[np.argsort(-o[keep])[:pre]]
            keep = keep[nms(boxes[keep], o[keep], 0.7)[:post]]
            out.append(boxes[keep])
        return out

    def _rpn_loss(self, obj, deltas, anchors, gt_boxes) -> Tensor:
        rows, labels, reg_rows, reg_t = [], [], [], []
        for i, gt in enumerate(gt_boxes):
            iou = box_iou(anchors, gt) if len(gt) else np.zeros((len(anchors), 0))
            best = iou.max(axis=1) if len(gt) else np.zeros(len(anchors))
            pos_mask = best >= 0.5
            if len(gt):
                pos_mask[iou.argmax(axis=0)] = True  # every object gets its best anchor
            pos, neg = _sample(np.flatnonzero(pos_mask), np.flatnonzero(best < 0.3), 64, 0.5,
                               self.rng)  # fmt: skip
            rows += [(i, k) for k in pos] + [(i, k) for k in neg]
            labels += [1.0] * len(pos) + [0.0] * len(neg)
            if len(pos):
                reg_rows += [(i, k) for k in pos]
                reg_t.append(encode_boxes(gt[iou[pos].argmax(axis=1)], anchors[pos]))
        r = np.asarray(rows).T
        loss = F.binary_cross_entropy_with_logits(obj[r[0], r[1]], Tensor(np.float32(labels)))
        if reg_rows:
            q = np.asarray(reg_rows).T
            target = Tensor(np.concatenate(reg_t).astype(np.float32))
            loss = loss + F.smooth_l1_loss(deltas[q[0], q[1]], target, beta=1 / 9)
        return loss

    def _rois(self, props: list[np.ndarray], gt_boxes, gt_labels):
        """Sampled RoIs (K, 5), their labels (0 = background) and, for foreground, targets."""
        rois, labels, reg_t, match = [], [], [], []
        for i, (p, gt, lab) in enumerate(zip(props, gt_boxes, gt_labels)):
            p = np.concatenate([p, gt]) if len(gt) else p
            iou = box_iou(p, gt) if len(gt) else np.zeros((len(p), 0))
            best = iou.max(axis=1) if len(gt) else np.zeros(len(p))
            arg = iou.argmax(axis=1) if len(gt) else np.zeros(len(p), dtype=np.int64)
            fg, bg = _sample(np.flatnonzero(best >= 0.5), np.flatnonzero(best < 0.5), 32, 0.25,
                             self.rng)  # fmt: skip
            for k in np.concatenate([fg, bg]).astype(np.int64):
                rois.append([i, *p[k]])
                is_fg = best[k] >= 0.5
                labels.append(int(lab[arg[k]]) + 1 if is_fg else 0)
                match.append((i, int(arg[k])) if is_fg else None)
                reg_t.append(
                    encode_boxes(gt[arg[k]][None], p[k][None])[0] if is_fg else np.zeros(4)
                )
        return np.asarray(rois), np.asarray(labels), np.asarray(reg_t, np.float32), match

    def _head(self, feats: Tensor, rois: np.ndarray):
        grid = roi_align(feats, rois, 4, 1 / self.stride, sampling_ratio=2, aligned=True)
        h = self.box_head(grid.reshape((len(rois), -1)))
        return self.cls(h), self.reg(h)

    def _masks(self, feats: Tensor, rois: np.ndarray) -> Tensor:
        grid = roi_align(feats, rois, 7, 1 / self.stride, sampling_ratio=2, aligned=True)
        up = F.interpolate(self.mask_head(grid), scale_factor=2, mode="nearest")
        return self.mask_out(up)  # (K, C, 14, 14) logits

    def loss(self, images: Tensor, gt_boxes, gt_labels, gt_masks) -> Tensor:
        """RPN + box head + mask head losses (each a mean)."""
        feats = self.features(images)
        anchors = self.anchors(tuple(feats.shape[2:]))
        obj, deltas = self._rpn(feats)
        loss = self._rpn_loss(obj, deltas, anchors, gt_boxes)
        rois, labels, reg_t, match = self._rois(self.proposals(obj, deltas, anchors), gt_boxes,
                                                gt_labels)  # fmt: skip
        logits, reg = self._head(feats, rois)
        loss = loss + F.cross_entropy(logits, Tensor(labels))
        fg = np.flatnonzero(labels > 0)
        if len(fg):
            loss = loss + F.smooth_l1_loss(reg[fg], Tensor(reg_t[fg]), beta=1 / 9)
            masks = self._masks(feats, rois[fg])
            target = self._mask_targets(gt_masks, [match[k] for k in fg], rois[fg])
            picked = masks[np.arange(len(fg)), labels[fg] - 1]
            loss = loss + F.binary_cross_entropy_with_logits(picked, Tensor(target))
        return loss

    def _mask_targets(self, gt_masks, matches, rois) -> np.ndarray:
        """Each matched object's mask read into its RoI's 14x14 grid (RoI align), thresholded."""
        masks = np.stack([gt_masks[i][j] for i, j in matches])[:, None].astype(np.float32)
        boxes = np.concatenate([np.arange(len(rois))[:, None], rois[:, 1:]], axis=1)
        grid = roi_align(Tensor(masks), boxes, 14, 1.0, sampling_ratio=2, aligned=True)
        return (grid._data[:, 0] >= 0.5).astype(np.float32)

    def detect(self, images: Tensor, score_threshold: float = 0.5, iou_threshold: float = 0.4):
        """Per image: (boxes, scores, labels, masks (k, H, W) bool) after per-class NMS."""
        self.eval()
        results = []
        with no_grad():
            feats = self.features(images)
            anchors = self.anchors(tuple(feats.shape[2:]))
            obj, deltas = self._rpn(feats)
            for i, p in enumerate(self.proposals(obj, deltas, anchors)):
                results.append(self._detect_one(feats, i, p, score_threshold, iou_threshold))
        return results

    def _detect_one(self, feats, i, props, score_threshold, iou_threshold):
        size = self.image_size
        empty = (
            np.zeros((0, 4)),
            np.zeros(0),
            np.zeros(0, np.int64),
            np.zeros((0, size, size), bool),
        )
        if not len(props):
            return empty
        rois = np.concatenate([np.full((len(props), 1), i), props], axis=1)
        logits, reg = self._head(feats, rois)
        prob = softmax(logits, axis=1)._data
        label = prob[:, 1:].argmax(axis=1)
        score = prob[np.arange(len(props)), label + 1]
        boxes = np.clip(decode_boxes(reg._data, props), 0, size)
        keep = np.flatnonzero(score > score_threshold)
        keep = keep[batched_nms(boxes[keep], score[keep], label[keep], iou_threshold)]
        if not len(keep):
            return empty
        final = np.concatenate([np.full((len(keep), 1), i), boxes[keep]], axis=1)
        m = sigmoid(self._masks(feats, final))._data[np.arange(len(keep)), label[keep]]
        return boxes[keep], score[keep], label[keep], self._paste(m, boxes[keep])

    def _paste(self, masks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """14x14 mask probabilities placed into full-size boolean masks (nearest sampling)."""
        size = self.image_size
        out = np.zeros((len(masks), size, size), dtype=bool)
        centres = np.arange(size) + 0.5
        for k, (m, (x1, y1, x2, y2)) in enumerate(zip(masks, boxes)):
            fy = (centres - y1) / max(y2 - y1, 1e-6) * m.shape[0]
            fx = (centres - x1) / max(x2 - x1, 1e-6) * m.shape[1]
            iy, ix = np.floor(fy).astype(int), np.floor(fx).astype(int)
            inside = (iy >= 0) & (iy < m.shape[0])
            inside_x = (ix >= 0) & (ix < m.shape[1])
            sub = m[np.clip(iy, 0, m.shape[0] - 1)][:, np.clip(ix, 0, m.shape[1] - 1)] >= 0.5
            out[k] = sub & inside[:, None] & inside_x[None, :]
        return out


__all__ = ["TwoStageDetector"]
