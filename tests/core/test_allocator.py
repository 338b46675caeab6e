"""The malloc tuning applied at import: on by default on Linux/glibc, off on request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deepgrad.core.allocator import tune_allocator

CODE = "from deepgrad.core.allocator import tune_allocator; print(tune_allocator())"


def _run(env_value):
    env = dict(os.environ)
    env.pop("DEEPGRAD_MALLOC_TUNING", None)
    if env_value is not None:
        env["DEEPGRAD_MALLOC_TUNING"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", CODE], check=False, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is a glibc function")
def test_applied_on_linux_and_can_be_turned_off():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt needs glibc")
    assert _run(None) == "True"
    assert _run("0") == "False"


def test_idempotent():
    assert tune_allocator() == tune_allocator()
