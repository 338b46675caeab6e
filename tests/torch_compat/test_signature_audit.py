"""The audit of deepgrad's module-level functions against torch's: for every function name
both have, each keyword torch accepts (`out=`, `dtype=`, `keepdim=`, ...) is accepted by
deepgrad, except the differences listed below, each with its reason.  torch's signatures
are read from its generated stub `torch/_C/_VariableFunctions.pyi` (every overload), or
from `inspect.signature` for the functions torch writes in Python."""

from __future__ import annotations

import ast
import functools
import inspect
from pathlib import Path

import pytest

import deepgrad as dg

torch = pytest.importorskip("torch", reason="the signature audit compares with torch's")

# torch's name for a positional argument that deepgrad names differently (x, a, b, A, ...):
# pass these positionally, as nearly every program does.
POSITIONAL_NAMES = {"input", "other", "tensor", "input2", "vec2", "exponent", "dims", "axis0"}
# arguments about memory layout and named tensors, which a NumPy array does not have
NOT_APPLICABLE = {"layout", "pin_memory", "memory_format", "names", "self", "size"}
INTENDED = {
    # CUDA's low-precision accumulation type; deepgrad multiplies in the inputs' dtype
    # deepgrad.compile takes the whole step as `fn`; torch's backend/mode/options/dynamic
    # (and its newer recompile knobs) choose among its code generators: none here
    "compile": {"model", "backend", "mode", "options", "dynamic", "name", "shapes_spec",
                "isolate_recompiles", "recompile_limit"},
    "addmm": {"out_dtype"}, "baddbmm": {"out_dtype"}, "bmm": {"out_dtype"}, "mm": {"out_dtype"},
    "einsum": {"args"},  # torch's *args also take the sublist format; deepgrad takes strings
    "enable_grad": {"orig_func"},  # torch's decorator plumbing
    # deepgrad saves without pickle (safetensors + JSON): no pickle module or protocol
    "save": {"pickle_module", "pickle_protocol", "_use_new_zipfile_serialization",
             "_disable_byteorder_record"},
    "set_default_dtype": {"d"},  # named dtype in deepgrad
    "set_rng_state": {"new_state"},  # named state in deepgrad
    "unique": {"args", "kwargs"},  # torch forwards *args/**kwargs; deepgrad names each
    "vmap": {"chunk_size"},  # deepgrad's vmap batches all at once
}  # fmt: skip


def _torch_keywords() -> dict[str, set[str]]:
    stub = Path(torch.__file__).parent / "_C" / "_VariableFunctions.pyi"
    if not stub.exists():
        pytest.skip("this torch build ships no _VariableFunctions.pyi stub")
    return _parse(stub)


@functools.cache
def _parse(stub: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in ast.parse(stub.read_text()).body:
        if isinstance(node, ast.FunctionDef):
            a = node.args
            found.setdefault(node.name, set()).update(
                x.arg for x in a.posonlyargs + a.args + a.kwonlyargs
            )
    return found


def _common_names() -> list[str]:
    names = []
    for n in dir(torch):
        if n.startswith("_") or not hasattr(dg, n):
            continue
        t, d = getattr(torch, n), getattr(dg, n)
        if callable(t) and callable(d) and not isinstance(d, type) and not isinstance(t, type):
            names.append(n)
    return sorted(names)


def _missing(name: str, stub: dict[str, set[str]]) -> set[str] | None:
    theirs = stub.get(name)
    if theirs is None:
        try:
            theirs = set(inspect.signature(getattr(torch, name)).parameters)
        except (TypeError, ValueError):
            return None
    try:
        ours = inspect.signature(getattr(dg, name)).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in ours.values()):
        return set()
    return theirs - set(ours) - NOT_APPLICABLE - POSITIONAL_NAMES


def test_every_keyword_torch_accepts_is_accepted_or_listed_as_intended():
    stub = _torch_keywords()
    names = _common_names()
    assert len(names) > 150, f"only {len(names)} common functions: is deepgrad fully imported?"
    unexpected = {}
    for name in names:
        missing = _missing(name, stub)
        if missing is None:
            continue
        missing -= INTENDED.get(name, set())
        if missing:
            unexpected[name] = sorted(missing)
    assert not unexpected, f"keywords torch accepts and deepgrad does not: {unexpected}"


def test_every_listed_difference_is_still_a_difference():
    stub = _torch_keywords()
    for name, keywords in INTENDED.items():
        assert hasattr(dg, name) and hasattr(torch, name), name
        missing = _missing(name, stub)
        assert missing is not None and keywords <= missing, f"{name}: {keywords} now matches"


def test_out_is_accepted_wherever_torch_has_it():
    stub = _torch_keywords()
    with_out = [n for n in _common_names() if "out" in stub.get(n, set())]
    assert len(with_out) > 100, with_out
    lacking = [n for n in with_out if "out" not in inspect.signature(getattr(dg, n)).parameters]
    assert not lacking, f"torch has out= and deepgrad does not: {lacking}"
