"""Metrics: plain NumPy functions on (targets, predictions), and streaming versions for `fit`.

Functions take `(y_true, y_pred)` in scikit-learn's order.  Classification
functions accept `y_pred` as labels (N,) or as scores/logits/probabilities
(N, C), reduced by argmax.  A label outside the classes raises a ValueError
naming the value and the valid range.

Streaming metrics (`Metric` subclasses) accumulate sufficient statistics over
batches (counts, a confusion matrix, sums), so the value over an epoch is exact,
not an average of per-batch values; `state_dict()` makes them resumable.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from deepgrad.core.tensor import Tensor

_AVERAGES = ("macro", "micro", "weighted", None)


def _np(x: Any) -> np.ndarray:
    """The ndarray behind a Tensor, or `np.asarray(x)`."""
    return x._data if isinstance(x, Tensor) else np.asarray(x)


def check_labels(labels: np.ndarray, num_classes: int, who: str) -> np.ndarray:
    """Return `labels` as int64, raising ValueError on non-integers or values outside 0..C-1."""
    labels = _np(labels)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"{who}: labels must be integers, got non-integer float labels")
    elif labels.dtype.kind not in "iub":
        raise TypeError(f"{who}: labels must be integers, got dtype {labels.dtype}")
    labels = labels.astype(np.int64)
    bad = (labels < 0) | (labels >= num_classes)
    if np.any(bad):
        value = int(labels[bad].flat[0])
        raise ValueError(
            f"{who}: label {value} is outside the model's {num_classes} classes "
            f"(valid range 0..{num_classes - 1})"
        )
    return labels


def _pred_labels(y_pred: Any, num_classes: int | None, who: str) -> tuple[np.ndarray, int | None]:
    """Predicted labels and the number of classes the scores imply (None for label input)."""
    y_pred = _np(y_pred)
    if y_pred.ndim >= 2:
        return y_pred.argmax(axis=-1).reshape(-1), y_pred.shape[-1]
    return y_pred.reshape(-1), num_classes


def _class_pair(y_true: Any, y_pred: Any, num_classes: int | None, who: str):
    """(true labels, predicted labels, C), both checked against C classes."""
    pred, c = _pred_labels(y_pred, num_classes, who)
    true = _np(y_true).reshape(-1)
    if len(true) != len(pred):
        raise ValueError(f"{who}: {len(true)} targets but {len(pred)} predictions")
    if c is None:
        pred_i = check_labels(pred, np.iinfo(np.int64).max, who)
        true_i = check_labels(true, np.iinfo(np.int64).max, who)
        c = int(max(pred_i.max(initial=-1), true_i.max(initial=-1)) + 1)
    return check_labels(true, c, who), check_labels(pred, c, who), c


def accuracy(y_true: Any, y_pred: Any, num_classes: int | None = None) -> float:
    """Fraction of correct labels: (1/N) sum_i [argmax(y_pred_i) == y_i].

    >>> accuracy([0, 1, 2], [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1]])
    0.6666666666666666
    """
    true, pred, _ = _class_pair(y_true, y_pred, num_classes, "accuracy")
    return float(np.mean(true == pred)) if len(true) else float("nan")


def _topk_hits(y_true: Any, scores: Any, k: int, who: str) -> np.ndarray:
    """Boolean (N,): whether the true label is among the k highest scores."""
    scores = _np(scores)
    if scores.ndim != 2:
        raise ValueError(f"{who}: scores must be (N, C), got shape {scores.shape}")
    if not 1 <= k <= scores.shape[1]:
        raise ValueError(f"{who}: k must be in 1..{scores.shape[1]}, got {k}")
    true = check_labels(_np(y_true).reshape(-1), scores.shape[1], who)
    if len(true) != len(scores):
        raise ValueError(f"{who}: {len(true)} targets but {len(scores)} score rows")
    # NOTE: counting the classes scored strictly higher than the true one makes ties favour
    # the true class, so the result does not depend on a sort's tie-breaking.
    own = np.take_along_axis(scores, true[:, None], axis=1)
    return (scores > own).sum(axis=1) < k


def top_k_accuracy(y_true: Any, scores: Any, k: int = 5) -> float:
    """Fraction of samples whose true class is among the k highest scores (ties favour it).

    >>> top_k_accuracy([2, 0], [[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]], k=2)
    0.0
    """
    hits = _topk_hits(y_true, scores, k, "top_k_accuracy")
    return float(hits.mean()) if len(hits) else float("nan")


def confusion_matrix(y_true: Any, y_pred: Any, num_classes: int | None = None) -> np.ndarray:
    """C x C counts: entry [i, j] is the number of samples of true class i predicted as j.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
    [[1, 0], [1, 1]]
    """
    true, pred, c = _class_pair(y_true, y_pred, num_classes, "confusion_matrix")
    return np.bincount(true * c + pred, minlength=c * c).reshape(c, c)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def scores_from_confusion(cm: np.ndarray, average: str | None = "macro") -> dict[str, Any]:
    """Precision, recall and F1 from a confusion matrix, averaged as asked.

    Per class: P = TP/(TP+FP), R = TP/(TP+FN), F1 = 2PR/(P+R) (0 when undefined).
    `macro`: unweighted mean over classes; `weighted`: weighted by support;
    `micro`: from the pooled counts (equals accuracy for single-label data);
    `None`: the per-class arrays.
    """
    if average not in _AVERAGES:
        raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}")
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    if average == "micro":
        p = r = float(_safe_div(tp.sum(), predicted.sum()))
        f1 = float(_safe_div(2 * p * r, p + r))
        return {"precision": p, "recall": r, "f1": f1}
    p, r = _safe_div(tp, predicted), _safe_div(tp, support)
    f1 = _safe_div(2 * p * r, p + r)
    if average is None:
        return {"precision": p, "recall": r, "f1": f1, "support": support}
    if average == "weighted":
        weights = _safe_div(support, support.sum())
    else:
        weights = np.full(len(support), 1.0 / len(support))
    return {
        "precision": float(p @ weights),
        "recall": float(r @ weights),
        "f1": float(f1 @ weights),
    }


def precision_recall_f1(
    y_true: Any, y_pred: Any, average: str | None = "macro", num_classes: int | None = None
) -> dict[str, Any]:
    """{"precision", "recall", "f1"} for labels or scores; see `scores_from_confusion`."""
    return scores_from_confusion(confusion_matrix(y_true, y_pred, num_classes), average)


def precision(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """Precision TP / (TP + FP), per class (average=None) or macro/micro/weighted averaged."""
    return precision_recall_f1(y_true, y_pred, average, num_classes)["precision"]


def recall(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """Recall TP / (TP + FN), per class (average=None) or macro/micro/weighted averaged."""
    return precision_recall_f1(y_true, y_pred, average, num_classes)["recall"]


def f1_score(y_true: Any, y_pred: Any, average: str | None = "macro", num_classes=None) -> Any:
    """F1 = 2 P R / (P + R), the harmonic mean of precision and recall (van Rijsbergen 1979).

    >>> round(f1_score([0, 0, 1, 1], [0, 1, 1, 1]), 4)
    0.7333
    """
    return precision_recall_f1(y_true, y_pred, average, num_classes)["f1"]


def _regression_pair(y_true: Any, y_pred: Any, who: str) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 of one shape (a trailing size-1 axis is squeezed to match)."""
    t = _np(y_true).astype(np.float64)
    p = _np(y_pred).astype(np.float64)
    if t.shape != p.shape and t.size == p.size:
        t, p = t.reshape(-1), p.reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"{who}: targets {t.shape} and predictions {p.shape} differ in shape")
    return t, p


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """MSE = (1/N) sum (y - yhat)^2 over every element.

    >>> mean_squared_error([1.0, 2.0], [1.0, 4.0])
    2.0
    """
    t, p = _regression_pair(y_true, y_pred, "mean_squared_error")
    return float(np.mean((t - p) ** 2))


def mean_absolute_error(y_true: Any, y_pred: Any) -> float:
    """MAE = (1/N) sum |y - yhat| over every element."""
    t, p = _regression_pair(y_true, y_pred, "mean_absolute_error")
    return float(np.mean(np.abs(t - p)))


def r2_score(y_true: Any, y_pred: Any) -> float:
    """Coefficient of determination R^2 = 1 - SS_res / SS_tot (pooled over all outputs).

    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    0.5
    """
    t, p = _regression_pair(y_true, y_pred, "r2_score")
    ss_res = np.sum((t - p) ** 2)
    ss_tot = np.sum((t - t.mean()) ** 2)
    return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


# -- streaming metrics: exact over an epoch ------------------------------------------------


class Metric(ABC):
    """A metric accumulated over batches: `reset()`, `update(outputs, targets)`, `compute()`.

    Subclasses keep sufficient statistics, so `compute()` after many `update`s equals
    the plain function on the concatenated batches.  `state_dict()` is JSON-safe.
    """

    name: str = "metric"
    higher_is_better: bool = True

    def __init__(self) -> None:
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abstractmethod
    def update(self, outputs: Any, targets: Any) -> None:
        """Add one batch of model outputs and targets."""

    @abstractmethod
    def compute(self) -> float:
        """The metric over every batch since the last `reset`."""

    def state_dict(self) -> dict[str, Any]:
        """The accumulated statistics, as JSON-safe numbers and lists."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(self).items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore statistics saved by `state_dict`."""
        for key, value in state.items():
            current = getattr(self, key, None)
            setattr(
                self,
                key,
                np.asarray(value, dtype=current.dtype)
                if isinstance(current, np.ndarray)
                else value,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """Weighted running mean: sum_i w_i v_i / sum_i w_i (the epoch loss with w = batch size)."""

    higher_is_better = False

    def __init__(self, name: str = "loss") -> None:
        self.name = name
        super().__init__()

    def reset(self) -> None:
        self.total, self.weight = 0.0, 0.0

    def update(self, value: Any, weight: Any = 1.0) -> None:
        """Add `value` with weight `weight` (e.g. a batch's mean loss and its size)."""
        self.total += float(_np(value)) * float(weight)
        self.weight += float(weight)

    def compute(self) -> float:
        return self.total / self.weight if self.weight else float("nan")


class Accuracy(Metric):
    """Streaming `accuracy`: correct / seen."""

    name = "accuracy"

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = num_classes
        super().__init__()

    def reset(self) -> None:
        self.correct, self.count = 0, 0

    def update(self, outputs: Any, targets: Any) -> None:
        true, pred, _ = _class_pair(targets, outputs, self.num_classes, "accuracy")
        self.correct += int(np.sum(true == pred))
        self.count += len(true)

    def compute(self) -> float:
        return self.correct / self.count if self.count else float("nan")


class TopKAccuracy(Accuracy):
    """Streaming `top_k_accuracy`: the true class among the k highest scores."""

    def __init__(self, k: int = 5) -> None:
        self.k = int(k)
        self.name = f"top{self.k}_accuracy"
        super().__init__()

    def update(self, outputs: Any, targets: Any) -> None:
        hits = _topk_hits(targets, outputs, self.k, self.name)
        self.correct += int(hits.sum())
        self.count += len(hits)


class ConfusionMatrix(Metric):
    """Streaming confusion matrix; it grows when label input shows a new class."""

    name = "confusion_matrix"

    def __init__(self, num_classes: int | None = None) -> None:
        self.num_classes = num_classes
        super().__init__()

    def reset(self) -> None:
        self.matrix = np.zeros((self.num_classes or 0,) * 2, dtype=np.int64)

    def update(self, outputs: Any, targets: Any) -> None:
        cm = confusion_matrix(targets, outputs, self.num_classes or None)
        c = max(len(cm), len(self.matrix))
        grown = np.zeros((c, c), dtype=np.int64)
        grown[: len(self.matrix), : len(self.matrix)] += self.matrix
        grown[: len(cm), : len(cm)] += cm
        self.matrix = grown

    def compute(self) -> np.ndarray:  # type: ignore[override]
        return self.matrix.copy()


class _FromConfusion(ConfusionMatrix):
    """Precision, recall or F1 computed from an accumulated confusion matrix."""

    key = "f1"

    def __init__(self, average: str | None = "macro", num_classes: int | None = None) -> None:
        if average not in _AVERAGES:
            raise ValueError(f"{type(self).__name__}: average must be one of {_AVERAGES}")
        self.average = average
        suffix = "" if average == "macro" else f"_{average}"
        self.name = f"{self.key}{suffix}"
        super().__init__(num_classes)

    def compute(self) -> Any:  # type: ignore[override]
        if not self.matrix.size:
            return float("nan")
        return scores_from_confusion(self.matrix, self.average)[self.key]


class Precision(_FromConfusion):
    """Streaming precision TP / (TP + FP), averaged over classes as asked."""

    key = "precision"


class Recall(_FromConfusion):
    """Streaming recall TP / (TP + FN), averaged over classes as asked."""

    key = "recall"


class F1Score(_FromConfusion):
    """Streaming F1 = 2PR / (P + R), averaged over classes as asked."""

    key = "f1"


class MeanSquaredError(Metric):
    """Streaming MSE: sum of squared errors / number of elements."""

    name, higher_is_better = "mse", False

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def _errors(self, outputs: Any, targets: Any) -> np.ndarray:
        t, p = _regression_pair(targets, outputs, self.name)
        return t - p

    def update(self, outputs: Any, targets: Any) -> None:
        e = self._errors(outputs, targets)
        self.total += float(np.sum(e * e))
        self.count += e.size

    def compute(self) -> float:
        return self.total / self.count if self.count else float("nan")


class MeanAbsoluteError(MeanSquaredError):
    """Streaming MAE: sum of absolute errors / number of elements."""

    name = "mae"

    def update(self, outputs: Any, targets: Any) -> None:
        e = self._errors(outputs, targets)
        self.total += float(np.sum(np.abs(e)))
        self.count += e.size


class R2Score(Metric):
    """Streaming R^2 = 1 - SS_res / SS_tot; SS_tot merged across batches (Chan et al. 1979)."""

    name = "r2"

    def reset(self) -> None:
        self.count, self.mean, self.m2, self.ss_res = 0, 0.0, 0.0, 0.0

    def update(self, outputs: Any, targets: Any) -> None:
        t, p = _regression_pair(targets, outputs, self.name)
        n_b = t.size
        if not n_b:
            return
        mean_b = float(t.mean())
        m2_b = float(np.sum((t - mean_b) ** 2))
        n = self.count + n_b
        delta = mean_b - self.mean
        self.m2 += m2_b + delta * delta * self.count * n_b / n
        self.mean += delta * n_b / n
        self.count = n
        self.ss_res += float(np.sum((t - p) ** 2))

    def compute(self) -> float:
        return 1.0 - self.ss_res / self.m2 if self.m2 > 0 else float("nan")


_BY_NAME = {
    "accuracy": Accuracy, "acc": Accuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "r2": R2Score, "r2_score": R2Score, "confusion_matrix": ConfusionMatrix,
}  # fmt: skip
_AVERAGED = {"precision": Precision, "recall": Recall, "f1": F1Score, "f1_score": F1Score}


def get_metric(spec: str | Metric) -> Metric:
    """A fresh streaming metric from a name: accuracy, top5_accuracy, precision[_micro|...],
    recall, f1[_weighted], mse, mae, r2, confusion_matrix; a `Metric` passes through.

    >>> get_metric("f1_weighted").name, get_metric("top3_accuracy").k
    ('f1_weighted', 3)
    """
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"get_metric: expected a metric name or Metric, got {spec!r}")
    key = spec.lower()
    if key in _BY_NAME:
        return _BY_NAME[key]()
    if key.startswith("top") and key.endswith("_accuracy") and key[3:-9].isdigit():
        return TopKAccuracy(int(key[3:-9]))
    base, _, average = key.rpartition("_") if key.rsplit("_", 1)[-1] in _AVERAGES else (key, "", "")
    if base in _AVERAGED:
        return _AVERAGED[base](average or "macro")
    known = sorted([*_BY_NAME, *_AVERAGED, "topK_accuracy", "<name>_micro|_weighted"])
    raise ValueError(f"get_metric: unknown metric {spec!r}; known: {', '.join(known)}")
