"""The commands beyond `train`: doctor, search, lr-find and gradcheck, for the CLI to call.

Each returns what it found (a report, a table) and writes its files; printing and
exit codes are the CLI's business.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.fileio import atomic_write
from deepgrad.train import Trainer, grid_search, lr_find, random_search
from deepgrad.train.curves import Report, history_verdict
from deepgrad.train.doctor import Doctor, _same_optimizer, count_checks, diagnose
from deepgrad.train.progress import Progress, Stages
from deepgrad.train.search import choice, loguniform, randint, uniform

from . import Recipe
from ._common import RecipeError, Setup, loader, write_json
from ._runner import build, check_writable, load_run, loaders


def _require_training(recipe: Recipe, command: str) -> None:
    if not recipe.trainable:
        from . import available

        trainable = ", ".join(n for n, r in available().items() if r.trainable)
        raise RecipeError(f"{command} needs a training recipe ({trainable}); {recipe.name!r} is "
                          "an experiment")  # fmt: skip


def _probe_batch(setup: Setup, n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    X, y = setup.train
    return X[:n], y[:n]


# -- doctor ------------------------------------------------------------------------------
def doctor_recipe(recipe: Recipe, config: dict[str, Any], verbose: bool = True) -> Report:
    """Every check on a fresh model, then a short training run for the curve verdict;
    `verbose`: each check and the training announced as it runs (`Stages`)."""
    _require_training(recipe, "doctor")
    setup, rng = build(recipe, config)
    x, y = _probe_batch(setup)
    make = _same_optimizer(setup.optimizer)
    epochs = int(config["epochs"])
    stages = Stages(count_checks(setup.num_classes, 200) + 1, f"doctor {recipe.name}",
                    enabled=verbose)  # fmt: skip
    report = diagnose(setup.model, setup.loss_fn, x, y, setup.num_classes, make,
                      stage=stages.stage)  # fmt: skip
    doctor = Doctor(checks=False)
    with stages.stage(f"training {epochs} epochs for the learning curves") as s:
        trainer = Trainer(setup.model, setup.loss_fn, setup.optimizer, callbacks=[doctor],
                          metrics=list(setup.metrics), scheduler=setup.scheduler,
                          verbose=int(verbose), seed=int(config["seed"]), generator=rng)  # fmt: skip
        trainer.fit(*loaders(setup, config), epochs=epochs)
        verdict = doctor.report.findings[-1]
        s.result = f"{verdict.status}: {verdict.message}"
    report.findings.append(verdict)
    return report


def doctor_run(run_dir: str | Path) -> Report:
    """The model checks on a trained run's weights, and the verdict on its metrics.jsonl."""
    _, _, setup = load_run(run_dir)
    x, y = _probe_batch(setup)
    report = diagnose(setup.model, setup.loss_fn, x, y, None, _same_optimizer(setup.optimizer))
    path = Path(run_dir) / "metrics.jsonl"
    if path.is_file():
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        report.findings.append(history_verdict(records))
    return report


# -- search ------------------------------------------------------------------------------
def check_setting(recipe: Recipe | None, key: str, value: Any) -> None:
    """`value` against the recipe's schema (ConfigError naming the setting when out of range)."""
    if recipe is not None:
        from ._schema import check, schema

        check(recipe.name, schema(recipe)[key], value)


def parse_grid(items: Sequence[str], defaults: dict[str, Any],
               recipe: Recipe | None = None) -> dict[str, list[Any]]:  # fmt: skip
    """`["lr=0.1,0.01", "hidden=32,64"]` -> `{"lr": [0.1, 0.01], "hidden": [32, 64]}`; every
    value is checked against the recipe's schema before the search starts."""
    from ._config import coerce

    grid: dict[str, list[Any]] = {}
    for item in items:
        key, _, values = item.partition("=")
        _check_key(key, defaults)
        if not values:
            raise RecipeError(f"--grid expects KEY=V1,V2,..., got {item!r}")
        grid[key] = [coerce(key, v, defaults[key]) for v in values.split(",")]
        for value in grid[key]:
            check_setting(recipe, key, value)
    return grid


def parse_space(items: Sequence[str], defaults: dict[str, Any],
                recipe: Recipe | None = None) -> dict[str, Any]:  # fmt: skip
    """`KEY=log:LO:HI` (log-uniform), `KEY=LO:HI` (uniform; integers: randint), `KEY=A,B,C`.

    Both ends of a range (and every choice) are checked against the recipe's schema, so a
    space that could draw an invalid setting is refused before the search starts.
    """
    from ._config import coerce

    space: dict[str, Any] = {}
    for item in items:
        key, sep, spec = item.partition("=")
        if not sep:
            raise RecipeError(f"--space expects KEY=SPEC, got {item!r}")
        _check_key(key, defaults)
        parts = spec.split(":")
        try:
            if parts[0] == "log" and len(parts) == 3:
                ends = [coerce(key, v, defaults[key]) for v in parts[1:]]
                space[key] = loguniform(float(parts[1]), float(parts[2]))
            elif len(parts) == 2 and isinstance(defaults[key], (int, float)):
                ends = [coerce(key, v, defaults[key]) for v in parts]
                kind = isinstance(defaults[key], int) and not isinstance(defaults[key], bool)
                space[key] = randint(ends[0], ends[1] + 1) if kind else uniform(*map(float, ends))
            else:
                ends = [coerce(key, v, defaults[key]) for v in spec.split(",")]
                space[key] = choice(ends)
        except ValueError as e:
            raise RecipeError(f"--space: bad range {item!r}: {e}") from e
        for value in ends:
            check_setting(recipe, key, value)
    return space


def check_monitor(
    recipe: Recipe, config: dict[str, Any], monitor: str, kfold: bool = False
) -> None:
    """Refuse a `--monitor` the recipe's runs never log, before any trial runs."""
    from deepgrad.train.evaluate import make_metrics

    setup, _ = build(recipe, config)
    names = ["loss", *(m.name for m in make_metrics([m for m in setup.metrics if m != "loss"]))]
    has_val = setup.val is not None or kfold
    logged = names + [f"val_{n}" for n in names] if has_val else names
    if monitor not in logged:
        raise RecipeError(f"--monitor {monitor!r} is not logged by {recipe.name}; choose one of "
                          f"{', '.join(logged)}")  # fmt: skip


def _check_key(key: str, defaults: dict[str, Any]) -> None:
    if key not in defaults:
        raise RecipeError(f"no setting {key!r} to search; valid: {', '.join(defaults)}")


def _trial(recipe: Recipe, base: dict[str, Any]) -> Callable[..., dict[str, float]]:
    from ._config import validate

    def run(params: dict[str, Any], fold: Any = None) -> dict[str, float]:
        config = {**base, **params}
        validate(recipe, config)
        setup, rng = build(recipe, config)
        if fold is not None:
            setup.train = (fold.X_train, fold.y_train)
            setup.val = (fold.X_val, fold.y_val)
        if setup.val is None:
            raise RecipeError(f"{recipe.name} has no validation split to score a search on")
        trainer = Trainer(
            setup.model,
            setup.loss_fn,
            setup.optimizer,
            metrics=list(setup.metrics),
            scheduler=setup.scheduler,
            verbose=0,
            seed=None,
            generator=rng,
        )  # fmt: skip   seed=None: `build` seeded the trial
        history = trainer.fit(*loaders(setup, config), epochs=int(config["epochs"]))
        last = history[-1]
        return {k: float(v) for k, v in last.items() if k.startswith("val_") or k == "loss"}

    return run


def search(recipe: Recipe, base: dict[str, Any], grid: dict[str, list] | None,
           space: dict[str, Any] | None, n_iter: int, kfold: int | None, out: Path,
           monitor: str = "val_loss", distributed: bool = False) -> Any:  # fmt: skip
    """Grid or random search (optionally k-fold on the training split); writes search.csv/md.

    `distributed`: under `mpiexec -n N`, trial i runs on rank i mod N
    (`deepgrad.distributed.map_trials`); rank 0 writes the files."""
    _require_training(recipe, "search")
    executor, main = None, True
    if distributed:
        from deepgrad import distributed as dist

        executor, main = dist.map_trials, dist.is_main()
    if main:
        check_writable(out)
    fn = _trial(recipe, base)
    if executor is None:
        executor = _trials_with_progress(recipe.name, monitor)
    data = None
    if kfold:
        setup, _ = build(recipe, base)
        data = setup.train
    common = {"cv": kfold or None, "data": data, "monitor": monitor, "mode": "auto",
              "executor": executor}  # fmt: skip
    if grid is not None:
        results = grid_search(fn, grid, **common)
    else:
        results = random_search(fn, space or {}, n_iter=n_iter, seed=int(base["seed"]), **common)
    if not main:
        return results
    results.to_csv(out / "search.csv")
    text = f"# search: {recipe.name}\n\nsorted by {monitor}\n\n{results.to_markdown()}\n"
    atomic_write(out / "search.md", text)
    write_json(out / "config.json", {**base, "recipe": recipe.name, "grid": grid,
                                     "random": None if space is None else n_iter})  # fmt: skip
    return results


def _trials_with_progress(name: str, monitor: str) -> Callable:
    """An executor running the trials in order, each announced when it starts and when it
    ends with its score, the running best and the ETA of the trials left."""
    from deepgrad.train.history import is_better, resolve_mode

    mode = resolve_mode(monitor, "auto")

    def execute(run: Callable, configs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stages, rows, best = Stages(len(configs), f"search {name}"), [], None
        for params in configs:
            shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in params.items())  # fmt: skip
            with stages.stage(f"trial {shown}") as trial:
                row = run(params)
                score = row.get(monitor)
                if is_better(score, None if best is None else best[0], mode):
                    best = (score, shown)
                running = "n/a" if best is None else f"{best[0]:.4g} ({best[1]})"
                trial.result = f"{monitor} {score:.4g}; best so far {running}"
            rows.append(row)
        return rows

    return execute


# -- lr-find -----------------------------------------------------------------------------
def lr_range_test(recipe: Recipe, config: dict[str, Any], out: Path, num_iter: int = 100,
                  start_lr: float = 1e-6, end_lr: float = 10.0) -> Any:  # fmt: skip
    """Smith's (2015) LR range test on the recipe's model; plots lr_find.png."""
    _require_training(recipe, "lr-find")
    check_writable(out)
    setup, _ = build(recipe, config)
    train_loader = loader(setup.train, int(config["batch_size"]), int(config["seed"]), True)
    with Progress(num_iter, f"lr-find {recipe.name}") as progress:
        result = lr_find(setup.model, setup.loss_fn, train_loader, setup.optimizer,
                         start_lr=start_lr, end_lr=end_lr, num_iter=num_iter,
                         on_step=lambda i, lr, loss: progress.update(lr=lr, loss=loss))  # fmt: skip
    if result.diverged:
        print(f"lr-find {recipe.name}: stopped after {len(result.lrs)}/{num_iter} steps, the "
              f"loss diverged at lr {result.lrs[-1]:.3g}", flush=True)  # fmt: skip
    if plots.have_matplotlib():
        title = f"{recipe.name}: learning-rate range test (Smith 2015)"
        plots.lr_find(result.lrs, result.losses, out / "lr_find.png", result.suggestion, title)
    rows = [{"lr": a, "loss": b} for a, b in zip(result.lrs, result.losses)]
    write_json(out / "lr_find.json", {"suggestion": result.suggestion, "points": rows})
    return result


# -- gradcheck ---------------------------------------------------------------------------
def _max_error(f: Callable, inputs: list) -> float:
    """Worst entry of |J - J_num| / (atol + rtol |J_num|) over reverse and forward mode."""
    from deepgrad.testing import analytical_jacobian, forward_jacobian, numerical_jacobian

    worst = 0.0
    for i, x in enumerate(inputs):
        if x.requires_grad and x.numel():
            num = numerical_jacobian(f, inputs, i)
            if num.size == 0:
                continue
            for mode in (analytical_jacobian, forward_jacobian):
                err = np.abs(mode(f, inputs, i) - num) / (1e-5 + 1e-3 * np.abs(num))
                worst = max(worst, float(np.max(err)))
    return worst


def _primitive_names(match: str | None) -> list[str]:
    from deepgrad.core.primitive import REGISTRY

    return [n for n in sorted(REGISTRY) if not match or match in n]


def _layer_names(match: str | None) -> list[str]:
    import inspect

    from deepgrad import nn
    from deepgrad.nn.registry import cases_for

    names = []
    for cls_name in sorted(nn.__all__):
        cls = getattr(nn, cls_name)
        if not (inspect.isclass(cls) and issubclass(cls, nn.Module)) or not cases_for(cls):
            continue
        if not match or match in cls_name:
            names.append(cls_name)
    return names


def _primitive_rows(quick: bool, match: str | None, tick: Callable[[], None]
                    ) -> list[dict[str, Any]]:  # fmt: skip
    import deepgrad as dg
    from deepgrad.core.primitive import REGISTRY, apply

    rows = []
    for name in _primitive_names(match):
        prim = REGISTRY[name]
        dom = prim.domain
        cases = dom.cases[:1] if quick else dom.cases
        errors, start = [], time.perf_counter()
        for k, case in enumerate(cases):
            rng = np.random.default_rng(k)
            params = case.params(rng) if callable(case.params) else dict(case.params)
            xs = [dg.Tensor(dom.sample(rng, s), requires_grad=True) for s in case.shapes]
            fn = dom.fn if dom.fn is not None else functools.partial(apply, prim)
            errors.append(_max_error(lambda *a, fn=fn, params=params: fn(*a, **params), xs))
        rows.append(_row("primitive", name, errors, start))
        tick()
    return rows


def _row(kind: str, name: str, errors: list[float], start: float) -> dict[str, Any]:
    worst = max(errors) if errors else 0.0
    status = "ok" if worst <= 1.0 else "FAIL"
    return {"kind": kind, "name": name, "cases": len(errors), "max error": worst, "status": status,
            "time": time.perf_counter() - start}  # fmt: skip


def _layer_rows(quick: bool, match: str | None, tick: Callable[[], None]
                ) -> list[dict[str, Any]]:  # fmt: skip
    import deepgrad as dg
    from deepgrad import nn
    from deepgrad.nn.registry import cases_for
    from deepgrad.nn.utils import functional_call

    rows = []
    for cls_name in _layer_names(match):
        cls = getattr(nn, cls_name)
        errors, start = [], time.perf_counter()
        for k, case in enumerate(cases_for(cls)[:1] if quick else cases_for(cls)):
            rng = np.random.default_rng(1234 + k)
            module = case.ctor().double()
            module.train(case.train)
            xs = [dg.Tensor(a, requires_grad=True) for a in case.make_inputs(rng)]
            targets = case.make_targets(rng)
            names = (
                [n for n, p in module.named_parameters() if p.requires_grad] if case.params else []
            )
            params = [
                dg.Tensor(module.get_parameter(n)._data.copy(), requires_grad=True) for n in names
            ]

            def f(*args, module=module, names=names, n_in=len(xs), targets=targets):  # noqa: B008
                swapped = dict(zip(names, args[n_in:]))
                return _tensors(functional_call(module, swapped, (*args[:n_in], *targets)))

            errors.append(_max_error(f, xs + params))
        rows.append(_row("layer", cls_name, errors, start))
        tick()
    return rows


def _tensors(out: Any) -> tuple:
    """A layer's output as a flat tuple of tensors (an LSTM returns `(out, (h, c))`)."""
    from deepgrad.core.tensor import Tensor

    if isinstance(out, Tensor):
        return (out,)
    if isinstance(out, (tuple, list)):
        return tuple(t for o in out for t in _tensors(o))
    return ()


def gradcheck_table(quick: bool = False, match: str | None = None,
                    verbose: bool = False) -> list[dict[str, Any]]:  # fmt: skip
    """Finite differences vs reverse and forward mode for every primitive and layer, in float64.

    `max error` is max |J_ana - J_num| / (atol + rtol |J_num|) with PyTorch's
    tolerances (atol 1e-5, rtol 1e-3): at most 1 passes.  `verbose`: progress over the
    names checked (`Progress`).
    """
    total = len(_primitive_names(match)) + len(_layer_names(match))
    with Progress(total, "gradcheck", unit="check", enabled=verbose) as progress:
        return (_primitive_rows(quick, match, progress.update)
                + _layer_rows(quick, match, progress.update))  # fmt: skip


__all__ = ["doctor_recipe", "doctor_run", "gradcheck_table", "lr_range_test", "search"]
