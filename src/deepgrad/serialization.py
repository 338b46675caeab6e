"""`dg.save(obj, f)` / `dg.load(f)`: what PyTorch programs save, in one safetensors file.

The arrays (tensors, ndarrays, NumPy scalars) are the file's tensors; the
structure around them (dicts, lists, tuples, numbers, strings, None, and which
array was a Tensor with requires_grad) is JSON in the safetensors header's
`__metadata__`.  Loading parses a length-prefixed JSON header and raw bytes, so
it never runs code from the file (PyTorch's pickle-based format can; that is
why whole modules are refused: save `model.state_dict()` and rebuild the model
in code).  The file is a valid safetensors file: other tools read its arrays.

    >>> import deepgrad as dg, io
    >>> buf = io.BytesIO()
    >>> dg.save({"w": dg.tensor([1.0, 2.0]), "epoch": 3}, buf)
    >>> _ = buf.seek(0)
    >>> dg.load(buf)["epoch"]
    3
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from .core.tensor import Tensor
from .fileio import atomic_write

__all__ = ["load", "save"]

_FORMAT = "deepgrad.save/1"
_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U64": np.uint64, "U32": np.uint32, "U16": np.uint16,
    "U8": np.uint8, "BOOL": np.bool_,
}  # fmt: skip
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def _refuse(obj: Any, path: str) -> None:
    """Whole modules and optimizers: say why, and what to save instead."""
    if hasattr(obj, "named_parameters") and hasattr(obj, "state_dict"):
        raise TypeError(
            f"save: {path} is a whole Module ({type(obj).__name__}); deepgrad saves no code or "
            "pickled objects, so loading a file can never run code. Save model.state_dict() "
            "and rebuild the model in code, then model.load_state_dict(dg.load(f))"
        )
    if hasattr(obj, "param_groups") and hasattr(obj, "state_dict"):
        raise TypeError(
            f"save: {path} is an optimizer object ({type(obj).__name__}); save "
            "optimizer.state_dict() instead and restore it with optimizer.load_state_dict()"
        )
    raise TypeError(
        f"save: cannot store {type(obj).__name__} at {path}: dg.save stores tensors, NumPy "
        "arrays, numbers, strings, None and dicts/lists/tuples of them (no pickle)"
    )


def encode_tree(
    obj: Any,
    arrays: dict[str, np.ndarray],
    path: str,
    key: Callable[[int, str], str],
    child: Callable[[str, Any], str],
    other: Callable[[Any, str], Any],
) -> Any:
    """JSON-safe form of nested dicts, lists and tuples (shared by `dg.save` and the
    training checkpoints).

    Arrays and NumPy scalars go into `arrays` under `key(len(arrays), path)` and appear as
    `{"__array__": key}` / `{"__scalar__": key}`; tuples and dicts whose keys are not
    plain strings are tagged (`__tuple__`, `__dict__`) so decoding restores them;
    `child(path, k)` names entry k's path (for messages and keys); anything else goes to
    `other(obj, path)`, which returns its JSON form or raises.
    """

    def rec(v: Any, p: str) -> Any:
        return encode_tree(v, arrays, p, key, child, other)

    if isinstance(obj, (np.ndarray, np.generic)):
        k = key(len(arrays), path)
        arrays[k] = np.asarray(obj, order="C")  # keeps 0-d (ascontiguousarray makes it 1-d)
        return {"__array__" if isinstance(obj, np.ndarray) else "__scalar__": k}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: rec(v, child(path, k)) for k, v in obj.items()}
        return {"__dict__": [[rec(k, path), rec(v, child(path, k))] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [rec(v, child(path, i)) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [rec(v, child(path, i)) for i, v in enumerate(obj)]
    return other(obj, path)


def _encode(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    """JSON-safe structure of `obj`; its arrays go into `arrays` under fresh keys."""

    def tensor_or_refuse(t: Any, p: str) -> Any:
        if not isinstance(t, Tensor):
            _refuse(t, p)
        k = str(len(arrays))
        arrays[k] = t._data
        return {"__tensor__": k, "requires_grad": bool(t.requires_grad)}

    return encode_tree(obj, arrays, path, lambda n, p: str(n),
                       lambda p, k: f"{p}[{k!r}]", tensor_or_refuse)  # fmt: skip


def _decode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__tensor__" in obj:
        return Tensor(arrays[obj["__tensor__"]], requires_grad=obj["requires_grad"])
    if len(obj) == 1:
        ((tag, value),) = obj.items()
        if tag == "__array__":
            return arrays[value]
        if tag == "__scalar__":
            return arrays[value][()]
        if tag == "__tuple__":
            return tuple(_decode(v, arrays) for v in value)
        if tag == "__dict__":
            return {_freeze(_decode(k, arrays)): _decode(v, arrays) for k, v in value}
    return {k: _decode(v, arrays) for k, v in obj.items()}


def _freeze(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _serialize(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """The safetensors layout: u64 header size, JSON header (8-byte padded), raw data."""
    header: dict[str, Any] = {"__metadata__": metadata}
    chunks, offset = [], 0
    for key, arr in arrays.items():
        code = _CODES.get(arr.dtype.newbyteorder("="))
        if code is None:
            raise TypeError(f"save: arrays of dtype {arr.dtype} cannot be stored (key {key})")
        data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
        span = [offset, offset + len(data)]
        header[key] = {"dtype": code, "shape": list(arr.shape), "data_offsets": span}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _parse(blob: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    if len(blob) < 8:
        raise ValueError(f"load: {where} is not a deepgrad/safetensors file (too short)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError(f"load: {where} is not a deepgrad/safetensors file (bad header size)")
    try:
        header = json.loads(blob[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load: {where} has a corrupted header ({exc})") from exc
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(blob)[8 + n :]
    arrays = {}
    for key, info in header.items():
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
        arrays[key] = arr.astype(dtype.newbyteorder("="), copy=True)
    return arrays, meta


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Save tensors, state dicts, optimizer state dicts and nested dicts/lists/tuples of
    tensors, arrays, numbers, strings and None to `f` (a path or a binary file object).

    As `torch.save`, but with no pickle: a whole `Module` or optimizer is refused with a
    message saying to save its `state_dict()`.  A path is written atomically."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, arrays, "obj")
    blob = _serialize(arrays, {"format": _FORMAT, "structure": json.dumps(structure)})
    if isinstance(f, (str, os.PathLike)):
        atomic_write(f, blob)
    elif hasattr(f, "write"):
        f.write(blob)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")


def load(
    f: str | os.PathLike | IO[bytes], map_location: Any = None, weights_only: bool = True, **_: Any
) -> Any:
    """Load what `save` wrote: tensors come back as Tensors (with their requires_grad),
    NumPy arrays as arrays.  `map_location` may only name the CPU (deepgrad has no other
    device); `weights_only` is accepted for PyTorch compatibility (loading never runs code).
    A plain safetensors file loads as a dict of arrays."""
    if map_location is not None and "cuda" in str(map_location):
        raise ValueError(
            f"load: map_location={map_location!r}: deepgrad runs on the CPU only; "
            "pass 'cpu' or None"
        )
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            blob, where = fh.read(), os.fspath(f)
    elif hasattr(f, "read"):
        blob, where = f.read(), "the file object"
    else:
        raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")
    arrays, meta = _parse(bytes(blob), where)
    if meta.get("format") != _FORMAT:
        return arrays
    return _decode(json.loads(meta["structure"]), arrays)
