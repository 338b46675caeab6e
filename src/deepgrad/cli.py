"""The `deepgrad` command line: train, eval, predict, list, doctor, search, lr-find, gradcheck.

    deepgrad train spiral                     # the demo: a run folder in runs/spiral
    deepgrad train mnist-mlp --epochs 5 --lr 0.05 --out runs/mlp
    deepgrad train --resume runs/mlp          # continue after Ctrl-C
    deepgrad eval runs/mlp --split test
    deepgrad doctor spiral                    # the debugging checklist, as a report

Errors print one line, `deepgrad: error: ...`, and exit with status 2 (no
traceback; set DEEPGRAD_DEBUG=1 to see one).  Ctrl-C during training saves a
checkpoint and exits with status 130.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

PROG = "deepgrad"


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


class _PredictParser(_Parser):
    """`predict --help` ends with what inputs each training recipe expects (imports the
    recipes only when help is asked for)."""

    def format_help(self) -> str:
        from deepgrad.recipes._runner import input_help

        self.epilog = input_help()
        return super().format_help()


def _seconds(text: str) -> float:
    """A finite positive number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=str, help="number of epochs")
    p.add_argument("--lr", type=str, help="learning rate")
    p.add_argument("--batch-size", type=str, help="mini-batch size")
    p.add_argument("--optimizer", help="sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw")
    p.add_argument("--seed", type=str, help="random seed (data, init, shuffling)")
    p.add_argument("--data", help="data folder (MNIST recipes; default: the cache)")
    p.add_argument("--text", help="a text file to train on (char-lm; default: built-in corpus)")
    p.add_argument("--config", metavar="FILE", help="settings from a .json or .toml file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other setting of the recipe (repeatable)")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="a reduced run (seconds; used by tests)")


def _version() -> str:
    from deepgrad import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="deepgrad: deep learning from first principles.")
    parser.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    p = sub.add_parser("train", help="train a recipe and write a run folder")
    p.add_argument("recipe", nargs="?", help="recipe name (see 'deepgrad list')")
    _add_config_options(p)
    p.add_argument("--out", help="run folder (default: runs/RECIPE)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress (epochs, arms, steps)")  # fmt: skip
    p.add_argument("--save-every", type=_seconds, default=5.0, metavar="SECONDS",
                   help="seconds between periodic checkpoints (default 5)")  # fmt: skip
    p.add_argument("--force", action="store_true",
                   help="allow --out to be an existing folder that is not a deepgrad run")  # fmt: skip
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of mpiexec -n N (batch size per rank)")  # fmt: skip
    p = sub.add_parser("eval", help="evaluate a trained run on a split")
    p.add_argument("run_dir")
    p.add_argument("--split", default=None, choices=["train", "val", "test"],
                   help="default: test, else val, else train (the held-out split the recipe has)")  # fmt: skip
    p = sub.add_parser("predict", help="predict the classes of the inputs in a .npy file",
                       description="Predict the classes of raw inputs (a .npy array, one example "
                       "per row) with a trained run;\nthe recipe's input preprocessing is "
                       "applied as in training.", formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.__class__ = _PredictParser  # its --help lists the inputs each recipe expects
    p.add_argument("run_dir")
    p.add_argument("input", metavar="INPUT.npy", help="raw inputs (see below)")
    p.add_argument("--output", metavar="FILE.npy", help="also save the logits here")
    sub.add_parser("list", help="the recipes, one line each")
    p = sub.add_parser("doctor", help="diagnose a recipe or a trained run")
    p.add_argument("target", metavar="RECIPE|RUN_DIR")
    _add_config_options(p)
    p = sub.add_parser("search", help="grid or random hyperparameter search")
    p.add_argument("recipe")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--grid", nargs="+", metavar="KEY=V1,V2", help="values to try per setting")
    how.add_argument("--random", type=int, metavar="N", help="N random trials over --space")
    p.add_argument("--space", nargs="+", default=[], metavar="KEY=SPEC",
                   help="KEY=log:LO:HI, KEY=LO:HI or KEY=A,B,C")  # fmt: skip
    p.add_argument("--kfold", type=int, metavar="K", help="K-fold cross-validation")
    p.add_argument("--monitor", default="val_loss", help="score to sort by (default val_loss)")
    p.add_argument("--distributed", action="store_true",
                   help="spread the trials over the ranks of mpiexec -n N")  # fmt: skip
    p.add_argument("--out", help="folder for search.csv/search.md (default runs/search-RECIPE)")
    p.add_argument("--force", action="store_true", help="overwrite an earlier search in --out")
    _add_config_options(p)
    p = sub.add_parser("lr-find", help="the learning-rate range test, with its plot")
    p.add_argument("recipe")
    p.add_argument("--out", help="folder for lr_find.png (default runs/lr-find-RECIPE)")
    p.add_argument("--num-iter", type=int, default=100)
    _add_config_options(p)
    p = sub.add_parser("gradcheck", help="finite-difference check of every primitive and layer")
    p.add_argument("--quick", action="store_true", help="one case per primitive and layer")
    p.add_argument("--only", metavar="NAME", help="only names containing NAME")
    p = sub.add_parser("export", help="write a trained run's model as an ONNX file")
    p.add_argument("run_dir")
    p.add_argument("output", metavar="MODEL.onnx")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from deepgrad.recipes._config import parse_assignments

    out = parse_assignments(args.set)
    for key in ("epochs", "lr", "batch_size", "optimizer", "seed", "data", "text"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out


def _config(recipe: Any, args: argparse.Namespace) -> dict[str, Any]:
    from deepgrad.recipes._config import resolve

    return resolve(recipe, args.config, _overrides(args), quick=args.quick)


def _recipe(name: str) -> Any:
    from deepgrad.recipes import get

    return get(name)


def cmd_train(args: argparse.Namespace) -> int:
    from deepgrad.recipes._common import read_config
    from deepgrad.recipes._config import resolve

    if args.resume:
        saved = read_config(args.resume)
        if args.recipe and args.recipe != saved["recipe"]:
            raise CLIError(f"{args.resume} is a {saved['recipe']!r} run, not {args.recipe!r}")
        recipe = _recipe(saved["recipe"])
        base = {k: v for k, v in saved.items() if k not in ("recipe", "quick")}
        changed = {k for k in _overrides(args) if k != "epochs"}
        if changed or args.config:
            raise CLIError(
                f"--resume keeps the run's settings; only --epochs may change ({changed})"
            )
        config = resolve(recipe, None, {**base, **_overrides(args)}, quick=False)
        config["quick"] = saved.get("quick", False)
        out = Path(args.resume)
    else:
        if not args.recipe:
            raise CLIError("train needs a RECIPE (see 'deepgrad list') or --resume RUN_DIR")
        recipe = _recipe(args.recipe)
        config = _config(recipe, args)
        out = Path(args.out or Path("runs") / recipe.name)
        from deepgrad.recipes._runner import check_out_folder

        check_out_folder(out, bool(args.force))
    verbose = 0 if args.quiet else 1
    if args.distributed:
        from deepgrad.recipes._distributed import guarded, scratch_unless_main, start

        if not recipe.trainable:
            raise CLIError(
                f"--distributed trains a training recipe; {recipe.name} is an experiment"
            )
        start()  # a failure on any rank from here on ends the whole job (no rank waits)
        return guarded(
            lambda: _run_training(recipe, config, scratch_unless_main(out), args, verbose, True)
        )
    return _run_training(recipe, config, out, args, verbose)


def _run_training(recipe: Any, config: dict, out: Path, args: Any, verbose: int,
                  distributed: bool = False) -> int:  # fmt: skip
    from deepgrad.recipes._runner import check_writable

    resume = bool(args.resume)
    created = not os.path.lexists(out)
    check_writable(out)
    print(f"{PROG}: {'resuming' if resume else 'training'} {recipe.name} -> {out}", flush=True)
    try:
        return _train_into(recipe, config, out, args, verbose, distributed, resume)
    except BaseException:
        if created:
            _remove_untrained(out)
        raise


def _remove_untrained(out: Path) -> None:
    """Remove a run folder this command created when the run failed before it trained
    (nothing in it but config.json and empty logs): a failed start leaves no folder."""
    if not out.is_dir() or out.is_symlink():
        return
    files = list(out.iterdir())
    leftovers = {"config.json", "metrics.jsonl", "metrics.csv"}
    if any(f.name not in leftovers or f.is_dir() or (f.suffix != ".json" and f.stat().st_size)
           for f in files):  # fmt: skip
        return  # it trained (a checkpoint, logged epochs, plots): keep it
    for f in files:
        f.unlink()
    out.rmdir()


def _train_into(recipe: Any, config: dict, out: Path, args: Any, verbose: int,
                distributed: bool, resume: bool) -> int:  # fmt: skip
    from deepgrad.recipes._runner import AlreadyTrained, Interrupted, train_recipe

    try:
        if recipe.trainable:
            summary = train_recipe(recipe, config, out, resume=resume, verbose=verbose,
                                   every_s=args.save_every, distributed=distributed)  # fmt: skip
        else:
            if resume:
                raise CLIError(f"{recipe.name} is an experiment; it cannot be resumed")
            from deepgrad.train.progress import quiet

            with quiet(not verbose):  # --quiet: no per-arm or per-step lines either
                summary = recipe.module.run(config, out, quick=bool(config.get("quick")))
    except Interrupted as e:
        print(str(e), file=sys.stderr)
        return 130
    except AlreadyTrained as e:
        print(f"{PROG}: {e}")
        return 0
    _print_summary(summary, out)
    return 0


def _print_summary(summary: dict[str, Any], out: Path) -> None:
    final = summary.get("final", {})
    shown = ", ".join(f"{k} {v:.4g}" for k, v in final.items()
                      if isinstance(v, float) and k not in ("lr", "time"))  # fmt: skip
    if shown:
        print(f"final: {shown}")
    if "verdict" in summary:
        note = summary.get("verdict_note")
        print(f"the doctor's verdict: {summary['verdict']}" + (f" ({note})" if note else ""))
    plots = summary.get("plots", [])
    if plots:
        print(f"plots: {', '.join(str(out / p) for p in plots)}")
    print(f"summary: {out / 'summary.md'}")


def cmd_eval(args: argparse.Namespace) -> int:
    from deepgrad.recipes._runner import evaluate_run

    split, n, result = evaluate_run(args.run_dir, args.split)
    scores = ", ".join(f"{k} {v:.4g}" for k, v in result.items())
    print(f"{split} ({n} examples): {scores}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from deepgrad.recipes._runner import predict_run

    try:
        inputs = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise CLIError(f"cannot read {args.input}: {e}") from e
    if inputs.dtype.kind not in "biuf":
        raise CLIError(f"{args.input} holds {inputs.dtype} values; predict needs real numbers")
    if inputs.dtype.kind == "f" and not np.all(np.isfinite(inputs)):
        raise CLIError(f"{args.input} holds NaN or infinite values; predict needs finite inputs")
    logits = predict_run(args.run_dir, inputs)
    if args.output:
        np.save(args.output, logits)
    for c in logits.argmax(axis=-1):
        print(int(c))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from deepgrad.recipes import available

    recipes = available()
    width = max(len(n) for n in recipes)
    for name, r in recipes.items():
        print(f"{name:<{width}}  {r.description}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from deepgrad.recipes._commands import doctor_recipe, doctor_run

    target = args.target
    if Path(target).is_dir():
        report = doctor_run(target)
    else:
        recipe = _recipe(target)
        report = doctor_recipe(recipe, _config(recipe, args))
    print(report)
    print(f"\nverdict: {report.verdict}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from deepgrad.recipes._commands import check_monitor, parse_grid, parse_space, search

    recipe = _recipe(args.recipe)
    base = _config(recipe, args)
    defaults = recipe.default_config()
    if args.kfold is not None and args.kfold < 2:
        raise CLIError(f"--kfold must be >= 2, got {args.kfold}")
    if args.random is not None and (args.random < 1 or not args.space):
        raise CLIError("--random N needs N >= 1 and --space KEY=SPEC ...")
    grid = parse_grid(args.grid, defaults, recipe) if args.grid else None
    space = parse_space(args.space, defaults, recipe) if args.random else None
    check_monitor(recipe, base, args.monitor, kfold=bool(args.kfold))
    out = Path(args.out or Path("runs") / f"search-{recipe.name}")
    earlier = [f for f in ("search.csv", "search.md") if (out / f).exists()]
    if earlier and not args.force:
        raise CLIError(f"{out} already holds an earlier search ({', '.join(earlier)}); pass "
                       "--force to overwrite it or --out to write elsewhere")  # fmt: skip
    if args.distributed:
        from deepgrad.recipes._distributed import guarded, start

        start()
        return guarded(lambda: _print_search(
            search(recipe, base, grid, space, args.random or 0, args.kfold, out, args.monitor,
                   distributed=True), out))  # fmt: skip
    results = search(recipe, base, grid, space, args.random or 0, args.kfold, out, args.monitor)
    return _print_search(results, out)


def _print_search(results: Any, out: Path) -> int:
    print(results.to_markdown())
    print(f"\nbest: {results.best_params}\ntable: {out / 'search.csv'}, {out / 'search.md'}")
    return 0


def cmd_lr_find(args: argparse.Namespace) -> int:
    from deepgrad.recipes._commands import lr_range_test

    recipe = _recipe(args.recipe)
    out = Path(args.out or Path("runs") / f"lr-find-{recipe.name}")
    if args.num_iter < 2:
        raise CLIError(f"--num-iter must be >= 2, got {args.num_iter}")
    result = lr_range_test(recipe, _config(recipe, args), out, num_iter=args.num_iter)
    print(f"suggested learning rate: {result.suggestion:.3g}" if result.suggestion else
          "no suggestion (the loss never fell)")  # fmt: skip
    print(f"plot: {out / 'lr_find.png'}")
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    from deepgrad.recipes._commands import gradcheck_table
    from deepgrad.recipes._common import text_table

    rows = gradcheck_table(quick=args.quick, match=args.only, verbose=True)
    if not rows:
        raise CLIError(f"nothing matches --only {args.only!r}")
    print(text_table([{**r, "time": f"{r['time']:.2f}s"} for r in rows], floatfmt=".2e"))
    failed = [r["name"] for r in rows if r["status"] != "ok"]
    print(f"\n{len(rows) - len(failed)}/{len(rows)} passed (reverse and forward mode; max error <= 1: within "
          "atol 1e-5 + rtol 1e-3 of central differences, in float64)")  # fmt: skip
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    from deepgrad.recipes._export import export_run

    path = export_run(args.run_dir, args.output, args.opset)
    print(f"wrote {path}")
    return 0


COMMANDS = {
    "train": cmd_train, "eval": cmd_eval, "predict": cmd_predict, "list": cmd_list,
    "doctor": cmd_doctor, "search": cmd_search, "lr-find": cmd_lr_find,
    "gradcheck": cmd_gradcheck,
}  # fmt: skip
COMMANDS["export"] = cmd_export


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 usage error, 130 Ctrl-C)."""
    args = build_parser().parse_args(argv)
    from deepgrad.core.allocator import tune_allocator
    from deepgrad.recipes import UnknownRecipe
    from deepgrad.recipes._common import RecipeError

    tune_allocator()  # the CLI opts in to malloc tuning (DEEPGRAD_MALLOC_TUNING=0: off)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `deepgrad list | head`: the reader left; not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush stays quiet
        return 0
    except (CLIError, RecipeError, UnknownRecipe, ValueError, OSError) as e:
        if os.environ.get("DEEPGRAD_DEBUG"):
            raise
        return _fail(str(e))


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
