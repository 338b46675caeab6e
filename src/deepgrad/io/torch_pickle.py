"""A restricted reader for PyTorch's `.pt`/`.pth` zip checkpoints that never runs pickled code.

`torch.save` writes a zip holding `data.pkl` (a pickle of the state dict whose
tensors point, through persistent ids, at raw storages in `data/<key>`).  A
pickle is a program: `pickle.load` imports whatever globals it names and calls
them.  This module never calls `pickle.load`.  It walks the opcodes with
`pickletools.genops` and interprets the few a state dict needs on a small
stack machine, where a GLOBAL is only a *name*: it must be one of the allowed
tensor-rebuild functions, storage types or `collections.OrderedDict`, and
anything else (`os.system`, `builtins.eval`, ...) is refused by name before a
single object is built.  Nothing is ever imported or called.
"""

from __future__ import annotations

import pickletools
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}  # fmt: skip
REBUILDERS = {"_rebuild_tensor_v2", "_rebuild_tensor", "_rebuild_parameter"}
ALLOWED_GLOBALS = (
    {("collections", "OrderedDict")}
    | {("torch._utils", f) for f in REBUILDERS}
    | {("torch", s) for s in STORAGE_DTYPES}
)


class UnsafePickleError(ValueError):
    """The checkpoint's pickle names a global or opcode a state dict never needs."""


class _Global:
    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class _Storage:
    """A typed storage: the raw bytes of `data/<key>` in the zip, read on demand."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


_MARK = object()


def _bf16_to_f32(raw: bytes) -> np.ndarray:
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32)


class _Machine:
    """A stack machine for the pickle opcodes a state dict uses (see the module docstring)."""

    def __init__(self, read_storage, where: str) -> None:
        self.read_storage = read_storage
        self.where = where
        self.stack: list[Any] = []
        self.memo: dict[int, Any] = {}

    def refuse(self, what: str) -> UnsafePickleError:
        return UnsafePickleError(
            f"load_torch_state_dict: {self.where} {what}; only tensors and plain containers are "
            "accepted, so nothing was loaded and nothing was run"
        )

    def pop_mark(self) -> list[Any]:
        # by identity: `list.index` would compare ndarrays with ==
        marks = [j for j, v in enumerate(self.stack) if v is _MARK]
        if not marks:
            raise self.refuse("pops a MARK that was never pushed")
        i = marks[-1]
        items = self.stack[i + 1 :]
        del self.stack[i:]
        return items

    def global_(self, module: str, name: str) -> _Global:
        if (module, name) not in ALLOWED_GLOBALS:
            raise self.refuse(f"names the global {module}.{name}")
        return _Global(module, name)

    def persistent(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise self.refuse(f"holds the persistent id {pid!r}")
        _, kind, key, _location, numel = pid
        if not isinstance(kind, _Global) or kind.name not in STORAGE_DTYPES:
            raise self.refuse("holds a storage of an unknown type")
        return _Storage(self.read_storage(str(key), STORAGE_DTYPES[kind.name], int(numel)))

    def reduce(self, fn: Any, args: Any) -> Any:
        if not isinstance(fn, _Global) or not isinstance(args, tuple):
            raise self.refuse("calls something that is not an allowed global")
        if fn.name == "OrderedDict":
            if args:
                raise self.refuse("builds an OrderedDict from arguments")
            return OrderedDict()
        if fn.name == "_rebuild_parameter":
            return args[0]
        if fn.name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return self.tensor(*args[:4])
        raise self.refuse(f"calls {fn.module}.{fn.name}")

    def tensor(self, storage: Any, offset: Any, size: Any, stride: Any) -> np.ndarray:
        ok = (
            isinstance(storage, _Storage)
            and isinstance(offset, int)
            and isinstance(size, tuple)
            and isinstance(stride, tuple)
            and len(size) == len(stride)
            and all(isinstance(v, int) and v >= 0 for v in (offset, *size, *stride))
        )
        if not ok:
            raise self.refuse("rebuilds a tensor from malformed arguments")
        arr = storage.array
        if 0 in size:
            return np.zeros(size, dtype=arr.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= arr.size:
            raise self.refuse(f"reads element {last} of a storage of {arr.size}")
        view = np.lib.stride_tricks.as_strided(
            arr[offset:], shape=size, strides=[s * arr.itemsize for s in stride], writeable=False
        )
        return np.array(view)

    def run(self, data: bytes) -> Any:
        for op, arg, _ in pickletools.genops(data):
            handler = _HANDLERS.get(op.name)
            if handler is None:
                raise self.refuse(f"uses the pickle opcode {op.name}")
            if handler(self, arg) is _STOP:
                return self.stack.pop()
        raise self.refuse("has no STOP opcode")


_STOP = object()


def _push(m: _Machine, arg: Any) -> None:
    m.stack.append(arg)


def _const(value: Any):
    return lambda m, arg: m.stack.append(value)


def _setitems(m: _Machine, arg: Any) -> None:
    items = m.pop_mark()
    d = m.stack[-1]
    if not isinstance(d, dict) or len(items) % 2:
        raise m.refuse("sets items on something that is not a dict")
    for k, v in zip(items[::2], items[1::2]):
        d[k] = v


def _setitem(m: _Machine, arg: Any) -> None:
    v, k = m.stack.pop(), m.stack.pop()
    if not isinstance(m.stack[-1], dict):
        raise m.refuse("sets an item on something that is not a dict")
    m.stack[-1][k] = v


def _appends(m: _Machine, arg: Any) -> None:
    items = m.pop_mark()
    if not isinstance(m.stack[-1], list):
        raise m.refuse("appends to something that is not a list")
    m.stack[-1].extend(items)


def _append(m: _Machine, arg: Any) -> None:
    v = m.stack.pop()
    if not isinstance(m.stack[-1], list):
        raise m.refuse("appends to something that is not a list")
    m.stack[-1].append(v)


def _build(m: _Machine, arg: Any) -> None:
    state = m.stack.pop()
    # an OrderedDict state dict carries its `_metadata` (versions) as instance state: dropped
    if not isinstance(m.stack[-1], dict) or not isinstance(state, dict):
        raise m.refuse("sets the state of an object (BUILD)")


def _global(m: _Machine, arg: str) -> None:
    module, name = arg.split(" ", 1)
    m.stack.append(m.global_(module, name))


def _stack_global(m: _Machine, arg: Any) -> None:
    name, module = m.stack.pop(), m.stack.pop()
    if not (isinstance(module, str) and isinstance(name, str)):
        raise m.refuse("builds a global name from non-strings")
    m.stack.append(m.global_(module, name))


def _reduce(m: _Machine, arg: Any) -> None:
    args, fn = m.stack.pop(), m.stack.pop()
    m.stack.append(m.reduce(fn, args))


def _tuple_n(n: int):
    def op(m: _Machine, arg: Any) -> None:
        items = m.stack[len(m.stack) - n :]
        del m.stack[len(m.stack) - n :]
        m.stack.append(tuple(items))

    return op


def _put(m: _Machine, arg: Any) -> None:
    m.memo[len(m.memo) if arg is None else int(arg)] = m.stack[-1]


def _get(m: _Machine, arg: Any) -> None:
    if int(arg) not in m.memo:
        raise m.refuse(f"reads the unset memo slot {arg}")
    m.stack.append(m.memo[int(arg)])


_HANDLERS = {
    "PROTO": lambda m, a: None, "FRAME": lambda m, a: None, "STOP": lambda m, a: _STOP,
    "NONE": _const(None), "NEWTRUE": _const(True), "NEWFALSE": _const(False),
    "EMPTY_TUPLE": _const(()), "TUPLE1": _tuple_n(1), "TUPLE2": _tuple_n(2),
    "TUPLE3": _tuple_n(3), "TUPLE": lambda m, a: m.stack.append(tuple(m.pop_mark())),
    "EMPTY_LIST": lambda m, a: m.stack.append([]), "LIST": lambda m, a: m.stack.append(m.pop_mark()),
    "APPEND": _append, "APPENDS": _appends,
    "EMPTY_DICT": lambda m, a: m.stack.append({}), "SETITEM": _setitem, "SETITEMS": _setitems,
    "MARK": lambda m, a: m.stack.append(_MARK), "POP": lambda m, a: m.stack.pop(),
    "POP_MARK": lambda m, a: m.pop_mark(), "DUP": lambda m, a: m.stack.append(m.stack[-1]),
    "PUT": _put, "BINPUT": _put, "LONG_BINPUT": _put, "MEMOIZE": _put,
    "GET": _get, "BINGET": _get, "LONG_BINGET": _get,
    "GLOBAL": _global, "STACK_GLOBAL": _stack_global, "REDUCE": _reduce, "BUILD": _build,
    "BINPERSID": lambda m, a: m.stack.append(m.persistent(m.stack.pop())),
}  # fmt: skip
for _name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
              "BINFLOAT", "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE",
              "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):  # fmt: skip
    _HANDLERS[_name] = _push


def read_torch_zip(path: str | Path) -> Any:
    """The object a `torch.save` zip holds, with tensors as ndarrays, built without unpickling.

    Refuses (UnsafePickleError) any global other than PyTorch's tensor-rebuild functions,
    its storage types and `collections.OrderedDict`, naming it; reads the file only.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"load_torch_state_dict: {path} is not a zip checkpoint (the legacy pre-1.6 "
            "torch.save format is not read; re-save it with a current PyTorch or as safetensors)"
        )
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkl) != 1:
            raise ValueError(f"load_torch_state_dict: {path} has no single data.pkl ({pkl})")
        prefix = pkl[0][: -len("data.pkl")]
        order = (
            zf.read(prefix + "byteorder").decode().strip()
            if prefix + "byteorder" in names
            else "little"
        )
        endian = "<" if order == "little" else ">"

        def read_storage(key: str, dtype: Any, numel: int) -> np.ndarray:
            entry = f"{prefix}data/{key}"
            if entry not in names:
                raise ValueError(f"load_torch_state_dict: {path} lacks the storage {entry}")
            raw = zf.read(entry)
            itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
            if len(raw) < numel * itemsize:
                raise ValueError(f"load_torch_state_dict: {entry} holds fewer than {numel} items")
            if dtype == "bfloat16":
                arr = _bf16_to_f32(raw[: 2 * numel])
            else:
                dt = np.dtype(dtype).newbyteorder(endian) if np.dtype(dtype).itemsize > 1 else dtype
                arr = np.frombuffer(raw, dtype=dt, count=numel).astype(
                    np.dtype(dtype).newbyteorder("=")
                )
            return arr

        return _Machine(read_storage, str(path)).run(zf.read(pkl[0]))
