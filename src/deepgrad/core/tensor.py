"""`Tensor`: an ndarray plus what reverse and forward mode need to know about it.

A non-leaf tensor is its own graph node: it keeps the primitive that made it,
its inputs and the static params.  There is no separate node object and no
reference cycle, so a graph is freed by reference counting as soon as the
last tensor of it goes away.

Operators (`+`, `@`, `sum`, ...) and `backward` are attached by `deepgrad.ops` when it
registers itself; the core never imports ops by name.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .state import STATE

_FLOAT_KINDS = "fc"


def _as_array(data: Any, dtype=None) -> np.ndarray:
    """Convert user data to an ndarray, with deepgrad's default float dtype for Python floats."""
    if isinstance(data, Tensor):
        arr = data._data
        return arr if dtype is None else arr.astype(dtype)
    if isinstance(data, np.ndarray):
        if data.dtype.kind == "O":
            raise TypeError("tensor: object arrays are not supported (got dtype object)")
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    arr = np.asarray(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind == "f":
        return arr.astype(STATE.default_float, copy=False)
    if arr.dtype.kind == "O":
        raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} holding objects")
    return arr


class Tensor:
    """An n-dimensional array that records the operations applied to it.

    >>> import deepgrad as dg
    >>> x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad.tolist()
    [2.0, 4.0, 6.0]
    """

    __slots__ = (
        "__weakref__",
        "_data",  # the ndarray; internal code reads this slot, never the `data` property
        "_inputs",
        "_params",
        "_prim",
        "_saved_versions",  # input versions when recorded, once any in-place op ran
        "_site",  # set only inside detect_anomaly(): where the op was created
        "_tangents",
        "_version",  # bumped by every in-place op (PyTorch's version counter); may be unset
        "grad",
        "requires_grad",
    )
    __array_priority__ = 1000  # so ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False) -> None:
        self._data = _as_array(data, dtype)
        self.grad = None
        self._prim = None
        self._inputs = None
        self._params = None
        self._tangents = None
        self._version = 0
        self._saved_versions = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # -- basic properties -------------------------------------------------
    @property
    def data(self) -> Tensor:
        """This tensor's values as a Tensor sharing its memory, cut from the graph (PyTorch's
        `.data`): `w.data.normal_()`, `p.data.mul_(0.9)`, `p.data -= lr * p.grad` change `w`
        and `p` in place, and `x.data.numpy()` is `x`'s array.

        As in PyTorch this is the unsafe door around autograd: an in-place op through
        `.data` bumps the version counter of the returned tensor only, not this one's, so a
        graph that saved this tensor does not notice the change (use `detach()`, whose
        in-place ops PyTorch does track, or `with no_grad():` on the tensor itself).
        Assigning `x.data = t` rebinds `x`'s memory to `t`'s (shape and dtype may change);
        an ndarray is accepted too.
        """
        return _wrap(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            self._data = value._data
        elif isinstance(value, np.ndarray):
            self._data = value
        else:
            raise TypeError(
                f"Tensor.data: assigned a {type(value).__name__}; expected a Tensor (or ndarray)"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by a recorded op."""
        return self._prim is None

    @property
    def T(self) -> Tensor:
        return self.permute(*reversed(range(self.ndim)))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def dim(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (NumPy's `ndarray.size`)."""
        return self._data.size

    nelement = numel

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as needing gradients (floating dtypes only)."""
        if requires_grad and self._data.dtype.kind not in _FLOAT_KINDS:
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, "
                f"got dtype {self._data.dtype} (a derivative with respect to an integer "
                f"or bool value is not defined)"
            )
        if not requires_grad and self._prim is not None:
            raise RuntimeError(
                "requires_grad_(False): this tensor is the output of a recorded op; "
                "use .detach() to cut it from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    # -- conversion ---------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def item(self) -> Any:
        if self._data.size != 1:
            raise ValueError(
                f"item: tensor of shape {self.shape} has {self._data.size} elements, not 1"
            )
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self._data)

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self._data)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (no grad, no tangents)."""
        return _wrap(self._data)

    def __repr__(self) -> str:
        """PyTorch's layout: `tensor([1., 2.], requires_grad=True)`, dtype shown unless default."""
        body = np.array2string(
            self._data, separator=", ", prefix="tensor(", precision=4, floatmode="maxprec_equal"
        )
        extra = ""
        dt = self._data.dtype
        if not (dt == STATE.default_float or dt == np.int64 or dt == np.bool_):
            extra += f", dtype={dt}"
        if self._prim is not None:
            extra += f", grad_fn=<{node_name(self._prim.name)}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"


def node_name(prim_name: str) -> str:
    """PyTorch's spelling of a graph node's name: 'max_pool' -> 'MaxPoolBackward0'."""
    return prim_name.strip("<>").title().replace("_", "") + "Backward0"


def _wrap(arr) -> Tensor:
    """Build a tensor from a fresh forward result without the checks of `__init__`."""
    if type(arr) is not np.ndarray:
        batched = getattr(arr, "_deepgrad_wrap", None)  # a batched tensor's data, in vmap
        if batched is not None:
            return batched()
        arr = np.asarray(arr)
    t = object.__new__(Tensor)
    t._data = arr
    t.requires_grad = False
    t.grad = None
    t._prim = None
    t._inputs = None
    t._params = None
    t._tangents = None
    # _version and _saved_versions stay unset here (read with getattr defaults 0 / None):
    # two fewer stores on the hottest constructor
    return t


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Coerce `x` to a Tensor.  A Python scalar takes `like`'s dtype (NumPy 2's weak
    scalar rule: `float32 tensor * 2.0` stays float32); a float scalar next to an
    integer tensor takes the default float dtype, as in PyTorch."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool)) and not isinstance(x, np.generic):
        kind = like._data.dtype.kind
        if kind in "fc":
            return _wrap(np.asarray(x, dtype=like._data.dtype))
        if isinstance(x, float):
            return _wrap(np.asarray(x, dtype=STATE.default_float))
        if isinstance(x, bool) and kind == "b":
            return _wrap(np.asarray(x))
        if kind in "iu" and not isinstance(x, bool):
            return _wrap(np.asarray(x, dtype=like._data.dtype))
    return Tensor(x)


def register_method(name: str, fn) -> None:
    """Attach an op as a Tensor method (used by `deepgrad.ops` at import)."""
    setattr(Tensor, name, fn)
