"""cyclegan: CycleGAN (Zhu et al. 2017) between two unpaired MNIST domains.

Domain A is digits, domain B the same kind of digits transformed (`domain_b`: colour
inverted, or rotated by 90 degrees), drawn from *disjoint* halves of the training set so
no pair is ever seen.  Two generators, two PatchGAN discriminators, least-squares GAN
loss, cycle-consistency weight 10 and identity weight 5.  Plots: test digits translated
A -> B -> A and B -> A -> B, and the loss curves.  Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.models.generative import CycleGAN
from deepgrad.train.progress import Progress

from ._common import RecipeError
from ._experiment import Experiment
from ._generative import data_config, load_digits, mosaic

NAME = "cyclegan"
DESCRIPTION = "CycleGAN between unpaired MNIST domains (digits <-> inverted or rotated digits)"
QUICK = {"steps": 4, "width": 4, "batch_size": 8, "subset": 128, "test_subset": 16}
DOMAINS = ("inverted", "rotated")


def default_config() -> dict[str, Any]:
    return {"steps": 600, "batch_size": 16, "lr": 2e-4, "width": 16, "lambda_cycle": 10.0,
            "lambda_identity": 5.0, "domain_b": "inverted", "seed": 0,
            **data_config()}  # fmt: skip


def to_b(x: np.ndarray, kind: str) -> np.ndarray:
    """Images (N, 1, 28, 28) in [-1, 1] mapped to domain B."""
    return -x if kind == "inverted" else np.rot90(x, 1, axes=(2, 3)).copy()


def _translations(model: CycleGAN, a: np.ndarray, b: np.ndarray, path: Path) -> Path:
    with no_grad():
        ab = model.G(Tensor(a))._data
        aba = model.F(Tensor(ab))._data
        ba = model.F(Tensor(b))._data
        bab = model.G(Tensor(ba))._data
    rows = np.stack([a, ab, aba, b, ba, bab])[:, :, 0]
    labels = ["A", "G(A)", "F(G(A))", "B", "F(B)", "G(F(B))"]
    return mosaic((rows + 1) / 2, path, "CycleGAN translations (unpaired training)", labels)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    if config["domain_b"] not in DOMAINS:
        raise RecipeError(
            f"domain_b must be one of {', '.join(DOMAINS)}, got {config['domain_b']!r}"
        )
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    X, _, Xt, _ = load_digits(config)
    X, Xt = (X * 2 - 1).reshape(-1, 1, 28, 28), (Xt * 2 - 1).reshape(-1, 1, 28, 28)
    half = len(X) // 2
    A, B = X[:half], to_b(X[half:], config["domain_b"])
    model = CycleGAN(config["width"], config["lr"], config["lambda_cycle"],
                     config["lambda_identity"], generator=rng)  # fmt: skip
    ta, tb = Xt[:8], to_b(Xt[8:16], config["domain_b"])
    with no_grad():
        start = float(model.cycle_loss(ta, tb))
    curves: dict[str, list[float]] = {"cycle L1": [], "identity L1": [], "G adversarial": [],
                                      "D loss": []}  # fmt: skip
    bs = config["batch_size"]
    progress = Progress(config["steps"], exp.name)
    for step in range(1, config["steps"] + 1):
        stats = model.step(A[rng.integers(0, len(A), bs)], B[rng.integers(0, len(B), bs)])
        progress.update(cycle_l1=stats["cycle"], d_loss=stats["d_loss"])
        for key, name in zip(("cycle", "identity", "g_adv", "d_loss"), curves):
            curves[name].append(stats[key])
        exp.records.append({"step": step, **stats})
    progress.close()
    with no_grad():
        end = float(model.cycle_loss(ta, tb))
    exp.plots.append(_translations(model, ta, tb, exp.out / "translations.png"))
    exp.plots.append(plots.curves(curves, exp.out / "losses.png", "CycleGAN losses per step",
                                  xlabel="step"))  # fmt: skip
    exp.records.append({"step": config["steps"], "test_cycle_loss_start": start,
                        "test_cycle_loss": end})  # fmt: skip
    exp.table(
        "Cycle-consistency on test digits (mean |x - F(G(x))| + |y - G(F(y))|)",
        [{"before training": start, "after training": end, "steps": config["steps"]}],
    )
    return exp.finish()
