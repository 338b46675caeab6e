"""forgetting: catastrophic forgetting on split MNIST (digits 0-4, then 5-9), and rehearsal.

One MLP with a single 10-way head is trained on digits 0-4, then on 5-9 only
(McCloskey & Cohen 1989; French 1999).  Nothing in the second task's loss keeps the
first task's weights in place, so gradient descent on 5-9 overwrites them: accuracy
on 0-4 collapses within an epoch, largely because the head learns that classes
0-4 never occur.  The rehearsal baseline (experience replay, Robins 1995) mixes a
few stored examples of the first task (`rehearsal` of them) into the second
task's data, which is enough to keep much of the old accuracy.  Accuracy on each
half of the test set is measured after every epoch.  Needs MNIST (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots
from deepgrad.core.random import manual_seed

from ._experiment import Experiment
from ._mnist_small import accuracy, mlp, mnist_images, train_epoch
from .mnist_mlp import settle  # noqa: F401 (the config hook: config.json records the val_size used)

NAME = "forgetting"
DESCRIPTION = (
    "catastrophic forgetting: an MNIST MLP trained on digits 0-4, then 5-9 (and rehearsal)"
)
QUICK = {"epochs_per_task": 1, "subset": 1500, "rehearsal": 50}


def default_config() -> dict[str, Any]:
    return {"epochs_per_task": 4, "lr": 1e-3, "batch_size": 64, "seed": 0, "data": "",
            "subset": 12000, "val_size": 1000, "hidden": 256, "rehearsal": 200}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["epochs_per_task"] < 1 or config["rehearsal"] < 0:
        raise ValueError("forgetting: need epochs_per_task >= 1 and rehearsal >= 0, got "
                         f"{config['epochs_per_task']}, {config['rehearsal']}")  # fmt: skip


def _split(data: tuple) -> tuple[tuple, tuple]:
    x, y = data
    first = y < 5
    return (x[first], y[first]), (x[~first], y[~first])


def sequential(config: dict[str, Any], train: tuple, test: tuple, replay: int) -> list[dict]:
    """Train on 0-4 then 5-9 (with `replay` stored 0-4 examples); accuracies per epoch."""
    (a_tr, b_tr), (a_te, b_te) = _split(train), _split(test)
    manual_seed(config["seed"])
    model = mlp([784, config["hidden"], 10])
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    rng = np.random.default_rng(config["seed"])
    keep = rng.choice(len(a_tr[1]), size=min(replay, len(a_tr[1])), replace=False)
    b_data = (np.concatenate([b_tr[0], a_tr[0][keep]]), np.concatenate([b_tr[1], a_tr[1][keep]]))
    records, epoch = [], 0
    for task, data in (("0-4", a_tr), ("5-9", b_data)):
        for _ in range(config["epochs_per_task"]):
            epoch += 1
            loss = train_epoch(model, opt, *data, config["batch_size"], rng)
            records.append({"epoch": epoch, "task": task, "loss": loss,
                            "accuracy_0_4": accuracy(model, *a_te),
                            "accuracy_5_9": accuracy(model, *b_te)})  # fmt: skip
    return records


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, _, test = mnist_images(config)
    k = config["epochs_per_task"]
    curves, styles, rows = {}, {}, []
    runs = {"plain": 0, f"rehearsal ({config['rehearsal']} old digits)": config["rehearsal"]}
    arms = exp.arms(len(runs))
    for name, replay in runs.items():
        arms.start(name)
        records = sequential(config, train, test, replay)
        arms.end(f"accuracy on 0-4 after 5-9: {records[-1]['accuracy_0_4']:.3f}")
        exp.records += [{"run": name, **r} for r in records]
        for half, style in (("0-4", "-"), ("5-9", "--")):
            key = f"digits {half}, {name}"
            curves[key] = [r[f"accuracy_{half.replace('-', '_')}"] for r in records]
            styles[key] = style + ("o" if name == "plain" else "s")
        rows.append({"run": name, "0-4 after task 1": records[k - 1]["accuracy_0_4"],
                     "0-4 after task 2": records[-1]["accuracy_0_4"],
                     "5-9 after task 2": records[-1]["accuracy_5_9"]})  # fmt: skip
    exp.plots.append(plots.curves(curves, exp.out / "forgetting.png",
                                  f"Split MNIST: digits 0-4 for epochs 1-{k}, then 5-9 "
                                  f"for epochs {k + 1}-{2 * k}",
                                  ylabel="test accuracy on each half", styles=styles))  # fmt: skip
    exp.table(
        "Accuracy on each half of the test set",
        rows,
        "Without rehearsal the first task is forgotten once the second is learned.",
    )
    return exp.finish()
