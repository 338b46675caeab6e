"""`detect_anomaly` names the user's frame even when the user's folder is called `deepgrad`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import deepgrad

SCRIPT = """
import numpy as np
import deepgrad as dg

x = dg.tensor([1.0, -1.0], requires_grad=True)
try:
    with dg.detect_anomaly(), np.errstate(invalid="ignore"):
        dg.sqrt(x)
except FloatingPointError as e:
    print(e)
"""


def test_creation_site_in_a_folder_named_deepgrad(tmp_path: Path) -> None:
    # `git clone .../deepgrad` puts user scripts under a folder called deepgrad
    user = tmp_path / "deepgrad" / "examples"
    user.mkdir(parents=True)
    script = user / "user_script.py"
    script.write_text(SCRIPT)
    src = str(Path(deepgrad.__file__).parent.parent)
    out = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "created at" in out.stdout
    assert f"{script}:8 in <module>" in out.stdout, out.stdout
