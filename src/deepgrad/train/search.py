"""Hyperparameter search: grid search, random search, optional k-fold cross-validation.

`fn(params)` trains a model with the hyperparameters `params` and returns a
score (a float, or a dict holding `monitor`).  With `cv`, `fn(params, fold)`
is called once per fold with a `Fold` (indices, and the data when given), and
a row's score is the mean over folds.  Results come back sorted best-first.
Random search (Bergstra & Bengio 2012) samples each hyperparameter from its
own distribution, so n trials try n distinct values of every one of them.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepgrad.data.splits import KFold

from ..fileio import atomic_write
from .history import resolve_mode

# -- distributions ---------------------------------------------------------------------


class Distribution(ABC):
    """A hyperparameter distribution: `sample(rng)` draws one value."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """One draw."""


@dataclass(frozen=True)
class loguniform(Distribution):  # lower case, like scipy.stats.loguniform
    """log x ~ U[log lo, log hi]: equal mass per decade, the usual prior for rates."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not 0 < self.lo < self.hi:
            raise ValueError(f"loguniform: need 0 < lo < hi, got lo={self.lo}, hi={self.hi}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))


@dataclass(frozen=True)
class uniform(Distribution):
    """x ~ U[lo, hi]."""

    lo: float
    hi: float

    def __post_init__(self) -> None:
        if not self.lo < self.hi:
            raise ValueError(f"uniform: need lo < hi, got lo={self.lo}, hi={self.hi}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.lo, self.hi))


@dataclass(frozen=True)
class randint(Distribution):
    """An integer uniform on lo..hi-1 (hi excluded, as in NumPy)."""

    lo: int
    hi: int

    def __post_init__(self) -> None:
        if not self.lo < self.hi:
            raise ValueError(f"randint: need lo < hi, got lo={self.lo}, hi={self.hi}")

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.lo, self.hi))


@dataclass(frozen=True)
class choice(Distribution):
    """One of `options`, each equally likely."""

    options: Sequence[Any]

    def __post_init__(self) -> None:
        if len(self.options) == 0:
            raise ValueError("choice: needs at least one option")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.options[int(rng.integers(len(self.options)))]


def _sample_space(space: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """One configuration: distributions sampled, lists chosen from, constants kept."""
    out = {}
    for name, spec in space.items():
        if isinstance(spec, Distribution):
            out[name] = spec.sample(rng)
        elif isinstance(spec, (list, tuple)):
            out[name] = choice(list(spec)).sample(rng)
        else:
            out[name] = spec
    return out


# -- folds and evaluation ---------------------------------------------------------------


@dataclass
class Fold:
    """One cross-validation fold: indices, and the data at them when the search got data."""

    k: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    X_train: Any = None
    y_train: Any = None
    X_val: Any = None
    y_val: Any = None


def _folds(cv: Any, X: Any, y: Any, n_samples: int | None) -> list[Fold]:
    """Materialise the folds of `cv` (an int k, or an object with `split`)."""
    if X is None and n_samples is None:
        raise ValueError("search: cross-validation needs data=(X, y) or n_samples")
    splitter = KFold(cv, shuffle=True, seed=0) if isinstance(cv, int) else cv
    index_source = X if X is not None else np.arange(n_samples)
    folds = []
    for k, (tr, va) in enumerate(splitter.split(index_source, y)):
        fold = Fold(k, tr, va)
        if X is not None:
            fold.X_train, fold.X_val = X[tr], X[va]
        if y is not None:
            fold.y_train, fold.y_val = y[tr], y[va]
        folds.append(fold)
    return folds


def _as_scores(result: Any, monitor: str) -> dict[str, float]:
    """A trial's return value as {name: float}, checking `monitor` is there."""
    if isinstance(result, dict):
        if monitor not in result:
            raise KeyError(f"search: the function returned {sorted(result)}, no {monitor!r}")
        return {k: float(v) for k, v in result.items()}
    return {monitor: float(result)}


def _run_trial(fn: Callable, params: dict[str, Any], folds: list[Fold] | None, monitor: str):
    """One row: params, mean (and std) of every score over folds, fold scores, time."""
    start = time.perf_counter()
    if folds is None:
        scores = _as_scores(fn(dict(params)), monitor)
        row = {"params": dict(params), **scores}
    else:
        per_fold = [_as_scores(fn(dict(params), fold), monitor) for fold in folds]
        row = {"params": dict(params)}
        for key in per_fold[0]:
            values = [s[key] for s in per_fold]
            row[key] = float(np.mean(values))
            row[f"{key}_std"] = float(np.std(values))
        row["fold_scores"] = [s[monitor] for s in per_fold]
    row["time"] = time.perf_counter() - start
    return row


# -- results --------------------------------------------------------------------------------


class SearchResults:
    """Trials sorted best-first by `monitor` (NaN scores last); `.best`, CSV and Markdown views."""

    def __init__(self, rows: list[dict[str, Any]], monitor: str = "score", mode: str = "min"):
        self.monitor, self.mode = monitor, resolve_mode(monitor, mode)
        sign = 1.0 if self.mode == "min" else -1.0

        def key(row: dict[str, Any]) -> tuple[bool, float]:
            value = row[monitor]
            return (math.isnan(value), sign * value if not math.isnan(value) else 0.0)

        self.rows = sorted(rows, key=key)
        for rank, row in enumerate(self.rows, start=1):
            row["rank"] = rank

    @property
    def best(self) -> dict[str, Any]:
        """The best row."""
        if not self.rows:
            raise ValueError("SearchResults: no trials")
        return self.rows[0]

    @property
    def best_params(self) -> dict[str, Any]:
        """The best row's hyperparameters."""
        return dict(self.best["params"])

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def _table(self) -> tuple[list[str], list[list[Any]]]:
        """Column names (rank, each param, scores) and the flattened rows."""
        names = list(dict.fromkeys(k for row in self.rows for k in row["params"]))
        scores = list(
            dict.fromkeys(
                k for r in self.rows for k in r if k not in ("params", "rank", "fold_scores")
            )
        )
        header = ["rank", *names, *scores]
        body = [
            [r["rank"], *(r["params"].get(n) for n in names), *(r.get(s) for s in scores)]
            for r in self.rows
        ]
        return header, body

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically: a temporary file, then renamed)."""
        header, body = self._table()
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(body)
        atomic_write(path, out.getvalue())

    def to_markdown(self) -> str:
        """The table in GitHub Markdown, floats to 4 significant digits."""
        header, body = self._table()

        def cell(v: Any) -> str:
            return f"{v:.4g}" if isinstance(v, float) else str(v)

        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in body]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_markdown()

    def __repr__(self) -> str:
        best = f"; best {self.monitor}={self.best[self.monitor]:.4g}" if self.rows else ""
        return f"SearchResults({len(self)} trials{best})"


def _search(fn, configs, cv, data, n_samples, monitor, mode, executor=None) -> SearchResults:
    X, y = (None, None) if data is None else data
    folds = None if cv is None else _folds(cv, X, y, n_samples)

    def run(params: dict[str, Any]) -> dict[str, Any]:
        return _run_trial(fn, params, folds, monitor)

    # `executor(run, configs)` may run the trials elsewhere (deepgrad.distributed.map_trials)
    rows = [run(params) for params in configs] if executor is None else executor(run, configs)
    return SearchResults(rows, monitor, mode)


def grid_search(
    fn: Callable[..., float | dict[str, float]],
    grid: dict[str, Sequence[Any]],
    cv: int | Any = None,
    data: tuple[Any, Any] | None = None,
    n_samples: int | None = None,
    monitor: str = "score",
    mode: str = "min",
    executor: Callable | None = None,
) -> SearchResults:
    """Try every combination of `grid` (a dict of lists); return the rows sorted best-first.

    `cv=k` (or a KFold/StratifiedKFold) calls `fn(params, fold)` per fold with
    `data=(X, y)` sliced into it (or only indices, given `n_samples`).  `executor(run,
    configs)`, if given, runs the trials (e.g. `deepgrad.distributed.map_trials` spreads
    them over MPI ranks); by default they run here, in order.

    >>> res = grid_search(lambda p: (p["a"] - 2) ** 2, {"a": [1, 2, 3]})
    >>> res.best_params, [r["score"] for r in res]
    ({'a': 2}, [0.0, 1.0, 1.0])
    """
    names = list(grid)
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(
                f"grid_search: grid[{name!r}] must be a non-empty list, got {values!r}"
            )
    configs = [dict(zip(names, combo)) for combo in itertools.product(*grid.values())]
    return _search(fn, configs, cv, data, n_samples, monitor, mode, executor)


def random_search(
    fn: Callable[..., float | dict[str, float]],
    space: dict[str, Any],
    n_iter: int = 10,
    seed: int = 0,
    cv: int | Any = None,
    data: tuple[Any, Any] | None = None,
    n_samples: int | None = None,
    monitor: str = "score",
    mode: str = "min",
    executor: Callable | None = None,
) -> SearchResults:
    """Try `n_iter` configurations sampled from `space` (Bergstra & Bengio 2012).

    Values of `space` are distributions (`loguniform`, `uniform`, `randint`,
    `choice`), lists (a uniform choice) or constants.  Same seed, same trials.
    """
    if n_iter <= 0:
        raise ValueError(f"random_search: n_iter must be positive, got {n_iter}")
    rng = np.random.default_rng(seed)
    configs = [_sample_space(space, rng) for _ in range(n_iter)]
    return _search(fn, configs, cv, data, n_samples, monitor, mode, executor)
