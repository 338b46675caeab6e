"""adversarial: FGSM and PGD attacks on a small MNIST CNN, and adversarial training (Madry et al.).

A LeNet-style CNN (`_mnist_small.small_cnn`) is trained twice on the same data: on
clean digits (cross-entropy), and on PGD examples in an L-inf ball of radius
`train_eps` (Madry et al. 2018: $\\min_\\theta E\\,\\max_{\\|\\delta\\|_\\infty \\le \\epsilon}
L(f_\\theta(x + \\delta), y)$, the inner max approximated by `train_steps` PGD steps, fewer
than the paper's 40 to fit a NumPy budget).  Both are attacked on test digits with
FGSM (Goodfellow et al. 2015, $x + \\epsilon\\,\\mathrm{sign}\\nabla_x L$) and PGD in L-inf
and L2 balls; the plots are accuracy against $\\epsilon$ and a grid of clean and
adversarial digits with the predictions.  Pixels are in [0, 1].  Needs MNIST (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.core.random import manual_seed
from deepgrad.models.robustness import adversarial_loss, fgsm, pgd

from ._experiment import Experiment, tag
from ._mnist_small import fit, mnist_images, predict, small_cnn
from .mnist_mlp import settle  # noqa: F401 (the config hook: config.json records the val_size used)

NAME = "adversarial"
DESCRIPTION = "FGSM/PGD accuracy-vs-epsilon of a small MNIST CNN, plain vs adversarially trained"
QUICK = {"epochs": 1, "subset": 1500, "attack_n": 64, "pgd_steps": 2, "train_steps": 1,
         "eps_inf": [0.0, 0.1, 0.3], "eps_l2": [0.0, 1.5, 3.0]}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"epochs": 3, "lr": 3e-3, "batch_size": 64, "seed": 0, "data": "", "subset": 12000,
            "val_size": 1000, "width": 8, "train_eps": 0.2, "train_steps": 3,
            "eps_inf": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3],
            "eps_l2": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0], "pgd_steps": 10,
            "attack_n": 500}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["attack_n"] < 1 or config["pgd_steps"] < 1 or config["train_steps"] < 1:
        raise ValueError("adversarial: attack_n, pgd_steps and train_steps must be >= 1")
    if min(config["eps_inf"] + config["eps_l2"] + [config["train_eps"]]) < 0:
        raise ValueError("adversarial: every epsilon must be >= 0")


def _acc(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float((predict(model, x).argmax(axis=1) == y).mean())


def attack_curves(model: Any, x: np.ndarray, y: np.ndarray, config: dict[str, Any]) -> dict:
    """Accuracy under FGSM and PGD (L-inf) per eps_inf and PGD (L2) per eps_l2."""
    steps, gen = config["pgd_steps"], np.random.default_rng(config["seed"])
    out = {"FGSM": [_acc(model, fgsm(model, x, y, e), y) for e in config["eps_inf"]],
           "PGD L-inf": [_acc(model, pgd(model, x, y, e, steps=steps, generator=gen), y)
                         for e in config["eps_inf"]],
           "PGD L2": [_acc(model, pgd(model, x, y, e, steps=steps, norm="2", generator=gen), y)
                      for e in config["eps_l2"]]}  # fmt: skip
    return out


def _digits(plain: Any, robust: Any, x: np.ndarray, y: np.ndarray, config: dict, out: Path):
    eps = config["train_eps"]
    gen = np.random.default_rng(config["seed"])
    adv_plain = pgd(plain, x, y, eps, steps=config["pgd_steps"], generator=gen)
    adv_robust = pgd(robust, x, y, eps, steps=config["pgd_steps"], generator=gen)
    rows = [(x, plain, "clean"), (adv_plain, plain, "PGD vs plain"),
            (adv_robust, robust, "PGD vs robust")]  # fmt: skip
    labels = [f"{name}: {int(p)} ({int(t)})" for xs, m, name in rows
              for p, t in zip(predict(m, xs).argmax(axis=1), y)]  # fmt: skip
    pics = np.concatenate([xs[:, 0] for xs, _, _ in rows])
    title = (f"Clean digits; PGD L-inf eps {eps} against the plain and the adversarially "
             "trained CNN (prediction (true))")  # fmt: skip
    return plots.image_grid(pics, out / "adversarial_digits.png", title, labels, cols=len(x))


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, _, test = mnist_images(config)
    n = min(config["attack_n"], len(test[1]))
    x, y = test[0][:n], test[1][:n]
    eps, steps = config["train_eps"], config["train_steps"]

    def madry(model, xb, yb):
        return adversarial_loss(model, xb, yb, eps, steps=steps, generator=gen)

    gen = np.random.default_rng(config["seed"] + 1)
    models, curves, rows = {}, {}, []
    arms = exp.arms(2)
    for name, loss in (("plain", None), (f"adversarial (PGD eps {eps})", madry)):
        arms.start(f"{name} training")
        manual_seed(config["seed"])
        model = small_cnn(config["width"])
        kwargs = {} if loss is None else {"loss": loss}
        records = fit(model, train, test, config["epochs"], config["lr"], config["batch_size"],
                      config["seed"], **kwargs)  # fmt: skip
        exp.records += tag(records, model=name)
        models[name], curves[name] = model, attack_curves(model, x, y, config)
        row = {"model": name, "clean test accuracy": records[-1]["test_accuracy"]}
        for attack, eps_key in (
            ("FGSM", "eps_inf"),
            ("PGD L-inf", "eps_inf"),
            ("PGD L2", "eps_l2"),
        ):
            k = int(np.argmin(np.abs(np.asarray(config[eps_key]) - (eps if eps_key == "eps_inf"
                                                                      else 2.0))))  # fmt: skip
            row[f"{attack} eps {config[eps_key][k]}"] = curves[name][attack][k]
        rows.append(row)
        arms.end(f"clean test accuracy {row['clean test accuracy']:.3f}")
    inf = {f"{a}, {m}": (config["eps_inf"], curves[m][a]) for m in models
           for a in ("FGSM", "PGD L-inf")}  # fmt: skip
    l2 = {f"PGD L2, {m}": (config["eps_l2"], curves[m]["PGD L2"]) for m in models}
    styles = {k: "o-" if k.endswith("plain") else "s--" for k in (*inf, *l2)}
    exp.plots.append(plots.xy_curves(inf, exp.out / "accuracy_linf.png",
                                     f"MNIST CNN under L-inf attacks ({n} test digits)",
                                     "epsilon (L-inf, pixels in [0, 1])", "accuracy", styles))  # fmt: skip
    exp.plots.append(plots.xy_curves(l2, exp.out / "accuracy_l2.png",
                                     f"MNIST CNN under PGD in an L2 ball ({n} test digits)",
                                     "epsilon (L2 norm of the perturbation)", "accuracy", styles))  # fmt: skip
    plain, robust = models.values()
    exp.plots.append(_digits(plain, robust, x[:8], y[:8], config, exp.out))
    exp.table("Accuracy, clean and attacked", rows,
              f"PGD: {config['pgd_steps']} steps of 2.5 eps / steps from a random start; "
              f"adversarial training used {steps} steps.")  # fmt: skip
    return exp.finish()
