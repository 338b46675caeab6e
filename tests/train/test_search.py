"""Grid and random search: sorted tables, k-fold cross-validation, reproducible sampling."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from train_helpers import mlp

from deepgrad import nn, optim
from deepgrad.data import DataLoader, StratifiedKFold, TensorDataset
from deepgrad.train import (
    SearchResults,
    choice,
    evaluate,
    fit,
    grid_search,
    loguniform,
    randint,
    random_search,
    uniform,
)


def test_grid_search_tries_every_combination_sorted_best_first():
    res = grid_search(lambda p: (p["a"] - 1) ** 2 + p["b"], {"a": [0, 1, 2, 3], "b": [0.5, 0.0]})
    assert len(res) == 8
    scores = [r["score"] for r in res]
    assert scores == sorted(scores)
    assert res.best_params == {"a": 1, "b": 0.0} and res.best["rank"] == 1


def test_mode_max_and_dict_results():
    res = grid_search(lambda p: {"acc": p["x"] / 10, "loss": 1 - p["x"] / 10}, {"x": [3, 9, 1]},
                      monitor="acc", mode="max")  # fmt: skip
    assert [r["params"]["x"] for r in res] == [9, 3, 1]
    assert res.best["loss"] == pytest.approx(0.1)
    with pytest.raises(KeyError, match="no 'score'"):
        grid_search(lambda p: {"acc": 1.0}, {"x": [1]})


def test_nan_scores_sort_last():
    res = grid_search(lambda p: float("nan") if p["x"] == 0 else p["x"], {"x": [0, 2, 1]})
    assert [r["params"]["x"] for r in res] == [1, 2, 0]


def test_random_search_samples_from_distributions_reproducibly():
    space = {"lr": loguniform(1e-4, 1e-1), "p": uniform(0.0, 0.5), "n": randint(1, 4),
             "act": choice(["relu", "tanh"]), "width": [16, 32], "fixed": 7}  # fmt: skip
    seen = []

    def fn(params):
        seen.append(params)
        return abs(np.log10(params["lr"]) + 2)

    res = random_search(fn, space, n_iter=30, seed=3)
    again = random_search(lambda p: abs(np.log10(p["lr"]) + 2), space, n_iter=30, seed=3)
    assert [r["params"] for r in res] == [r["params"] for r in again]
    lrs = np.array([p["lr"] for p in seen])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1 and (lrs < 1e-3).any() and (lrs > 1e-2).any()
    assert {p["n"] for p in seen} == {1, 2, 3} and {p["act"] for p in seen} == {"relu", "tanh"}
    assert {p["width"] for p in seen} == {16, 32} and {p["fixed"] for p in seen} == {7}
    assert all(0 <= p["p"] <= 0.5 for p in seen)
    with pytest.raises(ValueError, match="0 < lo < hi"):
        loguniform(0, 1)


def test_k_fold_cross_validation_passes_folds_and_averages():
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    folds_seen = []

    def fn(params, fold):
        folds_seen.append(fold)
        assert len(fold.X_train) + len(fold.X_val) == 10
        assert np.array_equal(fold.X_val, X[fold.val_idx])
        return float(fold.val_idx.mean()) + params["c"]

    res = grid_search(fn, {"c": [0.0, 1.0]}, cv=5, data=(X, y))
    assert len(folds_seen) == 10
    vals = np.concatenate([f.val_idx for f in folds_seen[:5]])
    assert sorted(vals.tolist()) == list(range(10))  # val folds partition the data
    assert res.best["score"] == pytest.approx(4.5) and len(res.best["fold_scores"]) == 5
    assert "score_std" in res.best
    strat = grid_search(lambda p, f: 0.0, {"c": [0]}, cv=StratifiedKFold(2), data=(X, y))
    assert strat.best["fold_scores"] == [0.0, 0.0]


def test_results_table_csv_and_markdown(tmp_path):
    res = SearchResults(
        [{"params": {"lr": 0.1}, "score": 2.0}, {"params": {"lr": 0.01}, "score": 1.0}]
    )
    res.to_csv(tmp_path / "r.csv")
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["rank"], r["lr"], r["score"]) for r in rows] == [
        ("1", "0.01", "1.0"),
        ("2", "0.1", "2.0"),
    ]
    md = str(res).splitlines()
    assert md[0] == "| rank | lr | score |" and md[2] == "| 1 | 0.01 | 1 |"


def test_search_over_a_real_model_with_cv(spiral_data):
    X, y = spiral_data

    def train_and_score(params, fold):
        model = mlp((2, params["width"], 3))
        opt = optim.Adam(model.parameters(), lr=params["lr"])
        loader = DataLoader(TensorDataset(fold.X_train, fold.y_train), 32, shuffle=True, seed=0)
        fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=5, verbose=0)
        val = DataLoader(TensorDataset(fold.X_val, fold.y_val), 64)
        return evaluate(model, val, nn.CrossEntropyLoss(), ["accuracy"])

    res = grid_search(train_and_score, {"width": [4, 32], "lr": [1e-4, 3e-2]}, cv=3,
                      data=(X, y), monitor="accuracy", mode="max")  # fmt: skip
    assert res.best_params == {"width": 32, "lr": 3e-2}
    assert res.rows[-1]["accuracy"] < res.best["accuracy"]
