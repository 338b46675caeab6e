"""segment-shapes: semantic segmentation of the generated shapes with FCN-8s and U-Net.

Every pixel is classified as background, circle, square or triangle (Long et
al. 2015; Ronneberger et al. 2015).  FCN-8s fuses coarse predictions upsampled
from three depths; U-Net concatenates encoder features into its decoder at
every scale, which keeps boundaries sharp.  The run reports mean IoU over the
classes on held-out images and draws predicted label maps under the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots, plots_vision
from deepgrad.core.random import manual_seed
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.data.shapes import CLASSES, make_shapes
from deepgrad.models.detection import mean_iou
from deepgrad.models.segmentation import FCN8s, UNet
from deepgrad.nn import functional as F

from ._experiment import Experiment, tag

NAME = "segment-shapes"
DESCRIPTION = "semantic segmentation of generated shapes: FCN-8s vs U-Net, mean IoU"
QUICK = {"epochs": 1, "train_images": 32, "test_images": 8}


def default_config() -> dict[str, Any]:
    return {"epochs": 10, "lr": 0.003, "batch_size": 16, "width": 8, "train_images": 384,
            "test_images": 64, "seed": 0}  # fmt: skip


def _models(width: int) -> dict[str, Any]:
    k = len(CLASSES) + 1
    return {
        "FCN-8s": FCN8s(k, in_channels=1, widths=(width, 2 * width, 4 * width, 4 * width, 4 * width),
                        depths=(1, 1, 1, 1, 1), fc_channels=8 * width),
        "U-Net": UNet(k, in_channels=1, depth=2, width=width),
    }  # fmt: skip


def _predict(model, images: np.ndarray) -> np.ndarray:
    model.eval()
    with no_grad():
        return model(Tensor(images))._data.argmax(axis=1)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train = make_shapes(config["train_images"], seed=config["seed"])
    test = make_shapes(config["test_images"], seed=config["seed"] + 1)
    k = len(CLASSES) + 1
    rows, curves, shown = [], {}, {"truth": test.semantic[:8]}
    manual_seed(config["seed"])
    models = _models(config["width"])
    arms = exp.arms(len(models))
    for name, model in models.items():
        arms.start(name)
        opt = optim.Adam(model.parameters(), lr=config["lr"])
        rng = np.random.default_rng(config["seed"])
        records = []
        for epoch in range(1, config["epochs"] + 1):
            model.train()
            order, total = rng.permutation(len(train)), 0.0
            for s in range(0, len(order), config["batch_size"]):
                idx = order[s : s + config["batch_size"]]
                opt.zero_grad()
                loss = F.cross_entropy(
                    model(Tensor(train.images[idx])), Tensor(train.semantic[idx])
                )
                loss.backward()
                opt.step()
                total += float(loss._data) * len(idx)
            miou = mean_iou(_predict(model, test.images), test.semantic, k)["miou"]
            records.append({"epoch": epoch, "loss": total / len(train), "test_miou": miou})
        exp.records += tag(records, model=name)
        curves[name] = [r["test_miou"] for r in records]
        pred = _predict(model, test.images)
        result = mean_iou(pred, test.semantic, k)
        rows.append({"model": name, "mIoU": result["miou"],
                     **{f"IoU {c}": result.get(f"iou_{j}", 0.0)
                        for j, c in enumerate(("background", *CLASSES))}})  # fmt: skip
        shown[name] = pred[:8]
        arms.end(f"mIoU {result['miou']:.3f}")
    exp.plots.append(plots.curves(curves, exp.out / "miou.png",
                                  "Shapes: mean IoU on held-out images", ylabel="mean IoU"))  # fmt: skip
    exp.plots.append(plots_vision.segmentations(test.images[:8, 0], shown, exp.out / "segmentations.png",
                                         "Held-out images, true and predicted label maps",
                                         CLASSES))  # fmt: skip
    exp.table("Segmentation", rows, "IoU per class on the held-out images.")
    return exp.finish()
