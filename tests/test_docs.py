"""The documentation runs: every Python block in README.md and docs/ executes, and the site builds.

Blocks of one page run in order in one namespace (a page is a worked example),
in a temporary working directory.  The site is built with `mkdocs build
--strict`, so a broken link, a missing figure or a docstring the API reference
cannot render fails the suite.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_pages_have_examples():
    with_code = [p.name for p in PAGES if _blocks(p)]
    assert len(with_code) >= 10, with_code


@pytest.mark.parametrize("page", [p for p in PAGES if _blocks(p)], ids=lambda p: p.stem)
def test_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs.{page.stem}"}
    for i, block in enumerate(_blocks(page)):
        code = compile(block, f"{page.relative_to(REPO)} (block {i + 1})", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
    assert namespace, "the page's blocks ran"


def test_figures_referenced_exist():
    for page in PAGES:
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", page.read_text()):
            assert (page.parent / target).resolve().is_file(), f"{page.name}: {target} is missing"


def test_site_builds_strict(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]')")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=300,
                          check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (tmp_path / "site" / "course" / "autodiff" / "index.html").is_file()
