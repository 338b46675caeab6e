"""Detection and segmentation: box arithmetic, RoI pooling, metrics and two detectors.

- `boxes`: IoU/GIoU, NMS and per-class NMS, anchors, box encoding (torchvision.ops semantics);
- `deepgrad.ops.roi`: RoI align and RoI pool with VJPs (re-exported here);
- `metrics`: mAP@0.5 (PASCAL VOC) and mean IoU;
- `one_stage`: a YOLO-style detector on a grid.
"""

from deepgrad.ops.roi import roi_align, roi_pool

from .boxes import (
    anchor_grid,
    batched_nms,
    box_area,
    box_iou,
    decode_boxes,
    encode_boxes,
    generalized_box_iou,
    generalized_box_iou_loss,
    nms,
)
from .metrics import average_precision, matched_mask_iou, mean_average_precision, mean_iou
from .one_stage import OneStageDetector
from .two_stage import TwoStageDetector

__all__ = [
    "OneStageDetector", "TwoStageDetector", "anchor_grid", "average_precision", "batched_nms", "box_area", "box_iou",
    "decode_boxes", "encode_boxes", "generalized_box_iou", "generalized_box_iou_loss",
    "matched_mask_iou", "mean_average_precision", "mean_iou", "nms", "roi_align", "roi_pool",
]  # fmt: skip
