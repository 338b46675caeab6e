"""Metrics against hand-computed values; streaming metrics equal the functions on all data."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.train import metrics as M

Y_TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 1, 1, 1, 2, 0, 2])
# confusion matrix by hand: rows true, columns predicted
CM = np.array([[1, 1, 0], [0, 2, 0], [1, 0, 2]])


def test_accuracy_labels_and_scores():
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 7)
    scores = np.eye(3)[Y_PRED] * 0.8 + 0.05
    assert M.accuracy(Y_TRUE, scores) == pytest.approx(5 / 7)
    assert M.accuracy(dg.tensor(Y_TRUE), dg.tensor(scores)) == pytest.approx(5 / 7)


def test_confusion_matrix_by_hand():
    np.testing.assert_array_equal(M.confusion_matrix(Y_TRUE, Y_PRED), CM)
    np.testing.assert_array_equal(M.confusion_matrix([0], [0], num_classes=3).sum(), 1)


def test_precision_recall_f1_by_hand():
    # per class: P = [1/2, 2/3, 1], R = [1/2, 1, 2/3]
    p, r = np.array([1 / 2, 2 / 3, 1.0]), np.array([1 / 2, 1.0, 2 / 3])
    f1 = 2 * p * r / (p + r)
    per = M.precision_recall_f1(Y_TRUE, Y_PRED, average=None)
    np.testing.assert_allclose(per["precision"], p)
    np.testing.assert_allclose(per["recall"], r)
    np.testing.assert_allclose(per["f1"], f1)
    assert M.precision(Y_TRUE, Y_PRED) == pytest.approx(p.mean())
    assert M.recall(Y_TRUE, Y_PRED) == pytest.approx(r.mean())
    assert M.f1_score(Y_TRUE, Y_PRED) == pytest.approx(f1.mean())
    support = np.array([2, 2, 3]) / 7
    assert M.f1_score(Y_TRUE, Y_PRED, average="weighted") == pytest.approx(f1 @ support)
    # micro-averaged P = R = F1 = accuracy for single-label data
    assert M.precision(Y_TRUE, Y_PRED, average="micro") == pytest.approx(5 / 7)
    assert M.f1_score(Y_TRUE, Y_PRED, average="micro") == pytest.approx(5 / 7)


def test_class_never_predicted_counts_zero_precision():
    assert M.precision([0, 1], [0, 0], average=None).tolist() == [0.5, 0.0]


def test_top_k_accuracy_by_hand():
    scores = np.array([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.3, 0.3, 0.4]])
    y = np.array([2, 2, 0])
    assert M.top_k_accuracy(y, scores, k=1) == pytest.approx(0.0)
    assert M.top_k_accuracy(y, scores, k=2) == pytest.approx(2 / 3)  # ties favour the truth
    assert M.top_k_accuracy(y, scores, k=3) == 1.0
    with pytest.raises(ValueError, match="k must be in 1..3"):
        M.top_k_accuracy(y, scores, k=4)


def test_regression_metrics_by_hand():
    t, p = np.array([3.0, -0.5, 2.0, 7.0]), np.array([2.5, 0.0, 2.0, 8.0])
    assert M.mean_squared_error(t, p) == pytest.approx(0.375)
    assert M.mean_absolute_error(t, p) == pytest.approx(0.5)
    assert M.r2_score(t, p) == pytest.approx(0.9486081370449679)  # scikit-learn's example
    assert M.mean_squared_error(t[:, None], p) == pytest.approx(0.375)  # (N, 1) vs (N,)


@pytest.mark.parametrize("fn", [M.accuracy, M.confusion_matrix, M.f1_score])
def test_label_outside_classes_names_value_and_range(fn):
    scores = np.zeros((3, 3))
    with pytest.raises(
        ValueError, match=r"label 5 is outside the model's 3 classes \(valid range 0..2\)"
    ):
        fn([0, 5, 1], scores)
    with pytest.raises(ValueError, match="label -1"):
        fn([0, -1, 1], scores)


def test_streaming_metrics_equal_functions_on_concatenation():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(50, 4))
    y = rng.integers(0, 4, 50)
    streaming = [M.get_metric(n) for n in ("accuracy", "top2_accuracy", "f1", "precision_weighted")]
    for lo in range(0, 50, 7):
        for m in streaming:
            m.update(scores[lo : lo + 7], y[lo : lo + 7])
    assert streaming[0].compute() == pytest.approx(M.accuracy(y, scores))
    assert streaming[1].compute() == pytest.approx(M.top_k_accuracy(y, scores, 2))
    assert streaming[2].compute() == pytest.approx(M.f1_score(y, scores))
    assert streaming[3].compute() == pytest.approx(M.precision(y, scores, "weighted"))


def test_streaming_regression_is_exact():
    rng = np.random.default_rng(1)
    t, p = rng.normal(size=(40, 2)) * 3 + 5, rng.normal(size=(40, 2))
    ms = [M.MeanSquaredError(), M.MeanAbsoluteError(), M.R2Score()]
    for lo in range(0, 40, 9):
        for m in ms:
            m.update(p[lo : lo + 9], t[lo : lo + 9])
    assert ms[0].compute() == pytest.approx(M.mean_squared_error(t, p))
    assert ms[1].compute() == pytest.approx(M.mean_absolute_error(t, p))
    assert ms[2].compute() == pytest.approx(M.r2_score(t, p))


def test_metric_state_dict_round_trip():
    a = M.get_metric("f1")
    a.update(np.eye(3), [0, 1, 1])
    b = M.get_metric("f1")
    b.load_state_dict(a.state_dict())
    assert b.compute() == a.compute()
    b.update(np.eye(3), [0, 1, 2])
    assert b.matrix.sum() == 6


def test_get_metric_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown metric 'bogus'"):
        M.get_metric("bogus")
