"""Contract v2: `core/` and the op families in `ops/` import each other in one declared order.

Each module may import (at module level) only modules that come before it; an import inside
a function, the old way of dodging a cycle, is refused except where listed with a reason.
Parsed with `ast`: nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "deepgrad"
CORE_ORDER = ["state", "allocator", "random", "tensor", "primitive", "autodiff", "func"]  # fmt: skip
# Function-level imports still allowed, and why (none left: Tensor.backward moved to the
# TensorMethods mixin, the operator table to a visible mixin).
ALLOWED_LAZY: dict[tuple[str, str], str] = {}
# Module-level imports that point forward, and why.
ALLOWED_FORWARD = {
    ("ops", "pool", "pool_api"): "pool re-exports pool_api's public functions at its end",
}


def _ops_order() -> list[str]:
    tree = ast.parse((PKG / "ops" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FAMILIES":
            return [elt.value for elt in node.value.elts]
    raise AssertionError("ops/__init__.py declares no FAMILIES order")


ORDERS = {"core": CORE_ORDER, "ops": _ops_order()}


def _sibling_imports(tree: ast.Module, package: str) -> list[tuple[str, int]]:
    """(module, line) for each `from .x import` / `from . import x` at module level."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.append((node.module.split(".")[0], node.lineno))
            else:
                out.extend((a.name, node.lineno) for a in node.names)
    return out


def _lazy_imports(tree: ast.Module) -> list[int]:
    lines = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    lines.append(node.lineno)
    return lines


MODULES = [(pkg, name) for pkg, order in ORDERS.items() for name in order]


def test_every_module_is_in_the_declared_order():
    for pkg, order in ORDERS.items():
        files = {p.stem for p in (PKG / pkg).glob("*.py")} - {"__init__"}
        assert files == set(order), f"{pkg}: modules not in the order: {files ^ set(order)}"


@pytest.mark.parametrize("pkg, name", MODULES, ids=lambda v: str(v))
def test_imports_follow_the_declared_order(pkg, name):
    order = ORDERS[pkg]
    tree = ast.parse((PKG / pkg / f"{name}.py").read_text())
    bad = [
        f"line {line}: imports .{target}"
        for target, line in _sibling_imports(tree, pkg)
        if target in order
        and order.index(target) >= order.index(name)
        and (pkg, name, target) not in ALLOWED_FORWARD
    ]
    assert not bad, f"{pkg}/{name}.py imports a module declared after it: {bad}"


@pytest.mark.parametrize("pkg, name", [*MODULES, ("core", "__init__"), ("ops", "__init__")])
def test_no_import_hides_inside_a_function(pkg, name):
    tree = ast.parse((PKG / pkg / f"{name}.py").read_text())
    lazy = _lazy_imports(tree)
    if (pkg, name) in ALLOWED_LAZY:
        assert len(lazy) <= 1, f"{pkg}/{name}.py: more lazy imports than the one allowed"
        return
    assert not lazy, f"{pkg}/{name}.py imports inside a function at lines {lazy}"
