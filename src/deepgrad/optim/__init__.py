"""Optimizers, learning-rate schedules, line searches and second-order methods.

    opt = dg.optim.Adam(model.parameters(), lr=1e-3)
    sched = dg.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=100)
    for x, y in loader:
        opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    sched.step()

The API follows torch.optim: parameter groups, `step(closure)`, `state_dict()`.
"""

from __future__ import annotations

from . import flat, line_search, lr_scheduler, swa_utils
from .adaptive import Adagrad, Adam, AdamW, RMSprop
from .adaptive_extra import ASGD, Adadelta, Adamax, NAdam, RAdam, Rprop
from .hypergradient import SGDHD, AdamHD, differentiate_through_optimization, unrolled
from .least_squares import GaussNewton, LevenbergMarquardt, conjugate_gradient, least_squares
from .line_search import LineSearchResult, armijo_backtracking, strong_wolfe
from .optimizer import Optimizer
from .quasi_newton import BFGS, LBFGS
from .second_order import Newton
from .sgd import SGD
from .sparse_adam import SparseAdam
from .swa_utils import AveragedModel, get_ema_multi_avg_fn, get_swa_multi_avg_fn, update_bn

__all__ = [
    "ASGD",
    "BFGS",
    "LBFGS",
    "SGD",
    "SGDHD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamHD",
    "AdamW",
    "Adamax",
    "AveragedModel",
    "GaussNewton",
    "LevenbergMarquardt",
    "LineSearchResult",
    "NAdam",
    "Newton",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "Rprop",
    "SparseAdam",
    "armijo_backtracking",
    "conjugate_gradient",
    "differentiate_through_optimization",
    "flat",
    "get_ema_multi_avg_fn",
    "get_swa_multi_avg_fn",
    "least_squares",
    "line_search",
    "lr_scheduler",
    "strong_wolfe",
    "swa_utils",
    "unrolled",
    "update_bn",
]
