"""`deepgrad export RUN_DIR model.onnx` writes a model ONNX Runtime runs like deepgrad.

The commands run in-process through `deepgrad.cli.main` (the subprocess behaviour of
the CLI is covered by test_commands.py), which keeps this file fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from deepgrad.cli import main

ort = pytest.importorskip("onnxruntime", reason="the export command needs the onnx extra")
pytest.importorskip("onnx", reason="the export command needs the onnx extra")


def test_export_a_trained_run_and_run_it(tmp_path, capsys):
    out = tmp_path / "spiral"
    assert main(["train", "spiral", "--quick", "--out", str(out), "--epochs", "2", "-q"]) == 0
    model_path = tmp_path / "spiral.onnx"
    assert main(["export", str(out), str(model_path)]) == 0
    assert str(model_path) in capsys.readouterr().out
    x = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]], dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    assert (
        main(["predict", str(out), str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")])
        == 0
    )
    from deepgrad.recipes._runner import load_run

    # predict takes raw points and applies the recipe's scaling; the ONNX model is the
    # network alone, so it gets the scaled points
    prepared = load_run(out)[2].inputs.prepare(x.astype(np.float64))
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": prepared})[0]
    np.testing.assert_allclose(got, np.load(tmp_path / "y.npy"), rtol=1e-5, atol=1e-6)


def test_export_of_a_missing_run_is_one_line_error(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deepgrad: error:") and len(err.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()
