"""Every command in README.md's shell blocks runs, through the `deepgrad` console script, in a
temporary folder, in the README's order (later commands use the runs earlier ones made).

Each command has a plan here: the arguments actually run (the README's, with `--quick` or
fewer epochs where the README's command takes minutes) and what it needs (MNIST files,
ONNX, mpiexec).  A README command without a plan fails `test_every_readme_command_has_a_plan`:
add one when you add a command.  Commands over a few seconds are marked `slow`.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


def readme_commands() -> list[str]:
    """The commands of README.md's ```sh blocks, comments dropped, in order."""
    out = []
    for block in SH_BLOCK.findall((REPO / "README.md").read_text()):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if command and command not in out:
                out.append(command)
    return out


@dataclass(frozen=True)
class Plan:
    run: str | None = None  # what runs instead of the README's text (same command, quicker)
    slow: bool = False
    needs: str = ""  # "mnist", "onnx", "mpi"
    expect: str = ""  # a regex its output must match
    skip: str = ""  # why it does not run here


MNIST_RUN = "deepgrad train mnist-mlp --epochs 2 --lr 0.05 --data {mnist} --out runs/mlp --quick"
PLANS = {
    "make demo": Plan("deepgrad train spiral --out runs/spiral", slow=True,
                      expect=r"the doctor's verdict: good fit"),
    "make test": Plan(skip="runs this test suite itself"),
    "source .venv/bin/activate": Plan(skip="a shell built-in; these tests call the venv's script"),
    "deepgrad list": Plan(expect=r"(?m)^spiral +MLP on the 3-class spiral"),
    "deepgrad eval runs/spiral": Plan(expect=r"^val \(\d+ examples\): loss [0-9.]+, accuracy"),
    "deepgrad train spiral": Plan("deepgrad train spiral --quick", slow=True,
                                  expect=r"summary: runs/spiral/summary.md"),
    "deepgrad train mnist-mlp --epochs 5 --lr 0.05 --data ~/mnist --out runs/mlp": Plan(
        MNIST_RUN, slow=True, needs="mnist", expect=r"summary: runs/mlp/summary.md"),
    "deepgrad train spiral --config my.toml --set hidden=64 --quick": Plan(
        slow=True, expect=r"summary: runs/spiral/summary.md"),
    "deepgrad train --resume runs/mlp": Plan(
        slow=True, needs="mnist", expect=r"already trained all its"),
    "deepgrad train spiral --save-every 30": Plan(
        "deepgrad train spiral --save-every 30 --quick", slow=True, expect=r"summary:"),
    "deepgrad eval runs/mlp": Plan(
        slow=True, needs="mnist", expect=r"^test \(\d+ examples\): loss"),
    "deepgrad --version": Plan(expect=r"^deepgrad \d+\.\d+"),
    "python -c \"import numpy as np; np.save('points.npy', [[0.5, 0.2], [-0.3, 0.8]])\"": Plan(
        expect=r"^$"),
    "deepgrad predict runs/spiral points.npy": Plan(expect=r"^[012]\n[012]\n$"),
    "deepgrad doctor spiral": Plan("deepgrad doctor spiral --quick --epochs 8", slow=True,
                                   expect=r"(?m)^verdict: "),
    "deepgrad search spiral --grid lr=0.1,0.01 hidden=32,64 --kfold 3": Plan(
        "deepgrad search spiral --grid lr=0.1,0.01 hidden=32,64 --kfold 3 --quick --epochs 3",
        slow=True, expect=r"(?m)^best: \{'lr'"),
    "deepgrad search spiral --random 8 --space lr=log:1e-4:1e-1 hidden=16,32,64 --out runs/random":
        Plan("deepgrad search spiral --random 3 --space lr=log:1e-4:1e-1 hidden=16,32,64 --out "
             "runs/random --quick --epochs 3", slow=True, expect=r"(?m)^best: \{'lr'"),
    "deepgrad lr-find spiral": Plan("deepgrad lr-find spiral --quick", slow=True,
                                    expect=r"(?m)^plot: runs/lr-find-spiral/lr_find.png"),
    "deepgrad gradcheck": Plan("deepgrad gradcheck --quick --only Linear", slow=True,
                               expect=r"(?m)^\d+/\d+ passed"),
    "deepgrad export runs/spiral spiral.onnx": Plan(
        slow=True, needs="onnx", expect=r"^wrote spiral.onnx"),
    "mpiexec -n 4 deepgrad train spiral --distributed": Plan(
        "mpiexec -n 2 deepgrad train spiral --distributed --quick --out runs/spiral-mpi",
        slow=True, needs="mpi", expect=r"summary: runs/spiral-mpi/summary.md"),
}  # fmt: skip


def _script(name: str) -> str:
    """The console script beside this Python (the venv's), else on PATH."""
    here = Path(sys.executable).parent / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"no {name} beside {sys.executable} or on PATH (pip install -e .)")
    return found


def _mnist_root() -> Path | None:
    for root in (
        REPO.parent / "shared" / "data",
        Path(os.environ.get("DEEPGRAD_DATA", "/nonexistent")),
    ):
        if (root / "mnist" / "train-images-idx3-ubyte.gz").is_file():
            return root
    return None


def _argv(text: str) -> list[str]:
    argv = shlex.split(text.replace("{mnist}", str(_mnist_root())))
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return [_script(a) if a in ("deepgrad", "mpiexec") else a for a in argv]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A user's folder after `make demo` (quick): runs/spiral, my.toml and points.npy."""
    work = tmp_path_factory.mktemp("readme")
    (work / "my.toml").write_text("[config]\nlr = 0.01\nepochs = 20\n")
    points = next(c for c in readme_commands() if "points.npy" in c and c.startswith("python"))
    assert _run(points, work).returncode == 0  # so `predict` also runs on its own (-k)
    proc = _run("deepgrad train spiral --out runs/spiral --quick", work)
    assert proc.returncode == 0, proc.stderr
    return work


def _run(text: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("DEEPGRAD_DEBUG", None)
    return subprocess.run(_argv(text), cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=env, check=False)  # fmt: skip


def test_every_readme_command_has_a_plan():
    commands = readme_commands()
    assert len(commands) >= 15, commands
    missing = [c for c in commands if c not in PLANS]
    assert not missing, f"README commands without a plan in {__file__}: {missing}"


def _params():
    out = []
    for command in readme_commands():
        plan = PLANS.get(command, Plan(skip="no plan (see test_every_readme_command_has_a_plan)"))
        marks = [pytest.mark.slow] if plan.slow else []
        out.append(pytest.param(command, plan, marks=marks, id=command[:60]))
    return out


@pytest.mark.parametrize(("command", "plan"), _params())
def test_readme_command_runs(command, plan, workdir):
    if plan.skip:
        pytest.skip(plan.skip)
    if plan.needs == "mnist" and _mnist_root() is None:
        pytest.skip("needs the MNIST files (../shared/data/mnist or $DEEPGRAD_DATA/mnist)")
    if plan.needs == "mnist" and not (workdir / "runs" / "mlp").is_dir():
        proc = _run(MNIST_RUN, workdir)  # the README trains it first
        assert proc.returncode == 0, proc.stderr
    if plan.needs == "onnx":
        pytest.importorskip("onnx", reason="the export command needs the onnx extra")
    if plan.needs == "mpi":
        pytest.importorskip("mpi4py", reason="--distributed needs the mpi extra")
        _script("mpiexec")
    proc = _run(plan.run or command, workdir)
    assert proc.returncode == 0, f"{plan.run or command}: {proc.stderr[-2000:]}"
    assert re.search(plan.expect, proc.stdout), proc.stdout[-2000:]
