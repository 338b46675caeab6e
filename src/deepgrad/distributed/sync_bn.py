"""`all_reduce` as a differentiable primitive, and `SyncBatchNorm` built on it.

The sum over ranks $y = \\sum_r x_r$ is linear, and its adjoint is itself:
every rank's $x_r$ feeds every rank's $y$, so $\\partial L / \\partial x_r =
\\sum_s \\partial L / \\partial y_s$, one more all-reduce of the incoming
gradients.  With that one primitive, batch statistics over the global batch
are an ordinary composite and backpropagate correctly across ranks.
"""

from __future__ import annotations

import numpy as np

from ..core.primitive import Case, Domain, ErrorCase, apply, primitive
from ..core.tensor import Tensor
from ..nn import functional as F
from ..nn.module import Module
from ..nn.normalization import _BatchNorm
from ..ops.elementwise import add, mul, pow, sub
from ..ops.reduce import sum as dg_sum
from ..ops.shape import reshape
from .comm import all_reduce_array


@primitive(
    "all_reduce_sum",
    vjp=[lambda g, ans, x: all_reduce(g)],
    jvp=[lambda t, ans, x: all_reduce(t)],
    domain=Domain(
        [Case(((3,),)), Case(((2, 3),)), Case(((),))],
        errors=[
            ErrorCase(
                lambda: all_reduce(Tensor(np.ones(2)), op="prod"), ValueError,
                r"all_reduce: op must be 'sum'.*got 'prod'",
            )
        ],
    ),
)  # fmt: skip
def _all_reduce_sum(x):
    """$y = \\sum_{r} x_r$ over the ranks (identity in one process); dx = all_reduce(g)."""
    return all_reduce_array(np.array(x, order="C", copy=True), "sum")


def all_reduce(x: Tensor, op: str = "sum") -> Tensor:
    """The sum (or mean) of `x` over all ranks, differentiable: $y = \\sum_r x_r$."""
    if op not in ("sum", "mean"):
        raise ValueError(f"all_reduce: op must be 'sum' or 'mean', got {op!r}")
    from .comm import world_size

    y = apply(_all_reduce_sum, x)
    return y if op == "sum" else mul(y, Tensor(np.asarray(1.0 / world_size(), x._data.dtype)))


def _global_stats(x: Tensor) -> tuple[Tensor, Tensor, int]:
    """Mean and biased variance per channel over every rank's batch (kept dims)."""
    axes = (0,) + tuple(range(2, x.ndim))
    local_n = x.numel() // x.shape[1]
    n = int(all_reduce_array(np.array([local_n], dtype=np.int64), "sum")[0])
    inv_n = Tensor(np.asarray(1.0 / n, x._data.dtype))
    mu = mul(all_reduce(dg_sum(x, axis=axes, keepdims=True)), inv_n)
    d = sub(x, mu)
    var = mul(all_reduce(dg_sum(mul(d, d), axis=axes, keepdims=True)), inv_n)
    return mu, var, n


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose training statistics span the global batch of all ranks:
    $\\mu = \\frac{1}{N}\\sum_{r,i} x_{r,i}$, $\\sigma^2 = \\frac{1}{N}\\sum_{r,i}(x_{r,i} - \\mu)^2$,
    $y = \\gamma (x - \\mu)/\\sqrt{\\sigma^2 + \\epsilon} + \\beta$ (as torch.nn.SyncBatchNorm).
    Evaluation uses the running statistics, like `BatchNorm2d`; in one process it is
    `BatchNorm2d` (or 1d/3d: any rank >= 2 input)."""

    _layouts = ("(N, {C})", "(N, {C}, L)", "(N, {C}, H, W)", "(N, {C}, D, H, W)")
    _ndims = (2, 3, 4, 5)

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not self.training and self.running_mean is not None:
            return super().forward(x)
        factor = self._factor()
        mu, var, n = _global_stats(x)
        if n <= 1:
            raise ValueError(
                f"SyncBatchNorm: expected more than 1 value per channel when training, got {n}"
            )
        if self.training and self.track_running_stats:
            F._update_running(self.running_mean, self.running_var, mu._data, var._data, n, factor)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        y = mul(sub(x, mu), pow(add(var, self.eps), -0.5))
        if self.weight is not None:
            y = mul(y, reshape(self.weight, shape))
        if self.bias is not None:
            y = add(y, reshape(self.bias, shape))
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """`module` with every batch norm layer replaced by a SyncBatchNorm holding the same
        parameters and running statistics (as torch.nn.SyncBatchNorm.convert_sync_batchnorm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats)  # fmt: skip
            sync.load_state_dict(module.state_dict())
            sync.train(module.training)
            return sync
        for name, child in list(module._modules.items()):
            if child is not None:
                setattr(module, name, cls.convert_sync_batchnorm(child))
        return module
