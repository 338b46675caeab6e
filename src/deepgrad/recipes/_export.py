"""`deepgrad export RUN_DIR model.onnx`: a trained run's model as an ONNX file."""

from __future__ import annotations

from pathlib import Path

from ._common import RecipeError
from ._runner import load_run


def export_run(run_dir: str | Path, path: str | Path, opset_version: int = 17) -> Path:
    """Load the run's last checkpoint and export its model (traced on one training input)."""
    from .. import onnx as dg_onnx

    try:
        import onnx  # noqa: F401  (only to give the install hint before any work)
    except ImportError as e:
        raise RecipeError("export needs the onnx extra: pip install 'deepgrad[onnx]'") from e
    _, _, setup = load_run(run_dir)
    example = setup.train[0][:1]
    return dg_onnx.export(setup.model, example, path, opset_version=opset_version)
