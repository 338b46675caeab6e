"""A generated detection and segmentation data set: circles, squares and triangles on noise.

Each image (1, H, W) in [0, 1] holds 1 to `max_objects` shapes of random size,
position and brightness over Gaussian noise, placed so that no two boxes
overlap by more than a little.  For every image the set gives the boxes
(x1, y1, x2, y2) in pixels, the class of each shape (0 circle, 1 square,
2 triangle), a semantic mask (0 background, 1 + class per pixel) and one binary
instance mask per shape.  Nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("circle", "square", "triangle")


@dataclass
class ShapesData:
    """Images (N, 1, H, W) float32, per-image boxes/labels/instance masks, semantic masks."""

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    masks: list[np.ndarray]  # per image: (k, H, W) bool, one per object
    semantic: np.ndarray  # (N, H, W) int64: 0 background, 1 + class

    def __len__(self) -> int:
        return len(self.images)


def _shape_mask(kind: int, cx: float, cy: float, r: float, yy: np.ndarray, xx: np.ndarray):
    if kind == 0:
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    if kind == 1:
        return (np.abs(xx - cx) <= r) & (np.abs(yy - cy) <= r)
    # an upward triangle inscribed in the box of half-size r
    top, bottom = cy - r, cy + r
    half_width = (yy - top) / (2 * r) * r
    return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half_width)


def make_shapes(
    n: int = 256, size: int = 32, max_objects: int = 3, min_radius: float = 3.0,
    max_radius: float = 7.0, noise: float = 0.1, seed: int = 0,
) -> ShapesData:  # fmt: skip
    """`n` images of `size` x `size` pixels with their boxes, labels and masks."""
    if size < 4 * max_radius:
        raise ValueError(f"make_shapes: size {size} is too small for radius {max_radius}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    images = rng.normal(0.0, noise, size=(n, 1, size, size))
    semantic = np.zeros((n, size, size), dtype=np.int64)
    all_boxes, all_labels, all_masks = [], [], []
    for i in range(n):
        boxes, labels, masks = [], [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(20):
                r = rng.uniform(min_radius, max_radius)
                cx, cy = rng.uniform(r, size - r, size=2)
                box = np.array([cx - r, cy - r, cx + r, cy + r])
                if all(_overlap(box, b) < 0.1 for b in boxes):
                    break
            else:
                continue
            kind = int(rng.integers(0, len(CLASSES)))
            mask = _shape_mask(kind, cx, cy, r, yy, xx)
            images[i, 0][mask] = rng.uniform(0.6, 1.0)
            semantic[i][mask] = kind + 1
            boxes.append(box)
            labels.append(kind)
            masks.append(mask)
        all_boxes.append(np.asarray(boxes, dtype=np.float32).reshape(-1, 4))
        all_labels.append(np.asarray(labels, dtype=np.int64))
        all_masks.append(np.asarray(masks, dtype=bool).reshape(-1, size, size))
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    return ShapesData(images, all_boxes, all_labels, all_masks, semantic)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


__all__ = ["CLASSES", "ShapesData", "make_shapes"]
