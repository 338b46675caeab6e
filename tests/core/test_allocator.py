"""The malloc tuning is opt-in: `import deepgrad` leaves malloc alone; the CLI turns it on."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from deepgrad.core.allocator import tune_allocator

CALL = "from deepgrad.core.allocator import tune_allocator; print(tune_allocator())"
IMPORT = "import deepgrad.core.allocator as a, deepgrad; print(a._applied)"


def _run(code, env_value=None):
    env = dict(os.environ)
    env.pop("DEEPGRAD_MALLOC_TUNING", None)
    if env_value is not None:
        env["DEEPGRAD_MALLOC_TUNING"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_deepgrad_does_not_tune_malloc():
    assert _run(IMPORT) == "[]"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is a glibc function")
def test_applied_on_request_on_linux_and_can_be_turned_off():
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt needs glibc")
    assert _run(CALL) == "True"
    assert _run(CALL, "0") == "False"


def test_idempotent():
    assert tune_allocator() == tune_allocator()
