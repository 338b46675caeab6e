"""detect-shapes: a one-stage (YOLO-style) and a two-stage (RPN + RoI head) detector compared.

Both learn to find circles, squares and triangles on noise (`deepgrad.data.shapes`)
with the same backbone, optimizer and epochs; the run reports mAP@0.5 on held-out
images, the two-stage detector's mask IoU, and the time per image of each, which
is the trade-off the notes teach: one pass over a grid is fast, proposals plus
per-object features are more accurate on small or crowded objects.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots, plots_vision
from deepgrad.core.random import manual_seed
from deepgrad.core.tensor import Tensor
from deepgrad.data.shapes import CLASSES, make_shapes
from deepgrad.models.detection import (
    OneStageDetector,
    TwoStageDetector,
    matched_mask_iou,
    mean_average_precision,
)

from ._experiment import Experiment, tag

NAME = "detect-shapes"
DESCRIPTION = "one-stage (YOLO-style) vs two-stage (RPN + RoI align + masks) detection of shapes"
QUICK = {"epochs": 1, "train_images": 64, "test_images": 16}


def default_config() -> dict[str, Any]:
    return {"epochs": 12, "lr": 0.003, "batch_size": 32, "width": 16, "train_images": 512,
            "test_images": 128, "seed": 0}  # fmt: skip


def _train(model, loss_fn, train, config, on_epoch):
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    rng = np.random.default_rng(config["seed"])
    records = []
    for epoch in range(1, config["epochs"] + 1):
        model.train()
        order, total, start = rng.permutation(len(train)), 0.0, time.perf_counter()
        batches = range(0, len(order), config["batch_size"])
        for k in batches:
            idx = order[k : k + config["batch_size"]]
            opt.zero_grad()
            loss = loss_fn(idx)
            loss.backward()
            opt.step()
            total += float(loss._data)
        records.append({"epoch": epoch, "loss": total / len(batches),
                        "train_s": time.perf_counter() - start, **on_epoch()})  # fmt: skip
    return records


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train = make_shapes(config["train_images"], seed=config["seed"])
    test = make_shapes(config["test_images"], seed=config["seed"] + 1)
    truth = list(zip(test.boxes, test.labels))
    images = Tensor(test.images)
    rows, maps, shown = [], {}, {}
    arms = exp.arms(2)
    for name in ["one-stage", "two-stage"]:
        arms.start(f"{name} detector")
        manual_seed(config["seed"])
        if name == "one-stage":
            model = OneStageDetector(width=config["width"])

            def loss_fn(idx, model=model):
                out = model(Tensor(train.images[idx]))
                return model.loss(
                    out, [train.boxes[i] for i in idx], [train.labels[i] for i in idx]
                )
        else:
            model = TwoStageDetector(width=config["width"], seed=config["seed"])

            def loss_fn(idx, model=model):
                return model.loss(Tensor(train.images[idx]), [train.boxes[i] for i in idx],
                                  [train.labels[i] for i in idx], [train.masks[i] for i in idx])  # fmt: skip

        def evaluate(model=model):
            return {
                "map": mean_average_precision([d[:3] for d in model.detect(images)], truth)["map"]
            }

        records = _train(model, loss_fn, train, config, evaluate)
        exp.records += tag(records, detector=name)
        maps[name] = [r["map"] for r in records]
        start = time.perf_counter()
        dets = model.detect(images)
        per_image_ms = 1000 * (time.perf_counter() - start) / len(test)
        result = mean_average_precision([d[:3] for d in dets], truth)
        row = {"detector": name, "mAP@0.5": result["map"],
               **{f"AP {c}": result.get(f"ap_{k}", 0.0) for k, c in enumerate(CLASSES)},
               "ms per image": per_image_ms,
               "train s per epoch": float(np.mean([r["train_s"] for r in records]))}  # fmt: skip
        row["mask IoU"] = (
            matched_mask_iou(dets, test.boxes, test.masks)
            if name == "two-stage"
            else "n/a (no masks)"
        )
        rows.append(row)
        shown[name] = dets[:8]
        arms.end(f"mAP@0.5 {result['map']:.3f}")
    exp.plots.append(plots.curves(maps, exp.out / "map.png", "Shapes: mAP@0.5 on held-out images",
                                  ylabel="mAP@0.5"))  # fmt: skip
    exp.plots.append(plots_vision.detections(test.images[:8, 0], shown, exp.out / "detections.png",
                                      "Detections on held-out images (score on each box)",
                                      CLASSES, truth=test.boxes[:8]))  # fmt: skip
    exp.table("Detectors", rows, "mAP and speed measured on the held-out images.")
    return exp.finish()
