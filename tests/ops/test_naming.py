"""Contract v2's naming: a family's primitive object is `<name>_p`, right above its public
function `<name>` (other primitives it also uses may sit in between, helpers may not).

Every family follows it (conv, pool and the recurrent families included).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from deepgrad.core.primitive import Primitive
from deepgrad.ops import FAMILIES

OPS = Path(__file__).resolve().parents[2] / "src" / "deepgrad" / "ops"
CHECKED = list(FAMILIES)


def _top_level_names(name: str) -> list[str]:
    """Names bound by each top-level def or assignment, in file order."""
    out = []
    for node in ast.parse((OPS / f"{name}.py").read_text()).body:
        if isinstance(node, ast.FunctionDef):
            out.append(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            out.append(node.targets[0].id)
    return out


@pytest.mark.parametrize("family", CHECKED)
def test_primitives_are_named_p_and_sit_above_their_function(family):
    module = importlib.import_module(f"deepgrad.ops.{family}")
    prims = {k for k, v in vars(module).items() if isinstance(v, Primitive)}
    own = {k for k in prims if getattr(module, k).forward.__module__ == module.__name__}
    own |= {k for k in prims if k.endswith("_p") and k in _top_level_names(family)}
    bad = sorted(k for k in own if k in _top_level_names(family) and not k.endswith("_p"))
    assert not bad, f"ops/{family}.py: primitives not named <name>_p: {bad}"
    names = _top_level_names(family)
    for i, name in enumerate(names):
        public = name[:-2]
        if name not in own or public not in names:
            continue
        after = [n for n in names[i + 1 :] if n not in own and not n.startswith("_")]
        assert after and after[0] == public, (
            f"ops/{family}.py: {public} should be the first public definition after {name}, "
            f"found {after[:1]}"
        )


def test_the_naming_test_sees_the_primitives():
    module = importlib.import_module("deepgrad.ops.arithmetic")
    assert isinstance(module.add_p, Primitive) and module.add_p.name == "add"
    assert (
        _top_level_names("arithmetic").index("add")
        == _top_level_names("arithmetic").index("add_p") + 1
    )
