"""Imports flow one way: core <- ops <- nn <- optim <- data <- train <- models, recipes <- cli.

Parsed with `ast`, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "deepgrad"
ORDER = ["core", "ops", "autograd", "nn", "distributions", "func", "optim", "jit", "data", "utils", "train",
         "rl", "io", "onnx", "distributed", "models", "recipes", "cli"]  # fmt: skip
# Modules at the package root and where they sit in the stack.
ROOT_LEVEL = {
    "fileio": "core",
    "testing": "ops",
    "__init__": "cli",
    "__main__": "cli",
    "cli": "cli",
    "plots": "train",
    "plots_vision": "train",
    "plots_images": "train",
    "linalg": "ops",
    "serialization": "core",
}


def _layer(path: Path) -> str:
    rel = path.relative_to(PKG)
    if len(rel.parts) == 1:
        return ROOT_LEVEL.get(rel.stem, "cli")
    return rel.parts[0]


def _imported_layers(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg_parts = list(path.relative_to(PKG).parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg_parts[: len(pkg_parts) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
                names = [target] if node.module else [target + [a.name] for a in node.names]
            elif node.module and node.module.startswith("deepgrad"):
                names = [node.module.split(".")[1:]]
            else:
                continue
            for t in names:
                if t:
                    found.add((t[0], node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("deepgrad."):
                    found.add((a.name.split(".")[1], node.lineno))
    return found


def _rank(name: str) -> int:
    if name in ORDER:
        return ORDER.index(name)
    return ORDER.index(ROOT_LEVEL.get(name, "cli"))


FILES = sorted(p for p in PKG.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_point_down_the_stack(path):
    here = _layer(path)
    bad = [
        f"line {line}: imports deepgrad.{target}"
        for target, line in _imported_layers(path)
        if _rank(target) > ORDER.index(here if here in ORDER else ROOT_LEVEL.get(here, "cli"))
    ]
    assert not bad, f"{path.relative_to(PKG)} (layer {here}) imports upward: {bad}"
