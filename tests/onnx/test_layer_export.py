"""Every single-input layer of the nn registry exports and runs in ONNX Runtime, or is
refused with a clear error: when its forward computes a mask or index in NumPy, or when it
uses a primitive that has no ONNX lowering yet (the error names the primitive).  The layers
in MUST_EXPORT are the ones the export covers today and may never regress to a refusal."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn.registry import LAYER_CASES
from deepgrad.onnx.lowering import UnsupportedPrimitiveError
from deepgrad.onnx.trace import flatten

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the optional onnx extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")

# Their forward builds a mask (x > 0) or a gather index from the input's values in NumPy,
# outside the primitive registry, so a traced graph cannot recompute it.
NUMPY_MASKS = {"LeakyReLU", "PReLU", "ELU", "SELU", "Softplus", "Step", "AdaptiveMaxPool1d",
               "AdaptiveMaxPool2d"}  # fmt: skip
MUST_EXPORT = {
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AlphaDropout", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "CircularPad2d",
    "ConstantPad2d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "Flatten", "GELU",
    "GlobalAvgPool2d", "GroupNorm", "Hardtanh", "Identity", "InstanceNorm1d", "InstanceNorm2d",
    "InstanceNorm3d", "LSTM", "LayerNorm", "Linear", "LinearActivation", "LogSigmoid", "LogSoftmax",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "Maxout", "PixelShuffle", "PixelUnshuffle", "ReLU",
    "ReLU6", "ReflectionPad1d", "ReflectionPad2d", "ReplicationPad2d", "SiLU", "Sigmoid",
    "Softmax", "Swish", "Tanh", "Unflatten", "Upsample", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad2d",
}  # fmt: skip
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
    try:
        path = dg.onnx.export(model, x, tmp_path / "m.onnx", opset_version=19)
    except (ValueError, TypeError, UnsupportedPrimitiveError) as e:  # newer than its lowerings
        assert name not in MUST_EXPORT, f"{name} no longer exports: {e}"
        assert "ONNX" in str(e) or "onnx" in str(e) or "primitive" in str(e), str(e)
        return
    model.eval()
    x2 = case.make_inputs(rng)[0].astype(np.float32)
    with dg.no_grad():
        want = model(dg.tensor(x2))
    wants = [t.data for t in flatten(want)]  # a layer may return a tuple (WaveNetBlock)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    gots = sess.run(None, {"input": x2})
    assert len(gots) == len(wants)
    for got, w in zip(gots, wants):
        np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-6)
