"""The size budgets of ARCHITECTURE.md, counted as code lines (blank lines, comments and
docstrings not counted): every function in `core/` within 50 lines, `core/` within
about 1,000."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "deepgrad" / "core"
_LAYOUT = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}


def code_lines(src: str) -> tuple[set[int], ast.Module]:
    """The line numbers holding code (not docstrings, comments or blanks), and the tree."""
    tree = ast.parse(src)
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0] if node.body else None
            value = getattr(first, "value", None) if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type not in _LAYOUT and tok.type != tokenize.ENDMARKER:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines - docs, tree


def test_code_lines_skip_docstrings_comments_and_blanks():
    src = 'def f(x):\n    """Doc\n    more."""\n    # why\n\n    return (x +\n            1)\n'
    lines, _ = code_lines(src)
    assert lines == {1, 6, 7}


def test_every_core_function_is_within_50_lines():
    long = []
    for path in sorted(CORE.glob("*.py")):
        lines, tree = code_lines(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = len([ln for ln in lines if fn.lineno <= ln <= fn.end_lineno])
                if n > 50:
                    long.append(f"{path.name}:{fn.name} ({n} lines)")
    assert not long, f"functions over the 50-line budget: {long}"


def test_core_is_about_1000_lines():
    """Headroom of 10% over the budget, so a small hook does not fail a merge."""
    total = sum(len(code_lines(p.read_text())[0]) for p in CORE.glob("*.py"))
    assert total <= 1100, f"core/ has {total} code lines"
