"""optimizer-compare: nine optimizers on Rosenbrock, an ill-conditioned quadratic and the spiral.

Gradient descent zig-zags across a narrow valley (its step is limited by the
largest curvature, its progress by the smallest); momentum and Nesterov average
the zig-zag out (Polyak 1964, Nesterov 1983); AdaGrad, RMSProp and Adam rescale
each coordinate (Duchi et al. 2011, Tieleman & Hinton 2012, Kingma & Ba 2015);
L-BFGS and Newton use curvature and need only a handful of steps
(Nocedal & Wright 2006).  The paths are drawn over the contours; on the spiral
MLP the learning curves are compared.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.tensor import Tensor

from ._experiment import Experiment, spiral_splits
from .spiral import mlp

NAME = "optimizer-compare"
DESCRIPTION = "GD, SGD, momentum, Nesterov, AdaGrad, RMSProp, Adam, L-BFGS, Newton: paths+curves"
QUICK = {"steps": 60, "epochs": 4}

# name -> (constructor, learning rate on the 2-D test functions)
OPTIMIZERS: dict[str, Callable[[list], Any]] = {
    "GD": lambda ps, lr: optim.SGD(ps, lr=lr),
    "SGD": lambda ps, lr: optim.SGD(ps, lr=lr),
    "momentum": lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9),
    "Nesterov": lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True),
    "AdaGrad": lambda ps, lr: optim.Adagrad(ps, lr=lr),
    "RMSProp": lambda ps, lr: optim.RMSprop(ps, lr=lr),
    "Adam": lambda ps, lr: optim.Adam(ps, lr=lr),
    "L-BFGS": lambda ps, lr: optim.LBFGS(
        ps, lr=lr, max_iter=1, max_eval=25, line_search_fn="strong_wolfe"
    ),
    "Newton": lambda ps, lr: optim.Newton(ps, lr=lr, line_search_fn="armijo"),
}
# learning rates per problem: GD-like, momentum, AdaGrad, RMSProp, Adam, second order
RATES = {
    "rosenbrock": {"GD": 1e-3, "SGD": 1e-3, "momentum": 1e-4, "Nesterov": 1e-4,
                   "AdaGrad": 0.5, "RMSProp": 1e-2, "Adam": 0.05, "L-BFGS": 1.0, "Newton": 1.0},
    "quadratic": {"GD": 0.035, "SGD": 0.035, "momentum": 0.002, "Nesterov": 0.002,
                  "AdaGrad": 1.0, "RMSProp": 0.05, "Adam": 0.2, "L-BFGS": 1.0, "Newton": 1.0},
    "spiral": {"GD": 0.5, "SGD": 0.1, "momentum": 0.05, "Nesterov": 0.05,
               "AdaGrad": 0.05, "RMSProp": 3e-3, "Adam": 1e-2, "L-BFGS": 1.0, "Newton": 1.0},
}  # fmt: skip
A = np.array([[1.0, 0.0], [0.0, 50.0]])
ROT = np.array([[np.cos(0.5), -np.sin(0.5)], [np.sin(0.5), np.cos(0.5)]])
A = ROT @ A @ ROT.T  # condition number 50, axes rotated


def default_config() -> dict[str, Any]:
    return {"steps": 1500, "epochs": 40, "batch_size": 32, "seed": 0, "noise": 1.0,
            "n_per_class": 100, "hidden": 32}  # fmt: skip


def rosenbrock(x: Any, y: Any) -> Any:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1) (Rosenbrock 1960)."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def quadratic(x: Any, y: Any) -> Any:
    """f(p) = p^T A p / 2 with eigenvalues 1 and 50: a narrow, tilted valley."""
    return 0.5 * (A[0, 0] * x * x + 2 * A[0, 1] * x * y + A[1, 1] * y * y)


PROBLEMS = {
    "rosenbrock": (rosenbrock, (-1.2, 1.0), (1.0, 1.0), (-2.0, 2.0), (-1.0, 3.0)),
    "quadratic": (quadratic, (-4.0, 2.5), (0.0, 0.0), (-5.0, 5.0), (-3.5, 3.5)),
}


def _step(opt: Any, name: str, loss_of: Callable[[], Tensor], params: list, noise: float,
          rng: np.random.Generator) -> None:  # fmt: skip
    """One step of any optimizer: closures for L-BFGS/Newton, noisy gradients for SGD."""
    if name == "Newton":
        opt.step(loss_of)
        return

    def closure() -> Tensor:
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        if name == "SGD":
            for p in params:
                p.grad._data += noise * rng.standard_normal(p.shape)
        return loss

    if name == "L-BFGS":
        opt.step(closure)
    else:
        closure()
        opt.step()


def path(problem: str, name: str, steps: int, noise: float, seed: int) -> np.ndarray:
    """The iterates of optimizer `name` on a 2-D problem, shape (steps + 1, 2)."""
    f, start, *_ = PROBLEMS[problem]
    p = Tensor(np.array(start), requires_grad=True)
    opt = OPTIMIZERS[name]([p], RATES[problem][name])
    rng = np.random.default_rng(seed)
    points = [p._data.copy()]
    for _ in range(steps):
        _step(opt, name, lambda: f(p[0], p[1]), [p], noise, rng)
        points.append(p._data.copy())
        if not np.all(np.isfinite(p._data)) or np.abs(p._data).max() > 1e3:
            break
    return np.array(points)


def spiral_curve(name: str, config: dict[str, Any]) -> list[float]:
    """Training loss per epoch of the spiral MLP (full batch for GD, L-BFGS and Newton)."""
    (X, y), _ = spiral_splits(config["n_per_class"], 0.1, config["seed"], val=0.2)
    rng = np.random.default_rng(config["seed"])
    model = mlp([2, config["hidden"], config["hidden"], 3], "tanh", rng)
    params = list(model.parameters())
    opt = OPTIMIZERS[name](params, RATES["spiral"][name])
    loss_fn, curve = nn.CrossEntropyLoss(), []
    full = name in ("GD", "L-BFGS", "Newton")
    for _ in range(config["epochs"]):
        order = rng.permutation(len(y))
        batches = [order] if full else np.array_split(order, max(1, len(y) // config["batch_size"]))
        for idx in batches:
            xb, yb = Tensor(X[idx]), Tensor(y[idx])
            _step(opt, name, lambda xb=xb, yb=yb: loss_fn(model(xb), yb), params, 0.0, rng)
        curve.append(float(loss_fn(model(Tensor(X)), Tensor(y)).item()))
    return curve


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rows, gaps = [], {}
    arms = exp.arms(len(PROBLEMS) + len(OPTIMIZERS))
    for problem, (f, _, best, xlim, ylim) in PROBLEMS.items():
        with arms.stage(f"{problem}: {len(OPTIMIZERS)} optimizers") as arm:
            paths = {n: path(problem, n, config["steps"], config["noise"], config["seed"])
                     for n in OPTIMIZERS}  # fmt: skip
            final = {n: float(f(*p[-1])) for n, p in paths.items()}
            winner = min(final, key=final.get)
            arm.result = f"lowest f {final[winner]:.2e} ({winner})"
        labelled = {f"{n}: f = {f(*p[-1]):.1e}": p for n, p in paths.items()}
        title = f"{problem.capitalize()}: {config['steps']} steps from {PROBLEMS[problem][1]}"
        exp.plots.append(plots.trajectories(f, labelled, exp.out / f"trajectories_{problem}.png",
                                            title, xlim, ylim, best))  # fmt: skip
        gaps[problem] = {n: np.maximum(f(p[:, 0], p[:, 1]), 1e-16) for n, p in paths.items()}
        for n, p in paths.items():
            exp.records += [{"problem": problem, "optimizer": n, "step": i, "x": float(a),
                             "y": float(b), "f": float(f(a, b))} for i, (a, b) in enumerate(p)]  # fmt: skip
            rows.append({"problem": problem, "optimizer": n, "steps": len(p) - 1,
                         "final f": float(f(*p[-1])), "distance to minimum":
                         float(np.linalg.norm(p[-1] - np.array(best)))})  # fmt: skip
    exp.plots.append(plots.curve_grid(gaps, exp.out / "convergence.png",
                                      "f(x_t) - f* per step (log scale)", xlabel="step",
                                      ylabel="f - f*", logy=True))  # fmt: skip
    curves = {}
    for n in OPTIMIZERS:
        with arms.stage(f"spiral MLP, {n}") as arm:
            curves[n] = spiral_curve(n, config)
            arm.result = f"final training loss {curves[n][-1]:.3g}"
    for n, c in curves.items():
        exp.records += [{"problem": "spiral", "optimizer": n, "epoch": i, "loss": v}
                        for i, v in enumerate(c)]  # fmt: skip
    exp.plots.append(plots.curves(curves, exp.out / "spiral_curves.png",
                                  "Spiral MLP (tanh): training loss per epoch by optimizer",
                                  ylabel="training loss", logy=True))  # fmt: skip
    exp.table("2-D test functions", rows, "SGD here is GD with Gaussian gradient noise of std"
              f" {config['noise']} (a stand-in for mini-batch noise).")  # fmt: skip
    spiral_rows = [{"optimizer": n, "final training loss": c[-1]} for n, c in curves.items()]
    exp.table("Spiral MLP", spiral_rows, "GD, L-BFGS and Newton take one full-batch step per"
              " epoch; the others take mini-batch steps.")  # fmt: skip
    return exp.finish()
