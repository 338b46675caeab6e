"""Detection: box arithmetic against brute force, RoI align against a scalar reference, and
both detectors learning the generated shapes.

torchvision's conventions: boxes are (x1, y1, x2, y2); NMS drops boxes whose IoU
with a kept box is strictly greater than the threshold; RoI align samples
bilinearly (out-of-range samples, more than one pixel outside, read 0) and
averages a sampling_ratio x sampling_ratio grid per bin.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.data.shapes import make_shapes
from deepgrad.models.detection import (
    OneStageDetector,
    TwoStageDetector,
    anchor_grid,
    batched_nms,
    box_iou,
    decode_boxes,
    encode_boxes,
    generalized_box_iou,
    generalized_box_iou_loss,
    matched_mask_iou,
    mean_average_precision,
    mean_iou,
    nms,
    roi_align,
    roi_pool,
)
from deepgrad.testing import gradcheck


def _rand_boxes(rng, n, size=20.0):
    xy = rng.uniform(0, size, size=(n, 2))
    wh = rng.uniform(0.5, size / 2, size=(n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _iou_brute(a, b):
    # count the overlap on a fine grid of the exact rectangle corners
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


@given(seed=st.integers(0, 10_000))
def test_iou_and_giou_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    a, b = _rand_boxes(rng, 4), _rand_boxes(rng, 3)
    iou = box_iou(a, b)
    for i in range(4):
        for j in range(3):
            assert iou[i, j] == pytest.approx(_iou_brute(a[i], b[j]))
            hull = (max(a[i, 2], b[j, 2]) - min(a[i, 0], b[j, 0])) * (
                max(a[i, 3], b[j, 3]) - min(a[i, 1], b[j, 1])
            )
            ai = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1])
            bj = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            union = (ai + bj) / (1 + iou[i, j])  # from inter = iou * union, union = a + b - inter
            expect = iou[i, j] - (hull - union) / hull
            assert generalized_box_iou(a, b)[i, j] == pytest.approx(expect)


def _nms_brute(boxes, scores, thr):
    keep = []
    for i in sorted(range(len(boxes)), key=lambda k: (-scores[k], k)):
        if all(_iou_brute(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


@given(seed=st.integers(0, 10_000), thr=st.sampled_from([0.0, 0.3, 0.5, 0.7]))
def test_nms_matches_the_greedy_definition(seed, thr):
    rng = np.random.default_rng(seed)
    boxes, scores = _rand_boxes(rng, 12, size=10), rng.random(12)
    assert nms(boxes, scores, thr).tolist() == _nms_brute(boxes, scores, thr)


def test_batched_nms_never_suppresses_across_classes():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [1, 1, 10, 10]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7])
    assert sorted(batched_nms(boxes, scores, np.array([0, 1, 0]), 0.5).tolist()) == [0, 1]
    assert nms(boxes, scores, 0.5).tolist() == [0]


def test_box_coding_round_trips_and_anchors_are_centred():
    rng = np.random.default_rng(0)
    anchors, boxes = _rand_boxes(rng, 6), _rand_boxes(rng, 6)
    assert np.allclose(decode_boxes(encode_boxes(boxes, anchors), anchors), boxes)
    a = anchor_grid((2, 3), 8, sizes=[4.0], aspect_ratios=[1.0, 4.0])
    assert a.shape == (12, 4)
    assert np.allclose(a[0], [2, 2, 6, 6]) and np.allclose(a[1], [3, 0, 5, 8])


def test_giou_loss_is_differentiable_and_zero_on_a_match():
    rng = np.random.default_rng(1)
    t = dg.tensor(_rand_boxes(rng, 3))
    assert float(generalized_box_iou_loss(t, t).data) == pytest.approx(0.0, abs=1e-6)
    p = dg.tensor(_rand_boxes(rng, 3), requires_grad=True)
    assert gradcheck(lambda q: generalized_box_iou_loss(q, t), [p])


def _bilinear_ref(img, y, x):
    h, w = img.shape
    if y < -1 or y > h or x < -1 or x > w:
        return 0.0
    y, x = max(y, 0.0), max(x, 0.0)
    y0, x0 = min(int(y), h - 1), min(int(x), w - 1)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    y = float(y0) if y0 >= h - 1 else y
    x = float(x0) if x0 >= w - 1 else x
    ly, lx = y - y0, x - x0
    return ((1 - ly) * (1 - lx) * img[y0, x0] + (1 - ly) * lx * img[y0, x1]
            + ly * (1 - lx) * img[y1, x0] + ly * lx * img[y1, x1])  # fmt: skip


def _roi_align_ref(x, boxes, ph, pw, scale, ratio, aligned):
    out = np.zeros((len(boxes), x.shape[1], ph, pw))
    off = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(boxes):
        x1, y1, x2, y2 = x1 * scale - off, y1 * scale - off, x2 * scale - off, y2 * scale - off
        rw, rh = x2 - x1, y2 - y1
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        gh = ratio if ratio > 0 else max(int(np.ceil(rh / ph)), 1)
        gw = ratio if ratio > 0 else max(int(np.ceil(rw / pw)), 1)
        for c in range(x.shape[1]):
            for i in range(ph):
                for j in range(pw):
                    acc = 0.0
                    for u in range(gh):
                        for v in range(gw):
                            yy = y1 + i * rh / ph + (u + 0.5) * rh / ph / gh
                            xx = x1 + j * rw / pw + (v + 0.5) * rw / pw / gw
                            acc += _bilinear_ref(x[int(b), c], yy, xx)
                    out[k, c, i, j] = acc / (gh * gw)
    return out


@pytest.mark.parametrize("ratio,aligned", [(2, True), (-1, False), (1, False), (-1, True)])
def test_roi_align_matches_scalar_reference(ratio, aligned):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 9, 8))
    boxes = np.array([[0, 1.2, 0.7, 13.0, 9.5], [1, -2.0, 3.0, 6.0, 17.0], [1, 4, 4, 4.5, 4.2]])
    out = roi_align(dg.tensor(x), boxes, (3, 2), spatial_scale=0.5, sampling_ratio=ratio,
                    aligned=aligned)  # fmt: skip
    ref = _roi_align_ref(x, boxes, 3, 2, 0.5, ratio, aligned)
    assert np.allclose(out.numpy(), ref, atol=1e-12)


def test_roi_align_of_the_whole_map_is_the_identity():
    x = np.random.default_rng(2).normal(size=(1, 2, 5, 6))
    out = roi_align(dg.tensor(x), np.array([[0, 0, 0, 6, 5]]), (5, 6), sampling_ratio=1,
                    aligned=True)  # fmt: skip
    assert np.allclose(out.numpy()[0], x[0])


def test_roi_align_and_pool_gradients_are_checked():
    rng = np.random.default_rng(3)
    boxes = np.array([[0, 0.5, 0.5, 4.5, 3.5], [1, 1, 0, 5, 5]])
    x = dg.tensor(rng.normal(size=(2, 2, 6, 6)), requires_grad=True)
    assert gradcheck(lambda t: roi_align(t, boxes, 2, sampling_ratio=-1), [x])
    assert gradcheck(lambda t: roi_pool(t, boxes, 2), [x])


def test_roi_pool_takes_bin_maxima():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    out = roi_pool(dg.tensor(x), np.array([[0, 0, 0, 3, 3]]), 2)
    assert out.data[0, 0].tolist() == [[5.0, 7.0], [13.0, 15.0]]
    with pytest.raises(IndexError, match="roi_pool: box 0 names batch image 2"):
        roi_pool(dg.tensor(x), np.array([[2, 0, 0, 3, 3]]), 2)


def test_matched_mask_iou_on_a_known_case():
    gt_boxes = [np.array([[0, 0, 4, 4], [10, 10, 14, 14]], dtype=float)]
    gt_masks = [np.zeros((2, 16, 16), dtype=bool)]
    gt_masks[0][0, :4, :4] = True  # 16 pixels
    gt_masks[0][1, 10:14, 10:14] = True
    pred = np.zeros((2, 16, 16), dtype=bool)
    pred[0, :4, :2] = True  # half of the first object: IoU 8 / 16
    pred[1, 10:14, 10:14] = True  # the second exactly: IoU 1
    dets = [(np.array([[0, 0, 4, 4], [10, 10, 14, 14]], float), np.ones(2), np.zeros(2), pred)]
    assert matched_mask_iou(dets, gt_boxes, gt_masks) == pytest.approx(0.75)
    far = [(np.array([[20, 20, 24, 24]], float), np.ones(1), np.zeros(1), pred[:1])]
    assert matched_mask_iou(far, [np.array([[0, 0, 4, 4]], float)], gt_masks) == 0.0


def test_map_and_miou_on_known_cases():
    gt = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 0]))]
    perfect = [(gt[0][0], np.array([0.9, 0.8]), np.array([0, 0]))]
    assert mean_average_precision(perfect, gt)["map"] == pytest.approx(1.0)
    # one hit, then a false positive with a higher score: precision 1/2 at recall 1/2, ...
    half = [(np.array([[50, 50, 60, 60], [0, 0, 10, 10]]), np.array([0.9, 0.8]), np.array([0, 0]))]
    assert mean_average_precision(half, gt)["map"] == pytest.approx(0.25)
    pred = np.array([[0, 1], [1, 1]])
    target = np.array([[0, 1], [0, 1]])
    r = mean_iou(pred, target, 2)
    assert r["iou_0"] == pytest.approx(0.5) and r["iou_1"] == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def shapes():
    return make_shapes(48, seed=0)


def _fit(model, data, steps, loss_fn, lr=3e-3):
    opt = dg.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        idx = np.arange(step * 16, step * 16 + 16) % len(data)
        model.train()
        opt.zero_grad()
        loss_fn(idx).backward()
        opt.step()


def test_one_stage_detector_overfits_a_small_set(shapes):
    dg.manual_seed(0)
    model = OneStageDetector(width=8)

    def loss_fn(idx):
        out = model(dg.tensor(shapes.images[idx]))
        return model.loss(out, [shapes.boxes[i] for i in idx], [shapes.labels[i] for i in idx])

    _fit(model, shapes, 250, loss_fn, lr=5e-3)
    dets = model.detect(dg.tensor(shapes.images))
    result = mean_average_precision(dets, list(zip(shapes.boxes, shapes.labels)))
    assert result["map"] > 0.8, result


@pytest.mark.slow
def test_two_stage_detector_overfits_a_small_set(shapes):
    dg.manual_seed(0)
    model = TwoStageDetector(width=8)

    def loss_fn(idx):
        return model.loss(dg.tensor(shapes.images[idx]), [shapes.boxes[i] for i in idx],
                          [shapes.labels[i] for i in idx], [shapes.masks[i] for i in idx])  # fmt: skip

    _fit(model, shapes, 120, loss_fn)
    dets = model.detect(dg.tensor(shapes.images))
    result = mean_average_precision([d[:3] for d in dets], list(zip(shapes.boxes, shapes.labels)))
    assert result["map"] > 0.8, result
    overlap = matched_mask_iou(dets, shapes.boxes, shapes.masks)
    assert overlap > 0.6, overlap


def test_two_stage_detector_learns_and_returns_masks(shapes):
    dg.manual_seed(0)
    model = TwoStageDetector(width=8)
    batch = np.arange(16)
    images = dg.tensor(shapes.images[batch])
    args = ([shapes.boxes[i] for i in batch], [shapes.labels[i] for i in batch],
            [shapes.masks[i] for i in batch])  # fmt: skip
    first = float(model.loss(images, *args).data)
    _fit(model, shapes, 25, lambda idx: model.loss(dg.tensor(shapes.images[idx]),
         [shapes.boxes[i] for i in idx], [shapes.labels[i] for i in idx],
         [shapes.masks[i] for i in idx]))  # fmt: skip
    model.train()
    assert float(model.loss(images, *args).data) < 0.7 * first
    boxes, scores, labels, masks = model.detect(images[:2], score_threshold=0.0)[0]
    assert boxes.shape[1] == 4 and len(scores) == len(labels) == len(masks)
    assert masks.dtype == bool and masks.shape[1:] == (32, 32)
