"""Every single-input layer of the nn registry exports and runs in ONNX Runtime, or is
refused with a clear error when its forward computes a mask or index in NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn.registry import LAYER_CASES

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the optional onnx extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")

# Their forward builds a mask (x > 0) or a gather index from the input's values in NumPy,
# outside the primitive registry, so a traced graph cannot recompute it.
NUMPY_MASKS = {"LeakyReLU", "PReLU", "ELU", "SELU", "Softplus", "Step", "AdaptiveMaxPool1d",
               "AdaptiveMaxPool2d"}  # fmt: skip
CASES = sorted(
    ((cls.__name__, cases[0]) for cls, cases in LAYER_CASES.items()
     if cases[0].targets is None and cases[0].inputs is None and len(cases[0].input_shapes) == 1
     and len(cases[0].input_shapes[0]) >= 1),
    key=lambda item: item[0],
)  # fmt: skip


@pytest.mark.parametrize(("name", "case"), CASES, ids=[n for n, _ in CASES])
def test_layer_exports(name, case, tmp_path):
    rng = np.random.default_rng(0)
    dg.manual_seed(0)
    model = case.ctor()
    x = case.make_inputs(rng)[0].astype(np.float32)
    if name in NUMPY_MASKS:
        with pytest.raises(ValueError, match=r"outside deepgrad's primitives"):
            dg.onnx.export(model, x, tmp_path / "m.onnx", opset_version=19)
        return
    path = dg.onnx.export(model, x, tmp_path / "m.onnx", opset_version=19)
    model.eval()
    x2 = case.make_inputs(rng)[0].astype(np.float32)
    with dg.no_grad():
        want = model(dg.tensor(x2)).data
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x2})[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
