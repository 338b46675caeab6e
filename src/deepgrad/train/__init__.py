"""Training: the fit loop, callbacks, metrics, checkpoints, model selection and ensembles.

    history = dg.train.fit(model, loss_fn, opt, train_loader, val_loader, epochs=10,
                           metrics=["accuracy"], callbacks=[dg.train.EarlyStopping(patience=3)],
                           checkpoint_dir="runs/mlp")
    test = dg.train.evaluate(model, test_loader, loss_fn)   # once, after model selection

Names follow Keras (callbacks, `History`) and scikit-learn (metrics, search)
where they overlap.
"""

from ..fileio import atomic_write
from . import doctor, metrics
from .callback_list import CallbackList
from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLinesLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
    TerminateOnNaN,
)
from .checkpoint import (
    Checkpoint,
    CheckpointError,
    capture_rng,
    load_checkpoint,
    read_checkpoint,
    restore_rng,
    save_checkpoint,
)
from .checkpoint_policy import CheckpointPolicy
from .curves import Finding, Report, curve_verdict, history_verdict
from .doctor import Doctor, diagnose
from .ensemble import Ensemble, bagging
from .evaluate import evaluate, predict
from .fit import Trainer, clip_grad_norm, clip_grad_value, fit
from .history import History
from .lr_finder import LRFinderResult, lr_find
from .metrics import (
    Accuracy,
    ConfusionMatrix,
    F1Score,
    Mean,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    f1_score,
    get_metric,
    mean_absolute_error,
    mean_squared_error,
    precision,
    precision_recall_f1,
    r2_score,
    recall,
    top_k_accuracy,
)
from .probe import isolated
from .search import (
    Fold,
    SearchResults,
    choice,
    grid_search,
    loguniform,
    randint,
    random_search,
    uniform,
)

__all__ = [
    "Accuracy",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "Checkpoint",
    "CheckpointError",
    "CheckpointPolicy",
    "ConfusionMatrix",
    "Doctor",
    "EarlyStopping",
    "Ensemble",
    "F1Score",
    "Finding",
    "Fold",
    "History",
    "JSONLinesLogger",
    "LRFinderResult",
    "LRSchedulerCallback",
    "Mean",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "ModelCheckpoint",
    "Precision",
    "ProgressBar",
    "R2Score",
    "Recall",
    "Report",
    "SearchResults",
    "TerminateOnNaN",
    "TopKAccuracy",
    "Trainer",
    "accuracy",
    "atomic_write",
    "bagging",
    "capture_rng",
    "choice",
    "clip_grad_norm",
    "clip_grad_value",
    "confusion_matrix",
    "curve_verdict",
    "diagnose",
    "doctor",
    "evaluate",
    "f1_score",
    "fit",
    "get_metric",
    "grid_search",
    "history_verdict",
    "isolated",
    "load_checkpoint",
    "loguniform",
    "lr_find",
    "mean_absolute_error",
    "mean_squared_error",
    "metrics",
    "precision",
    "precision_recall_f1",
    "predict",
    "r2_score",
    "randint",
    "random_search",
    "read_checkpoint",
    "recall",
    "restore_rng",
    "save_checkpoint",
    "top_k_accuracy",
    "uniform",
]  # fmt: skip

from .tbptt import detach_state, tbptt_chunks, tbptt_epoch

__all__ += ["detach_state", "tbptt_chunks", "tbptt_epoch"]
