"""ONNX export: every zoo model round-trips through onnx.checker and ONNX Runtime.

In float32, ONNX Runtime's outputs are compared with deepgrad's own forward at the
traced batch size and at another one (the batch axis is dynamic): within rtol 1e-5 /
atol 1e-6, widened only by twice deepgrad's own float32 error against float64, which
exceeds 1e-6 in the deep nets (ResNet-18/50, U-Net: random weights amplify every
op's rounding along the depth, equally for both runtimes; see docs/design.md).  The
issue's bound itself is met for every zoo model in float64, where rounding no longer
hides export errors, by onnx's reference evaluator (ONNX Runtime has no float64 Conv).
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import models, nn
from deepgrad.core.primitive import REGISTRY

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the optional onnx extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")


def _small_alexnet() -> nn.Module:
    m = models.alexnet(num_classes=10)
    # the 4096-wide head (57M weights) only slows the test; the layer types stay the same
    m.classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(256 * 6 * 6, 16), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 10),
    )  # fmt: skip
    return m


ZOO = {
    "mlp_softmax": (
        lambda: nn.Sequential(
            nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3), nn.Softmax(dim=1)
        ),
        (2, 6),
    ),
    "mlp_log_softmax": (
        lambda: nn.Sequential(nn.Linear(6, 5), nn.GELU(), nn.Linear(5, 4), nn.LogSoftmax(dim=-1)),
        (6,),
    ),
    "lenet5": (lambda: models.lenet5(), (1, 28, 28)),
    "alexnet": (_small_alexnet, (3, 63, 63)),
    "vgg11_bn": (lambda: models.vgg11_bn(num_classes=10, hidden=16, pool_size=1), (3, 32, 32)),
    "resnet18": (lambda: models.resnet18(num_classes=10), (3, 32, 32)),
    "resnet50": (lambda: models.resnet50(num_classes=10), (3, 32, 32)),
    "resnet_bottleneck": (
        lambda: models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=10),
        (3, 32, 32),
    ),
    "resnet20": (lambda: models.resnet20(), (3, 16, 16)),
    "densenet_bc": (lambda: models.densenet_bc(depth=10), (3, 16, 16)),
    "densenet121": (lambda: models.densenet121(num_classes=10, small_inputs=True), (3, 32, 32)),
    "googlenet": (lambda: models.googlenet_small(width=0.25), (3, 32, 32)),
    "xception": (lambda: models.xception_small(widths=(8, 16, 32), middle=1), (3, 32, 32)),
    "fcn8s": (
        lambda: models.fcn8s(
            num_classes=3, widths=(4, 4, 8, 8, 8), depths=(1, 1, 1, 1, 1), fc_channels=8
        ),
        (3, 32, 32),
    ),
    "unet": (lambda: models.unet(depth=2, width=4), (1, 17, 19)),
}


def _run(path, x: np.ndarray) -> np.ndarray:
    opts = ort.SessionOptions()
    # ONNX Runtime's fusions (batch norm folded into conv weights) round differently; the
    # test checks the exported graph, so it runs the graph as written
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def _reference(model, x: np.ndarray) -> np.ndarray:
    with dg.no_grad():
        return model(dg.tensor(x)).data


def _calibrate(model, x: np.ndarray) -> None:
    """Set every batch norm's running statistics to those of `x`, as a trained model has
    (untrained statistics let activations grow through deep nets until float32 rounding,
    not the export, dominates the comparison)."""
    norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    for m in norms:
        m.momentum = 1.0
    model.train()
    with dg.no_grad():
        model(dg.tensor(x))
    for m in norms:
        m.momentum = 0.1


SLOW = {"densenet121", "alexnet", "resnet50"}


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW else []) for n in sorted(ZOO)]
)
def test_zoo_model_matches_onnxruntime(name, tmp_path):
    make, shape = ZOO[name]
    dg.manual_seed(0)
    model = make()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, *shape)).astype(np.float32)
    _calibrate(model, rng.standard_normal((8, *shape)).astype(np.float32))
    path = dg.onnx.export(model, x, tmp_path / f"{name}.onnx", opset_version=17)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    model.eval()
    xs = [rng.standard_normal((n, *shape)).astype(np.float32) for n in (2, 5)]
    results = [(_run(path, xb), _reference(model, xb)) for xb in xs]
    model.to(dtype=np.float64)
    for xb, (got, want) in zip(xs, results):
        assert got.shape == want.shape
        # deepgrad's own float32 rounding (against float64) bounds how close two float32
        # evaluations of a deep net can be; for shallow nets it is far below 1e-6
        noise = np.abs(want - _reference(model, xb.astype(np.float64))).max()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 + 2 * noise)


# the default run keeps the deep ResNet-20, a bottleneck ResNet and U-Net; these take 3-10 s
SLOW_REFERENCE = SLOW | {"googlenet", "vgg11_bn", "resnet18"}
# onnx.reference's padded MaxPool loops in Python: GoogLeNet's nine run on 16x16 images here
REFERENCE_SHAPE = {"googlenet": (3, 16, 16)}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_REFERENCE else []) for n in sorted(ZOO)],
)
def test_zoo_model_in_float64_matches_the_onnx_reference_runtime(name, tmp_path):
    """The issue's bound (rtol 1e-5, atol 1e-6) for every zoo model, deep ones included: in
    float64, where rounding no longer hides the export's own errors.  ONNX Runtime has no
    float64 Conv kernel on CPU, so the graph runs in onnx's reference evaluator (NumPy).
    Measured: at most 2e-14 apart (3e-9 where GELU's erf is evaluated differently)."""
    from onnx.reference import ReferenceEvaluator

    make, shape = ZOO[name]
    shape = REFERENCE_SHAPE.get(name, shape)
    dg.manual_seed(0)
    model = make()
    rng = np.random.default_rng(1)
    _calibrate(model, rng.standard_normal((8, *shape)).astype(np.float32))
    model.to(dtype=np.float64)
    x = rng.standard_normal((2, *shape))
    path = dg.onnx.export(model, x, tmp_path / f"{name}.onnx", opset_version=17)
    g = onnx.load(str(path)).graph
    assert g.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    model.eval()
    xb = rng.standard_normal((3, *shape))  # another batch size than the traced one
    got = ReferenceEvaluator(str(path)).run(None, {"input": xb})[0]
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _reference(model, xb), rtol=1e-5, atol=1e-6)


def test_batch_axis_is_dynamic_and_weights_keep_their_names(tmp_path):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    path = dg.onnx.export(model, np.ones((3, 4), np.float32), tmp_path / "m.onnx")
    g = onnx.load(str(path)).graph
    assert g.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert g.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert [d.dim_value for d in g.input[0].type.tensor_type.shape.dim[1:]] == [4]
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    np.testing.assert_array_equal(inits["0.weight"], model[0].weight.data)
    np.testing.assert_array_equal(inits["2.bias"], model[2].bias.data)


def test_export_runs_in_eval_mode_and_restores_training(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.9), nn.BatchNorm1d(8))
    model.train()
    model[2].eval()  # a frozen norm inside a training model keeps its own mode
    path = dg.onnx.export(model, np.ones((4, 4), np.float32), tmp_path / "m.onnx")
    assert [m.training for m in model.modules()] == [True, True, True, False]
    model.eval()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), _reference(model, x), rtol=1e-5, atol=1e-6)


class _Misc(nn.Module):
    """Basic indexing, clip, where-free elementwise ops, pad, upsampling, reductions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.up_nearest = nn.Upsample(scale_factor=2)
        self.up_bilinear = nn.Upsample(size=(5, 7), mode="bilinear")

    def forward(self, x):
        h = self.conv(x)[:, 1:, ::2, :]  # slice channels and rows
        h = dg.clip(h, -0.5, 0.7) + dg.exp(h[:, :1]) * dg.sigmoid(h).abs()
        h = self.up_nearest(h) + 0.5
        h = self.up_bilinear(dg.nn.functional.pad(h, (1, 0, 0, 1)))
        return dg.sqrt(h * h + 1.0).sum(axis=(2, 3)) / h.max(axis=-1).mean(axis=-1)


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_indexing_elementwise_and_upsampling_lowerings(opset, tmp_path):
    dg.manual_seed(0)
    model = _Misc()
    rng = np.random.default_rng(0)
    path = dg.onnx.export(model, rng.standard_normal((2, 2, 4, 6)).astype(np.float32),
                          tmp_path / "m.onnx", opset_version=opset)  # fmt: skip
    assert onnx.load(str(path)).opset_import[0].version == opset
    x = rng.standard_normal((3, 2, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(_run(path, x), _reference(model, x), rtol=1e-5, atol=1e-6)


def test_float64_model_exports_in_float64(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2)).to(dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    path = dg.onnx.export(model, x, tmp_path / "m.onnx")
    np.testing.assert_allclose(_run(path, x), _reference(model, x), rtol=1e-12)


class _CumsumModel(nn.Module):
    def forward(self, x):
        return dg.cumsum(x, axis=1)


def test_primitive_without_lowering_is_named(tmp_path):
    with pytest.raises(dg.onnx.UnsupportedPrimitiveError, match=r"primitive 'cumsum' has no ONNX"):
        dg.onnx.export(_CumsumModel(), np.ones((2, 3), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


class _Escapes(nn.Module):
    def forward(self, x):
        return x * dg.tensor(x.data.mean())  # computed in NumPy, outside the registry


def test_value_computed_outside_the_registry_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"onnx.export: const_0 .* outside deepgrad's primitives"):
        dg.onnx.export(_Escapes(), np.arange(6.0).reshape(2, 3), tmp_path / "m.onnx")


@pytest.mark.parametrize(
    ("kwargs", "x", "match"),
    [
        ({"opset_version": 9}, np.ones((2, 3), np.float32), r"opset_version must be in \[13, 21\]"),
        (
            {},
            np.ones((0, 3), np.float32),
            r"example_input .input. must have its dynamic axes \[0\] of size >= 1",
        ),
    ],
)
def test_bad_arguments(kwargs, x, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        dg.onnx.export(nn.Linear(3, 2), x, tmp_path / "m.onnx", **kwargs)


def test_every_lowering_names_a_registered_primitive():
    from deepgrad.onnx.lowering import find_lowering

    unknown = [n for n in dg.onnx.LOWERINGS if n not in REGISTRY]
    assert not unknown, f"lowerings for unregistered primitives: {unknown}"
    assert find_lowering("concatenate7") is find_lowering("concatenate")


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_layer_matches_onnxruntime(norm_first, tmp_path):
    dg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                       norm_first=norm_first)  # fmt: skip
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 16)).astype(np.float32)
    path = dg.onnx.export(layer, x, tmp_path / "layer.onnx", opset_version=17)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    layer.eval()
    for batch in (2, 3):  # the batch axis is dynamic
        xb = rng.normal(size=(batch, 5, 16)).astype(np.float32)
        with dg.no_grad():
            want = layer(dg.tensor(xb)).data
        np.testing.assert_allclose(sess.run(None, {"input": xb})[0], want, rtol=1e-5, atol=1e-6)


def test_transformer_encoder_layer_with_dynamic_sequence_axis(tmp_path):
    """The heads' reshapes to (N T, d) scale with batch times sequence (`Dyn` N*T)."""
    dg.manual_seed(0)
    layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 16)).astype(np.float32)
    path = dg.onnx.export(layer, x, tmp_path / "layer.onnx",
                          dynamic_axes={"input": {0: "batch", 1: "sequence"}})  # fmt: skip
    g = onnx.load(str(path)).graph
    dims = [d.dim_param or d.dim_value for d in g.output[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence", 16]
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    layer.eval()
    for n, t in [(3, 9), (1, 1)]:
        xb = rng.normal(size=(n, t, 16)).astype(np.float32)
        with dg.no_grad():
            want = layer(dg.tensor(xb)).data
        np.testing.assert_allclose(sess.run(None, {"input": xb})[0], want, rtol=1e-5, atol=1e-6)
