"""`TorchMethods`: the Tensor methods for PyTorch's functions (sort, topk, tril, mm, ...).

Like `TensorMethods`, each method is one line calling the public function, and
`install()` copies them onto `Tensor`.  Also here: the `new_*` factories, `t`/`mT`,
`view_as`/`expand_as`, `clone`, and the in-place forms of index ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.tensor import Tensor
from . import inplace as I
from . import sorting as So
from . import torch_functions as F
from . import torch_shape as Sh
from .creation import _shape, tensor
from .devices import CPU, check_device, refuse_cuda
from .grad_fn import grad_fn_of
from .setitem import index_put, index_put_
from .shape import broadcast_to, reshape, swapaxes


class TorchMethods:
    """Methods for PyTorch's functions; `install()` copies them onto `Tensor`."""

    # -- PyTorch's basics -------------------------------------------------------------
    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape as a tuple, or the length of dimension `dim` (PyTorch's `size`).

        NumPy's element count is `numel()`.
        """
        if dim is None:
            return self._data.shape
        nd = self._data.ndim
        if not isinstance(dim, (int, np.integer)) or not -max(nd, 1) <= dim < max(nd, 1):
            raise IndexError(
                f"Tensor.size: dim {dim!r} is out of range for a tensor with {nd} dims"
            )
        return self._data.shape[dim] if nd else 1

    @property
    def device(self) -> Any:
        """Always the CPU: deepgrad runs on NumPy."""
        return CPU

    def cuda(self, device=None, non_blocking=False):
        refuse_cuda("Tensor.cuda")

    @property
    def is_cuda(self) -> bool:
        """Always False (deepgrad is CPU only)."""
        return False

    @property
    def grad_fn(self) -> Any:
        """The node that made this tensor (None for a leaf), with `next_functions`."""
        return grad_fn_of(self)

    def __format__(self, spec: str) -> str:
        """A 0-d tensor formats as its Python number (`f"{loss:.3f}"`)."""
        if self._data.ndim == 0:
            return format(self._data.item(), spec)
        return format(repr(self), spec)

    # -- sorting and selection ------------------------------------------------------
    def sort(self, dim=-1, descending=False, stable=False):
        return So.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return So.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return So.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return So.kthvalue(self, k, dim, keepdim)

    def median(self, dim=None, keepdim=False):
        return So.median(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return So.mode(self, dim, keepdim)

    def cummax(self, dim):
        return So.cummax(self, dim)

    def cummin(self, dim):
        return So.cummin(self, dim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return So.unique(self, sorted, return_inverse, return_counts, dim)

    def nonzero(self, *, as_tuple=False):
        return So.nonzero(self, as_tuple=as_tuple)

    def bincount(self, weights=None, minlength=0):
        return So.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        return So.histc(self, bins, min, max)

    # -- cumulative, comparison -------------------------------------------------------
    def cumprod(self, dim, *, dtype=None):
        return F.cumprod(self, dim, dtype=dtype)

    def logcumsumexp(self, dim):
        return F.logcumsumexp(self, dim)

    def isclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return F.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False):
        return F.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other):
        return F.equal(self, other)

    def where(self, condition, other):
        return F.where(condition, self, other)

    # -- layout ----------------------------------------------------------------------------
    def tril(self, diagonal=0):
        return Sh.tril(self, diagonal)

    def triu(self, diagonal=0):
        return Sh.triu(self, diagonal)

    def tril_(self, diagonal=0):
        return I.inplace(self, "tril_", Sh.tril, diagonal)

    def triu_(self, diagonal=0):
        return I.inplace(self, "triu_", Sh.triu, diagonal)

    def diag(self, diagonal=0):
        return Sh.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return Sh.diagonal(self, offset, dim1, dim2)

    def trace(self):
        return Sh.trace(self)

    def roll(self, shifts, dims=None):
        return Sh.roll(self, shifts, dims)

    def flip(self, *dims):
        return Sh.flip(self, dims[0] if len(dims) == 1 else dims)

    def rot90(self, k=1, dims=(0, 1)):
        return Sh.rot90(self, k, dims)

    def repeat(self, *sizes):
        return Sh.repeat(self, *sizes)

    def repeat_interleave(self, repeats, dim=None):
        return Sh.repeat_interleave(self, repeats, dim)

    def tile(self, *dims):
        return Sh.tile(self, dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims)

    def movedim(self, source, destination):
        return Sh.movedim(self, source, destination)

    def moveaxis(self, source, destination):
        return Sh.movedim(self, source, destination)

    def narrow(self, dim, start, length):
        return Sh.narrow(self, dim, start, length)

    def unbind(self, dim=0):
        return Sh.unbind(self, dim)

    def t(self):
        return Sh.t(self)

    @property
    def mT(self):
        if self.ndim < 2:
            raise RuntimeError(f"mT: needs a tensor of >= 2 dims, got shape {self.shape}")
        return swapaxes(self, -2, -1)

    def view_as(self, other):
        return reshape(self, other.shape)

    def reshape_as(self, other):
        return reshape(self, other.shape)

    def expand_as(self, other):
        return broadcast_to(self, other.shape)

    def clone(self, *, memory_format=None):
        return F.clone(self)

    def contiguous(self, memory_format=None):
        return F.contiguous(self)

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    # -- matrix products -----------------------------------------------------------------------
    def mm(self, mat2):
        return F.mm(self, mat2)

    def bmm(self, mat2):
        return F.bmm(self, mat2)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return F.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return F.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    # -- masks, index and scatter ------------------------------------------------------------
    def masked_fill(self, mask, value):
        return F.masked_fill(self, mask, value)

    def masked_select(self, mask):
        return F.masked_select(self, mask)

    def index_select(self, dim, index):
        return F.index_select(self, dim, index)

    def index_add(self, dim, index, source, *, alpha=1):
        return F.index_add(self, dim, index, source, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        return I.inplace(self, "index_add_", F.index_add, dim, index, source, alpha=alpha)

    def index_put(self, indices, values, accumulate=False):
        return index_put(self, indices, values, accumulate)

    def index_put_(self, indices, values, accumulate=False):
        return index_put_(self, indices, values, accumulate)

    def index_fill_(self, dim, index, value):
        return I.inplace(self, "index_fill_", _index_fill, dim, index, value)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return F.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
        return I.inplace(self, "scatter_", F.scatter, dim, index, src, value=value, reduce=reduce)

    def scatter_add_(self, dim, index, src):
        return I.inplace(self, "scatter_add_", F.scatter, dim, index, src, reduce="add")

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        return F.scatter_reduce(self, dim, index, src, reduce, include_self=include_self)

    def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
        return I.inplace(self, "scatter_reduce_", F.scatter_reduce, dim, index, src, reduce,
                         include_self=include_self)  # fmt: skip

    def index_reduce(self, dim, index, source, reduce, *, include_self=True):
        return F.index_reduce(self, dim, index, source, reduce, include_self=include_self)

    def index_reduce_(self, dim, index, source, reduce, *, include_self=True):
        return I.inplace(self, "index_reduce_", F.index_reduce, dim, index, source, reduce,
                         include_self=include_self)  # fmt: skip

    # -- new tensors like this one -------------------------------------------------------------
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return _new(self, np.zeros, size, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return _new(self, np.ones, size, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return _new(self, np.empty, size, dtype, device, requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        fill = lambda shape, dt: np.full(shape, fill_value, dt)
        return _new(self, fill, (size,), dtype, device, requires_grad)

    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        return tensor(data, self._data.dtype if dtype is None else dtype, requires_grad, device)


def _index_fill(x: Tensor, dim: int, index, value) -> Tensor:
    d = dim % max(x.ndim, 1)
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    return index_put(x, (slice(None),) * d + (idx.reshape(-1),), value)


def _new(self: Tensor, fill, size, dtype, device, requires_grad) -> Tensor:
    check_device(device, "new_*")
    dt = self._data.dtype if dtype is None else np.dtype(dtype)
    return Tensor(fill(_shape(size), dt), requires_grad=requires_grad)


_SKIP = {"__dict__", "__weakref__", "__module__", "__doc__", "__qualname__", "__hash__"}


def install(cls: type = Tensor) -> None:
    """Copy every method of `TorchMethods` onto `cls` (Tensor)."""
    for name, fn in vars(TorchMethods).items():
        if name in _SKIP:
            continue
        if callable(fn) and not fn.__doc__:
            fn.__doc__ = f"PyTorch's `Tensor.{name}`: one call to deepgrad's function of that name."
        setattr(cls, name, fn)
