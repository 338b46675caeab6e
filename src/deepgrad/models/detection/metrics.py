"""Detection and segmentation metrics: average precision at an IoU threshold, and mean IoU.

mAP@0.5 follows PASCAL VOC (Everingham et al. 2010): per class, detections are
sorted by score and matched greedily to unmatched ground-truth boxes of the same
image with IoU >= 0.5; AP is the area under the precision-recall curve with
precision made monotone (all-point interpolation); mAP averages over classes
that have ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .boxes import box_iou


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone precision envelope, $\\sum_k (r_k - r_{k-1}) \\max_{j \\ge k} p_j$."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(
    detections: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    ground_truth: Sequence[tuple[np.ndarray, np.ndarray]],
    iou_threshold: float = 0.5,
) -> dict[str, float]:
    """mAP over images: `detections[i] = (boxes, scores, labels)`, `ground_truth[i] = (boxes, labels)`.

    Returns {"map": mean over classes, "ap_<c>": AP of class c}.
    """
    if len(detections) != len(ground_truth):
        raise ValueError(
            f"mean_average_precision: {len(detections)} detection lists for "
            f"{len(ground_truth)} images"
        )
    classes = sorted({int(c) for _, labels in ground_truth for c in np.asarray(labels)})
    out = {}
    for c in classes:
        scored = []  # (score, image, box)
        n_gt = 0
        for i, ((boxes, scores, labels), (gt_boxes, gt_labels)) in enumerate(
            zip(detections, ground_truth)
        ):
            n_gt += int(np.sum(np.asarray(gt_labels) == c))
            for b, s in zip(np.asarray(boxes)[np.asarray(labels) == c],
                            np.asarray(scores)[np.asarray(labels) == c]):  # fmt: skip
                scored.append((float(s), i, b))
        scored.sort(key=lambda t: -t[0])
        matched = [np.zeros(int(np.sum(np.asarray(gl) == c)), dtype=bool) for _, gl in ground_truth]
        tp = np.zeros(len(scored))
        for k, (_, i, b) in enumerate(scored):
            gt_boxes, gt_labels = ground_truth[i]
            gt = np.asarray(gt_boxes, dtype=float).reshape(-1, 4)[np.asarray(gt_labels) == c]
            if not len(gt):
                continue
            iou = box_iou(b[None], gt)[0]
            iou[matched[i]] = -1.0
            j = int(np.argmax(iou))
            if iou[j] >= iou_threshold:
                matched[i][j] = True
                tp[k] = 1.0
        cum_tp = np.cumsum(tp)
        recall = cum_tp / max(n_gt, 1)
        precision = cum_tp / np.arange(1, len(scored) + 1)
        out[f"ap_{c}"] = average_precision(recall, precision) if len(scored) else 0.0
    out["map"] = float(np.mean([out[f"ap_{c}"] for c in classes])) if classes else 0.0
    return out


def mean_iou(pred: np.ndarray, target: np.ndarray, num_classes: int) -> dict[str, float]:
    """Semantic segmentation: per-class $|P_c \\cap T_c| / |P_c \\cup T_c|$ and their mean
    over classes present in prediction or target."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"mean_iou: prediction {pred.shape} and target {target.shape} differ")
    out, ious = {}, []
    for c in range(num_classes):
        p, t = pred == c, target == c
        union = np.sum(p | t)
        if union:
            out[f"iou_{c}"] = float(np.sum(p & t) / union)
            ious.append(out[f"iou_{c}"])
    out["miou"] = float(np.mean(ious)) if ious else 0.0
    return out


def matched_mask_iou(detections, gt_boxes, gt_masks, iou_threshold: float = 0.5) -> float:
    r"""Mean IoU of predicted and true instance masks, $|M \cap G| / |M \cup G|$, over the
    detections whose box matches a true box at IoU >= `iou_threshold` (the best one).

    `detections[i] = (boxes, scores, labels, masks)` per image, masks boolean (k, H, W).
    """
    overlaps = []
    for (boxes, _, _, masks), gtb, gtm in zip(detections, gt_boxes, gt_masks):
        if len(boxes) and len(gtb):
            iou = box_iou(boxes, gtb)
            for a, j in enumerate(iou.argmax(axis=1)):
                if iou[a, j] >= iou_threshold:
                    overlaps.append((masks[a] & gtm[j]).sum() / (masks[a] | gtm[j]).sum())
    return float(np.mean(overlaps)) if overlaps else 0.0


__all__ = ["average_precision", "matched_mask_iou", "mean_average_precision", "mean_iou"]
