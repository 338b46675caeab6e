"""`deepgrad export RUN_DIR model.onnx` writes a model ONNX Runtime runs like deepgrad."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="the export command needs the onnx extra")
pytest.importorskip("onnx", reason="the export command needs the onnx extra")


def test_export_a_trained_run_and_run_it(run_cli, tmp_path):
    out = tmp_path / "spiral"
    proc = run_cli("train", "spiral", "--quick", "--out", str(out), "--epochs", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    model_path = tmp_path / "spiral.onnx"
    proc = run_cli("export", str(out), str(model_path))
    assert proc.returncode == 0, proc.stderr
    assert model_path.is_file() and str(model_path) in proc.stdout
    x = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]], dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = run_cli(
        "predict", str(out), str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy")
    )
    assert proc.returncode == 0, proc.stderr
    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    np.testing.assert_allclose(got, np.load(tmp_path / "y.npy"), rtol=1e-5, atol=1e-6)


def test_export_of_a_missing_run_is_one_line_error(run_cli, tmp_path):
    proc = run_cli("export", str(tmp_path / "nothing"), str(tmp_path / "m.onnx"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("deepgrad: error:") and len(proc.stderr.splitlines()) == 1
    assert not (tmp_path / "m.onnx").exists()
