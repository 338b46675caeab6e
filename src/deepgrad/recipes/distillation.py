"""distillation: a big MNIST MLP (the teacher) distilled into a small one (Hinton et al. 2015).

The student minimises $\\alpha T^2\\,\\mathrm{KL}(\\mathrm{softmax}(z_t/T)\\,\\|\\,
\\mathrm{softmax}(z_s/T)) + (1-\\alpha)\\,\\mathrm{CE}(z_s, y)$
(`models.robustness.distillation_loss`): at temperature $T > 1$ the teacher's soft
targets say which wrong classes are nearly right (a 7 that looks like a 1), more
information per example than a one-hot label.  The same small net trained on the
hard labels alone, with the same data, seed and steps, is the baseline.  MLPs keep
the run short on a CPU; the paper's nets were MLPs too (784-1200-1200-10 teacher).
Needs MNIST (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepgrad import plots
from deepgrad.core.random import manual_seed
from deepgrad.core.state import no_grad
from deepgrad.models.robustness import distillation_loss

from ._experiment import Experiment, tag
from ._mnist_small import fit, mlp, mnist_images, n_params

NAME = "distillation"
DESCRIPTION = "knowledge distillation of a big MNIST MLP into a small one vs hard labels alone"
QUICK = {"epochs": 1, "teacher_epochs": 1, "subset": 1500}


def default_config() -> dict[str, Any]:
    return {"teacher_epochs": 5, "epochs": 8, "lr": 1e-3, "batch_size": 64, "seed": 0,
            "data": "", "subset": 10000, "val_size": 1000, "teacher_hidden": 512,
            "student_hidden": 16, "temperature": 4.0, "alpha": 0.9}  # fmt: skip


def validate(config: dict[str, Any]) -> None:
    if config["temperature"] <= 0 or not 0 <= config["alpha"] <= 1:
        raise ValueError("distillation: need temperature > 0 and 0 <= alpha <= 1, got "
                         f"{config['temperature']}, {config['alpha']}")  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    validate(config)
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    train, _, test = mnist_images(config)
    th, sh, T, a = (config[k] for k in ("teacher_hidden", "student_hidden", "temperature", "alpha"))
    manual_seed(config["seed"])
    teacher = mlp([784, th, th, 10])
    hp = (config["lr"], config["batch_size"], config["seed"])
    records = {"teacher": fit(teacher, train, test, config["teacher_epochs"], *hp)}
    teacher.eval()

    def distil(model, x, y):
        with no_grad():
            soft = teacher(x)
        return distillation_loss(model(x), soft, y, temperature=T, alpha=a)

    sizes = {"teacher": n_params(teacher)}
    for name, loss in (("student, hard labels", None), (f"student, distilled (T={T})", distil)):
        manual_seed(config["seed"] + 1)  # the same initial student for both
        student = mlp([784, sh, 10])
        kwargs = {} if loss is None else {"loss": loss}
        records[name] = fit(student, train, test, config["epochs"], *hp, **kwargs)
        sizes[name] = n_params(student)
    rows = []
    for name, recs in records.items():
        exp.records += tag(recs, model=name)
        rows.append({"model": name, "parameters": sizes[name], "epochs": len(recs),
                     "test accuracy": recs[-1]["test_accuracy"],
                     "best test accuracy": max(r["test_accuracy"] for r in recs)})  # fmt: skip
    curves = {n: [r["test_accuracy"] for r in recs] for n, recs in records.items()}
    exp.plots.append(plots.curves(curves, exp.out / "distillation.png",
                                  f"MNIST: teacher 784-{th}-{th}-10 and student 784-{sh}-10 "
                                  f"({len(train[1])} training digits)",
                                  ylabel="test accuracy"))  # fmt: skip
    exp.table("Teacher and students", rows,
              f"Distillation: alpha {a}, temperature {T}; both students start from the same "
              "weights and see the same batches.")  # fmt: skip
    return exp.finish()
