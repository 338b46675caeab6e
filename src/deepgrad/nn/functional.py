"""`deepgrad.nn.functional` (`F`): layers as functions of tensors, as `torch.nn.functional`.

This file holds the affine, embedding, dropout and normalisation functions;
activations and losses live in `activation_functional.py` and
`loss_functional.py` and are re-exported here.
"""

from __future__ import annotations

import numpy as np

from ..core.random import _gen
from ..core.state import host_call
from ..core.tensor import Tensor, _wrap
from ..ops import elementwise as E
from ..ops.batch_norm import batch_norm as _channel_batch_norm
from ..ops.index import getitem
from ..ops.nnops import linear
from ..ops.reduce import mean
from ..ops.shape import reshape
from ..ops.validation import check_float, check_int, check_shape
from .activation_functional import *
from .activation_functional import __all__ as _ACT_ALL
from .crossentropy_functional import *
from .crossentropy_functional import __all__ as _XENT_ALL
from .loss_functional import *
from .loss_functional import __all__ as _LOSS_ALL
from .sparse_grad import sparse_lookup

__all__ = [  # noqa: PLE0604 - the star-imported lists are lists of names
    "alpha_dropout", "batch_norm", "dropout", "embedding", "group_norm", "instance_norm",
    "layer_norm", "linear", *_ACT_ALL, *_LOSS_ALL, *_XENT_ALL,
]  # fmt: skip

_ALPHA_PRIME = 1.7580993408473766  # SELU's negative saturation -lambda * alpha (Klambauer 2017)


def _check_p(p: float, name: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: probability p must be in [0, 1], got {p}")


def dropout(
    x: Tensor,
    p: float = 0.5,
    training: bool = True,
    inplace: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Inverted dropout: $y = x \\cdot m / (1 - p)$, $m \\sim$ Bernoulli(1 - p) (Srivastava et al.
    2014); identity when not training.  `generator=` is deepgrad's addition (explicit RNG)."""
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return x
    if inplace:
        from ..ops.inplace import inplace as _inplace

        return _inplace(x, "dropout", dropout, p, training, False, generator)
    if p == 1.0:
        return E.mul(x, 0.0)
    return E.mul(x, _wrap(_dropout_mask(generator, x.shape, p, x._data.dtype)))


@host_call  # deepgrad.compile replays the draw, so the generator advances as in eager
def _dropout_mask(generator, shape: tuple[int, ...], p: float, dtype) -> np.ndarray:
    """keep / (1 - p) with keep ~ Bernoulli(1 - p): dropout's scaled mask."""
    keep = _gen(generator).random(shape) >= p
    return keep * np.asarray(1.0 / (1.0 - p), dtype=dtype)


def alpha_dropout(
    x: Tensor, p: float = 0.5, training: bool = False, generator: np.random.Generator | None = None
) -> Tensor:
    """Dropout for SELU nets: dropped units go to SELU's saturation value and an affine map
    $a(\\cdot) + b$ restores mean 0 and variance 1 (Klambauer et al. 2017)."""
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return E.mul(x, 0.0)
    scale, shift = _alpha_masks(generator, x.shape, p, x._data.dtype)
    return E.add(E.mul(x, _wrap(scale)), _wrap(shift))


@host_call  # deepgrad.compile replays the draw, so the generator advances as in eager
def _alpha_masks(generator, shape: tuple[int, ...], p: float, dtype) -> tuple:
    """keep * a and b, with keep ~ Bernoulli(1 - p): alpha dropout's affine masks."""
    keep = (_gen(generator).random(shape) >= p).astype(dtype)
    a = 1.0 / np.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
    b = (keep - 1.0) * _ALPHA_PRIME * a + _ALPHA_PRIME * a * p
    return keep * a, b.astype(dtype)


def embedding(
    indices, weight: Tensor, padding_idx: int | None = None, *, sparse: bool = False
) -> Tensor:
    """$y = W[i]$: row lookup; the `padding_idx` row receives no gradient (Bengio et al. 2003).

    `sparse=True` gives `weight` a sparse gradient: `weight.grad` stays dense and the rows
    it holds are recorded for `optim.SparseAdam` (see `nn/sparse_grad.py`)."""
    if weight.ndim != 2:
        raise ValueError(
            f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got {weight.shape}"
        )
    idx = _embedding_indices(indices, weight.shape[0])
    out = getitem(weight, idx)
    if padding_idx is not None and weight.requires_grad:
        keep = (idx != padding_idx)[..., None]
        out = E.where(keep, out, out.detach())
    return sparse_lookup(out, weight, idx, padding_idx) if sparse else out


@host_call(pure=True)  # deepgrad.compile checks the indices again at each replay
def _embedding_indices(indices, n: int) -> np.ndarray:
    """The indices as an integer array, each in [0, n)."""
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range [0, {n}) for {n} embeddings")
    return idx


def _stats(x: Tensor, axes: tuple[int, ...]) -> tuple[Tensor, Tensor]:
    """Mean and biased variance over `axes` (kept), as one composite."""
    mu = mean(x, axis=axes, keepdims=True)
    d = E.sub(x, mu)
    return mu, mean(E.mul(d, d), axis=axes, keepdims=True)


def _normalize(x: Tensor, mu, var, eps: float) -> Tensor:
    return E.mul(E.sub(x, mu), E.pow(E.add(var, eps), -0.5))


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _check_channels(op: str, x: Tensor, min_ndim: int, *per_channel) -> None:
    """Input (N, C, *) with at least `min_ndim` dims; each per-channel tensor of shape (C,)."""
    check_float(op, "input", x)
    if x.ndim < min_ndim:
        spatial = ", *" if min_ndim == 2 else ", L, *"
        raise ValueError(
            f"{op}: expected input (N, C{spatial}) with >= {min_ndim} dims, got {x.shape}"
        )
    names = ("running_mean", "running_var", "weight", "bias")[-len(per_channel) :]
    for arg, t in zip(names, per_channel):
        if t is not None:
            check_shape(op, arg, t, (x.shape[1],))


def _affine(y: Tensor, weight, bias, shape) -> Tensor:
    if weight is not None:
        y = E.mul(y, reshape(weight, shape))
    if bias is not None:
        y = E.add(y, reshape(bias, shape))
    return y


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """$y = \\gamma (x - \\mu_B) / \\sqrt{\\sigma_B^2 + \\epsilon} + \\beta$ over every axis but
    the channel axis 1 (Ioffe & Szegedy 2015).  Training updates the running stats in place:
    $r \\leftarrow (1 - m) r + m s$, with the unbiased batch variance, as PyTorch."""
    _check_channels("batch_norm", x, 2, running_mean, running_var, weight, bias)
    # the fast per-channel primitives the BatchNorm layers use (ops/batch_norm.py)
    return _channel_batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)


@host_call  # in place on the buffers: deepgrad.compile replays it each step
def _update_running(rmean: Tensor, rvar: Tensor, mu, var, n: int, momentum: float) -> None:
    m = momentum
    # written in place, so numpy() views and from_numpy() buffers see the update
    rmean._data[...] = (1 - m) * rmean._data + m * mu.reshape(-1)
    unbiased = var.reshape(-1) * (n / max(n - 1, 1))
    rvar._data[...] = (1 - m) * rvar._data + m * unbiased


def instance_norm(
    x: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample's channel over its spatial axes (Ulyanov et al. 2016); running
    stats, when given and used, are the batch average of the per-instance statistics."""
    _check_channels("instance_norm", x, 3, running_mean, running_var, weight, bias)
    if use_input_stats and int(np.prod(x.shape[2:])) <= 1:
        raise ValueError(
            f"instance_norm: expected more than 1 spatial element when using input statistics, "
            f"got input of shape {x.shape}"
        )
    axes = tuple(range(2, x.ndim))
    shape = _channel_shape(x)
    if use_input_stats or running_mean is None:
        mu, var = _stats(x, axes)
        if use_input_stats and running_mean is not None:
            n = int(np.prod(x.shape[2:]))
            _update_running(
                running_mean, running_var, mu._data.mean(0), var._data.mean(0), n, momentum
            )
    else:
        mu = reshape(running_mean.detach(), shape)
        var = reshape(running_var.detach(), shape)
    return _affine(_normalize(x, mu, var, eps), weight, bias, shape)


def layer_norm(
    x: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """$y = \\gamma (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon} + \\beta$ over the trailing
    `normalized_shape` axes of each sample (Ba et al. 2016)."""
    check_float("layer_norm", "input", x)
    norm_shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
    norm_shape = tuple(check_int("layer_norm", "normalized_shape", s, 1) for s in norm_shape)
    k = len(norm_shape)
    if x.ndim < k or x.shape[x.ndim - k :] != norm_shape:
        raise ValueError(
            f"layer_norm: normalized_shape {norm_shape} does not match the trailing dims of "
            f"input {x.shape} (expected (*, {', '.join(map(str, norm_shape))}))"
        )
    for arg, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            check_shape("layer_norm", arg, t, norm_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    mu, var = _stats(x, axes)
    y = _normalize(x, mu, var, eps)
    if weight is not None:
        y = E.mul(y, weight)
    if bias is not None:
        y = E.add(y, bias)
    return y


def group_norm(
    x: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each sample over groups of C / G channels and all spatial axes (Wu & He
    2018); G = 1 is layer norm over (C, *), G = C is instance norm."""
    _check_channels("group_norm", x, 2, None, None, weight, bias)
    check_int("group_norm", "num_groups", num_groups, 1)
    n, c = x.shape[0], x.shape[1]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} channels do not split into {num_groups} groups")
    g = reshape(x, (n, num_groups, -1))
    mu, var = _stats(g, (2,))
    y = reshape(_normalize(g, mu, var, eps), x.shape)
    return _affine(y, weight, bias, _channel_shape(x))


from . import conv_functional as _conv_functional

__all__ += _conv_functional.__all__  # its layers are part of this namespace too
from . import activation_extra_functional as _activation_extra_functional
from .conv_functional import *

__all__ += _activation_extra_functional.__all__
from . import loss_extra_functional as _loss_extra_functional
from .activation_extra_functional import *

__all__ += _loss_extra_functional.__all__
from .loss_extra_functional import *
from .pooling_extra import adaptive_max_pool3d, fold, lp_pool1d, lp_pool2d, one_hot, unfold

__all__ += ["adaptive_max_pool3d", "fold", "lp_pool1d", "lp_pool2d", "one_hot", "unfold"]
from .spatial_functional import affine_grid, grid_sample

__all__ += ["affine_grid", "grid_sample"]
from .ctc import ctc_loss

__all__ += ["ctc_loss"]
# Attention and recurrent cells (issue 14) build on the functions above.
__all__ += [
    "additive_attention", "gru_cell", "lstm_cell", "rnn_relu_cell", "rnn_tanh_cell",
    "scaled_dot_product_attention",
]  # fmt: skip
from .attention_functional import additive_attention, scaled_dot_product_attention
from .rnn_functional import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
