"""A checkpoint's nested state (optimizer, scheduler, loop, callbacks) as JSON plus arrays.

Arrays and NumPy scalars go into a flat dict of arrays (saved as safetensors) under keys
that say where they came from; everything else must be None, bools, numbers, strings, or
lists/tuples/dicts of them, so loading a checkpoint never runs code.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.core.tensor import Tensor
from deepgrad.serialization import encode_tree


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, is corrupted, or does not fit the model."""


def _encode(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    """JSON-safe form of `obj`; arrays (NumPy scalars, tensors' arrays) go to `arrays`
    under keys that say where they came from (`serialization.encode_tree`)."""

    def tensor_or_refuse(t: Any, p: str) -> Any:
        if isinstance(t, Tensor):
            return _encode(t._data, arrays, p)
        raise CheckpointError(
            f"save_checkpoint: cannot store {type(t).__name__} at {p!r}: state must be "
            "arrays, numbers, strings, None, and lists/tuples/dicts of them"
        )

    return encode_tree(obj, arrays, path, lambda n, p: f"{n}:{p}", lambda p, k: f"{p}/{k}",
                       tensor_or_refuse)  # fmt: skip


def _decode(obj: Any, arrays: dict[str, np.ndarray], part: str) -> Any:
    """Inverse of `_encode`."""
    if isinstance(obj, list):
        return [_decode(v, arrays, part) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag in ("__array__", "__scalar__"):
            if value not in arrays:
                raise CheckpointError(
                    f"{part}: array {value!r} is missing from its safetensors file"
                )
            arr = arrays[value].copy()
            return arr if tag == "__array__" else arr[()]
        if tag == "__tuple__":
            return tuple(_decode(v, arrays, part) for v in value)
        if tag == "__dict__":
            return {_decode(k, arrays, part): _decode(v, arrays, part) for k, v in value}
    return {k: _decode(v, arrays, part) for k, v in obj.items()}


def _model_arrays(model: Any) -> dict[str, np.ndarray]:
    """The model's state dict as contiguous ndarrays."""
    return {
        k: np.asarray(v._data if isinstance(v, Tensor) else v, order="C")
        for k, v in model.state_dict().items()
    }
