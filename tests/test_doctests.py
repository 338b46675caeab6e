"""The `>>>` examples in deepgrad's docstrings run as tests (STYLE.md: examples that run)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import deepgrad

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(deepgrad.__path__, prefix="deepgrad.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {name}"


def test_examples_exist():
    finder = doctest.DocTestFinder()
    attempted = sum(
        len(t.examples) for name in MODULES for t in finder.find(importlib.import_module(name))
    )
    assert attempted >= 20, f"only {attempted} docstring examples found"
