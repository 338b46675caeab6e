"""init-compare: the same deep tanh and ReLU nets under five initialisations.

Glorot & Bengio (2010) watched activations and gradients layer by layer: with
weights too small the signal shrinks by a constant factor per layer and vanishes
with depth; with all weights equal (zeros) every unit of a layer computes the same
function and gets the same gradient, so symmetry is never broken.  Xavier
(Var W = 2 / (fan_in + fan_out)) keeps tanh nets' variance steady; Kaiming
(Var W = 2 / fan_in, He et al. 2015) does it for ReLU; orthogonal matrices
preserve norms exactly (Saxe et al. 2014).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.tensor import Tensor
from deepgrad.nn import init

from ._experiment import Experiment, fit_quietly, last, spiral_splits, tag

NAME = "init-compare"
DESCRIPTION = "zeros vs N(0, 0.01) vs Xavier vs Kaiming vs orthogonal on deep tanh/ReLU nets"
QUICK = {"epochs": 5, "depth": 4, "width": 32, "n_per_class": 60}
INITS = ["zeros", "normal(0.01)", "xavier", "kaiming", "orthogonal"]


def default_config() -> dict[str, Any]:
    return {"epochs": 40, "lr": 0.05, "batch_size": 32, "seed": 0, "depth": 6, "width": 64,
            "n_per_class": 150, "noise": 0.1}  # fmt: skip


def initialise(model: nn.Module, scheme: str, act: str, rng: np.random.Generator) -> None:
    """Set every Linear's weight by `scheme`, its bias to zero."""
    gain = init.calculate_gain(act)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            w = m.weight
            if scheme == "zeros":
                init.zeros_(w)
            elif scheme == "normal(0.01)":
                init.normal_(w, 0.0, 0.01, generator=rng)
            elif scheme == "xavier":
                init.xavier_uniform_(w, gain=gain, generator=rng)
            elif scheme == "kaiming":
                init.kaiming_normal_(w, nonlinearity=act, generator=rng)
            else:
                init.orthogonal_(w, gain=gain, generator=rng)
            init.zeros_(m.bias)


def deep_net(depth: int, width: int, act: str, rng: np.random.Generator) -> nn.Sequential:
    layers: list[nn.Module] = []
    d = 2
    for _ in range(depth):
        layers += [nn.Linear(d, width, generator=rng), nn.Tanh() if act == "tanh" else nn.ReLU()]
        d = width
    return nn.Sequential(*layers, nn.Linear(d, 3, generator=rng))


def probe(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> tuple[dict, dict]:
    """Activations after each nonlinearity and weight gradients of each hidden layer."""
    acts: dict[str, np.ndarray] = {}
    hooks = []
    for i, m in enumerate(model):
        if isinstance(m, (nn.Tanh, nn.ReLU)):
            name = f"layer {i // 2 + 1}"
            hooks.append(
                m.register_forward_hook(lambda mod, a, out, n=name: acts.update({n: out._data}))
            )
    model.zero_grad()
    nn.CrossEntropyLoss()(model(Tensor(x)), Tensor(y)).backward()
    for h in hooks:
        h.remove()
    linears = [m for m in model if isinstance(m, nn.Linear)][:-1]
    grads = {f"layer {k + 1}": m.weight.grad._data.copy() for k, m in enumerate(linears)}
    model.zero_grad()
    return acts, grads


def distinct_units(model: nn.Sequential) -> int:
    """How many different rows (units) the first hidden layer's weight matrix has."""
    w = model[2].weight._data if len(model) > 3 else model[0].weight._data
    return len(np.unique(np.round(w, 6), axis=0))


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, val = spiral_splits(config["n_per_class"], config["noise"], config["seed"])
    rows, curves = [], {"tanh": {}, "relu": {}}
    arms = exp.arms(2 * len(INITS))
    for act in ("tanh", "relu"):
        act_rows, grad_rows = {}, {}
        for scheme in INITS:
            with arms.stage(f"{act} net, {scheme} init") as arm:
                row = _arm(exp, config, train, val, act, scheme, act_rows, grad_rows, curves)
                arm.result = f"train loss {row['train loss']:.3g}, val acc {row['val acc']:.3f}"
            rows.append(row)
        _histograms(exp, act, act_rows, grad_rows)
    exp.plots.append(plots.curve_grid({f"{a} net": curves[a] for a in curves},
                                      exp.out / "learning_curves.png",
                                      "Training loss by initialisation (SGD + momentum)",
                                      ylabel="training loss"))  # fmt: skip
    note = (
        "Zero init leaves 1 distinct unit per layer: symmetry is never broken. N(0, 0.01)"
        " shrinks the activations layer by layer until they vanish (Glorot & Bengio 2010)."
    )
    exp.table("Activations and results", rows, note)
    return exp.finish()


def _arm(exp: Experiment, config: dict[str, Any], train: tuple, val: tuple, act: str,
         scheme: str, act_rows: dict, grad_rows: dict, curves: dict) -> dict[str, Any]:  # fmt: skip
    """Probe and train one net under one initialisation; its row of the results table."""
    rng = np.random.default_rng(config["seed"])
    model = deep_net(config["depth"], config["width"], act, rng)
    initialise(model, scheme, act, rng)
    acts, grads = probe(model, *train)
    act_rows[scheme], grad_rows[scheme] = acts, grads
    opt = optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    records = fit_quietly(model, nn.CrossEntropyLoss(), opt, train, val, config["epochs"],
                          config["batch_size"], config["seed"])  # fmt: skip
    exp.records += tag(records, net=act, init=scheme)
    curves[act][scheme] = [r["loss"] for r in records]
    stds = [float(np.std(a)) for a in acts.values()]
    return {"net": act, "init": scheme, "act std first": stds[0], "act std last": stds[-1],
            "distinct units": distinct_units(model), "train loss": last(records, "loss"),
            "val acc": last(records, "val_accuracy")}  # fmt: skip


def _histograms(exp: Experiment, act: str, act_rows: dict, grad_rows: dict) -> None:
    depth = exp.config["depth"]
    exp.plots.append(plots.histograms(
        act_rows, exp.out / f"activations_{act}.png",
        f"{act} net ({depth} hidden layers): activations per layer, by initialisation",
        xlabel=f"{act} output"))  # fmt: skip
    exp.plots.append(plots.histograms(
        grad_rows, exp.out / f"gradients_{act}.png",
        f"{act} net: weight gradients dL/dW per layer, by initialisation",
        xlabel="dL/dW"))  # fmt: skip
