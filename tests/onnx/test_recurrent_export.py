"""ONNX export of recurrent layers (native ONNX LSTM/GRU/RNN operators) and of models
containing them, with dynamic batch and sequence axes; module lowerings in general.

Every exported file passes `onnx.checker.check_model(full_check=True)`, and ONNX
Runtime's outputs match deepgrad's within rtol 1e-5 / atol 1e-6 in float32 at two
batch sizes and two sequence lengths.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.onnx.trace import flatten

onnx = pytest.importorskip("onnx", reason="ONNX export tests need the optional onnx extra")
ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need onnxruntime")

SIZES = [(2, 5), (3, 8)]  # (batch, sequence): the traced sizes, then others


def _session(path):
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _check(sess, model, feeds: dict, call_args: tuple) -> None:
    got = sess.run(None, feeds)
    with dg.no_grad():
        want = flatten(model(*call_args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w.data, rtol=1e-5, atol=1e-6)


def _dims(value_info) -> list:
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


@pytest.mark.parametrize("with_states", [False, True], ids=["zero_states", "given_states"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=lambda c: c.__name__)
def test_recurrent_layer_matches_onnxruntime(cls, bidirectional, with_states, tmp_path):
    batch_first = bidirectional  # both layouts, across the cases
    dg.manual_seed(0)
    layer = cls(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    n_states = (2 if cls is nn.LSTM else 1) if with_states else 0
    rng = np.random.default_rng(0)

    def inputs(n, t):
        x = rng.standard_normal((n, t, 3) if batch_first else (t, n, 3)).astype(np.float32)
        states = [rng.standard_normal((2 * (1 + bidirectional), n, 4)).astype(np.float32)
                  for _ in range(n_states)]  # fmt: skip
        return x, states

    def call(x, states):  # the layer's own argument structure: hx = (h_0, c_0) for an LSTM
        if not states:
            return (x,)
        return (x, tuple(states) if cls is nn.LSTM else states[0])

    names = ["input", "input_1", "input_2"][: 1 + n_states]
    axes = {"input": {0: "batch", 1: "sequence"} if batch_first else {1: "batch", 0: "sequence"}}
    axes.update({name: {1: "batch"} for name in names[1:]})
    x, states = inputs(*SIZES[0])
    path = dg.onnx.export(layer, call(x, states), tmp_path / "rnn.onnx", dynamic_axes=axes)
    proto = onnx.load(str(path))
    assert {n.op_type for n in proto.graph.node} >= {cls.__name__}
    assert _dims(proto.graph.output[0]) == (
        ["batch", "sequence", 8 if bidirectional else 4] if batch_first
        else ["sequence", "batch", 8 if bidirectional else 4]
    )  # fmt: skip
    sess = _session(path)
    for n in (2, 3):
        for t in (5, 8):
            x, states = inputs(n, t)
            feeds = dict(zip(names, [x, *states]))
            _check(sess, layer, feeds, tuple(dg.tensor(a) if not isinstance(a, tuple)
                                             else tuple(map(dg.tensor, a))
                                             for a in call(x, states)))  # fmt: skip


def test_rnn_relu_without_bias_and_unbatched_input(tmp_path):
    dg.manual_seed(1)
    rng = np.random.default_rng(1)
    for layer in (nn.RNN(3, 4, nonlinearity="relu", bias=False), nn.GRU(3, 4, bias=False)):
        x = rng.standard_normal((5, 3)).astype(np.float32)
        path = dg.onnx.export(
            layer, x, tmp_path / "m.onnx", dynamic_axes={"input": {0: "sequence"}}
        )
        sess = _session(path)
        for t in (5, 2):
            x = rng.standard_normal((t, 3)).astype(np.float32)
            _check(sess, layer, {"input": x}, (dg.tensor(x),))


class SequenceClassifier(nn.Module):
    """Embedding -> recurrent layer -> last state (or last step's output) -> linear."""

    def __init__(self, cls, last_step: bool) -> None:
        super().__init__()
        self.embed = nn.Embedding(11, 6)
        self.rnn = cls(6, 5, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(10 if last_step else 5, 3)
        self.last_step = last_step

    def forward(self, ids):
        out, state = self.rnn(self.embed(ids))
        h_n = state[0] if isinstance(state, tuple) else state
        return self.head(out[:, -1] if self.last_step else h_n[-1])


@pytest.mark.parametrize(("cls", "last_step", "opset"), [(nn.LSTM, False, 13), (nn.GRU, True, 21)])
def test_sequence_classifier_with_embedding(cls, last_step, opset, tmp_path):
    dg.manual_seed(0)
    model = SequenceClassifier(cls, last_step)
    rng = np.random.default_rng(2)
    path = dg.onnx.export(model, rng.integers(0, 11, SIZES[0]), tmp_path / "cls.onnx",
                          opset_version=opset,
                          dynamic_axes={"input": {0: "batch", 1: "sequence"}})  # fmt: skip
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == opset
    assert _dims(proto.graph.input[0]) == ["batch", "sequence"]
    assert _dims(proto.graph.output[0]) == ["batch", 3]
    assert "embed.weight" in {t.name for t in proto.graph.initializer}
    sess = _session(path)
    for n, t in [(2, 5), (3, 8), (1, 1)]:
        ids = rng.integers(0, 11, (n, t))
        _check(sess, model, {"input": ids}, (dg.tensor(ids),))


def test_unsupported_recurrent_uses_are_named(tmp_path):
    x = np.ones((4, 2, 2), np.float32)
    with pytest.raises(dg.onnx.UnsupportedPrimitiveError, match=r"LSTM .* proj_size=1"):
        dg.onnx.export(nn.LSTM(2, 3, proj_size=1), x, tmp_path / "m.onnx")

    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(2, 3)

        def forward(self, x):
            return self.gru(x, mask=np.ones(x.shape[:2], bool))[0]

    with pytest.raises(
        dg.onnx.UnsupportedPrimitiveError,
        match=r"GRU \(gru\) is called with a NumPy mask=; pass the mask as a Tensor",
    ):
        dg.onnx.export(Masked(), x, tmp_path / "m.onnx", dynamic_axes={})
    with pytest.raises(ValueError, match=r"GRU param 'call'\['mask'\] is an array computed from"):
        dg.onnx.export(Masked(), x, tmp_path / "m.onnx", dynamic_axes={"input": {1: "batch"}})
    assert not (tmp_path / "m.onnx").exists()


class _Scale(nn.Module):
    """A layer whose forward loops in Python over the rows (not traceable with a dynamic batch)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(np.array([2.0, -1.0], np.float32))

    def forward(self, x):
        return dg.stack([x[i] * self.w for i in range(x.shape[0])], 0)


class _ScaleChild(_Scale):
    def forward(self, x):
        return x * 3.0


def test_module_lowering_records_a_layer_as_one_node(tmp_path):
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    with pytest.raises(ValueError, match=r"ran different ops when the batch size changed"):
        dg.onnx.export(_Scale(), x, tmp_path / "m.onnx")

    def lower(ctx, node, x_name):
        return ctx.op("Mul", [x_name, ctx.weight("w", node.module.w.data)])

    dg.onnx.register_module_lowering(_Scale, lower)
    try:
        with pytest.raises(ValueError, match=r"already registered"):
            dg.onnx.register_module_lowering(_Scale, lower)
        model = nn.Sequential(_Scale(), _ScaleChild())  # the child overrides forward: traced
        path = dg.onnx.export(model, x, tmp_path / "m.onnx")
        assert [n.op_type for n in onnx.load(str(path)).graph.node][:1] == ["Mul"]
        assert "forward" not in model[0].__dict__  # the trace's shadowing is undone
        x5 = np.arange(10, dtype=np.float32).reshape(5, 2)
        _check(_session(path), model, {"input": x5}, (dg.tensor(x5),))
    finally:
        del dg.onnx.MODULE_LOWERINGS[_Scale]


def test_several_outputs_and_names(tmp_path):
    dg.manual_seed(0)
    layer = nn.LSTM(2, 3)
    path = dg.onnx.export(layer, dg.ones(4, 2, 2), tmp_path / "m.onnx",  # a Tensor input
                          input_names=["x"], output_names=["y", "h", "c"],
                          dynamic_axes={"x": {0: "time", 1: "batch"}})  # fmt: skip
    g = onnx.load(str(path)).graph
    assert [o.name for o in g.output] == ["y", "h", "c"]
    assert [_dims(o) for o in g.output] == [["time", "batch", 3], [1, "batch", 3],
                                            [1, "batch", 3]]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dynamic_axes": {"h0": {0: "batch"}}}, r"dynamic_axes names inputs \['h0'\]"),
        ({"dynamic_axes": {"input": {3: "batch"}}}, r"axis 3 is out of range for its shape"),
        ({"input_names": ["a", "a"]}, r"input_names must be 2 distinct names"),
        ({"dynamic_axes": {"input": {1: "batch"}, "input_1": {2: "batch"}}},
         r"dynamic axis 'batch' has size 2 in one input and 3 in 'input_1'"),
    ],
)  # fmt: skip
def test_bad_names_and_axes(kwargs, match, tmp_path):
    args = (np.ones((4, 2, 2), np.float32), np.ones((1, 2, 3), np.float32))
    with pytest.raises(ValueError, match=match):
        dg.onnx.export(nn.GRU(2, 3), args, tmp_path / "m.onnx", **kwargs)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU, nn.RNN], ids=lambda c: c.__name__)
def test_float64_recurrent_layer_matches_the_onnx_reference_runtime(cls, tmp_path):
    """In float64 (which ONNX Runtime's recurrent kernels lack) onnx's reference evaluator
    agrees to rounding: the gate orders and weight layouts are the operators' own."""
    from onnx.reference import ReferenceEvaluator

    dg.manual_seed(0)
    layer = cls(3, 4, num_layers=2, bidirectional=True).to(dtype=np.float64)
    rng = np.random.default_rng(3)
    path = dg.onnx.export(layer, rng.standard_normal((5, 2, 3)), tmp_path / "m.onnx",
                          dynamic_axes={"input": {0: "sequence", 1: "batch"}})  # fmt: skip
    x = rng.standard_normal((7, 3, 3))
    got = ReferenceEvaluator(str(path)).run(None, {"input": x})
    with dg.no_grad():
        want = flatten(layer(dg.tensor(x)))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w.data, rtol=1e-12, atol=1e-12)


def _recipe_models():
    from deepgrad.recipes import adding_problem, char_lm, sine_forecast

    rng = np.random.default_rng(0)
    floats = lambda n, t, *f: rng.standard_normal((n, t, *f)).astype(np.float32)
    return {
        "char_lm.CharLSTM": (lambda: char_lm.CharLSTM(7, 8, rng),
                             lambda n, t: rng.integers(0, 7, (n, t))),
        "adding_problem.Regressor-LSTM": (lambda: adding_problem.Regressor("LSTM", 6, rng),
                                          lambda n, t: floats(n, t, 2)),
        "adding_problem.Regressor-RNN": (lambda: adding_problem.Regressor("RNN", 6, rng),
                                         lambda n, t: floats(n, t, 2)),
        "sine_forecast.LSTMForecaster": (
            lambda: sine_forecast.LSTMForecaster({"hidden": 6}, rng), lambda n, t: floats(n, t)
        ),
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(_recipe_models()))
def test_recurrent_models_of_the_recipes_export(name, tmp_path):
    """The experiment recipes' recurrent models (no training recipe builds one, so `deepgrad
    export RUN_DIR` never meets them) export with dynamic batch and sequence axes."""
    make, inputs = _recipe_models()[name]
    dg.manual_seed(0)
    model = make()
    path = dg.onnx.export(model, inputs(*SIZES[0]), tmp_path / "m.onnx",
                          dynamic_axes={"input": {0: "batch", 1: "sequence"}})  # fmt: skip
    sess = _session(path)
    for n, t in SIZES:
        x = inputs(n, t)
        _check(sess, model, {"input": x}, (dg.tensor(x),))


class _Unrolled(nn.Module):
    """A cell stepped over a fixed number of steps (a decoder-style loop)."""

    def __init__(self, cell) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x, state):
        outs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outs.append(state[0] if isinstance(state, tuple) else state)
        return dg.stack(outs, 1), state


@pytest.mark.parametrize(
    "cell",
    [lambda: nn.LSTMCell(3, 4), lambda: nn.GRUCell(3, 4), lambda: nn.GRUCell(3, 4, bias=False),
     lambda: nn.RNNCell(3, 4, nonlinearity="relu")],
    ids=["LSTMCell", "GRUCell", "GRUCell-nobias", "RNNCell-relu"],
)  # fmt: skip
def test_cells_export_as_one_step_of_the_sequence_operator(cell, tmp_path):
    dg.manual_seed(0)
    model = _Unrolled(cell())
    lstm = isinstance(model.cell, nn.LSTMCell)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 3)).astype(np.float32)
    h = [rng.standard_normal((2, 4)).astype(np.float32) for _ in range(1 + lstm)]
    state = tuple(h) if lstm else h[0]
    axes = {name: {0: "batch"} for name in ["input", "input_1", "input_2"][: 2 + lstm]}
    path = dg.onnx.export(model, (x, state), tmp_path / "m.onnx", dynamic_axes=axes)
    assert _dims(onnx.load(str(path)).graph.output[0]) == ["batch", 3, 4]
    sess = _session(path)
    for n in (2, 5):
        x = rng.standard_normal((n, 3, 3)).astype(np.float32)
        h = [rng.standard_normal((n, 4)).astype(np.float32) for _ in range(1 + lstm)]
        state = tuple(map(dg.tensor, h)) if lstm else dg.tensor(h[0])
        _check(sess, model, dict(zip(axes, [x, *h])), (dg.tensor(x), state))
    one = dg.onnx.export(model.cell, np.ones(3, np.float32), tmp_path / "one.onnx",
                         dynamic_axes={})  # unbatched: (in,) -> (H,)  # fmt: skip
    x1 = rng.standard_normal(3).astype(np.float32)
    _check(_session(one), model.cell, {"input": x1}, (dg.tensor(x1),))


class _NumpyTokens(nn.Module):
    """Looks tokens up from a NumPy copy of the input (as the zoo's Seq2Seq does)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(5, 2)

    def forward(self, ids):
        return self.embed(np.asarray(ids.data))


def test_embedding_of_a_numpy_array_is_refused(tmp_path):
    ids = np.zeros((2, 3), np.int64)
    msg = r"Embedding \(embed\) argument 'indices' must be a Tensor"
    with pytest.raises(dg.onnx.UnsupportedPrimitiveError, match=msg):
        dg.onnx.export(_NumpyTokens(), ids, tmp_path / "m.onnx", dynamic_axes={})
    with pytest.raises(
        ValueError, match=r"Embedding param 'call'\['indices'\] is an array computed"
    ):
        dg.onnx.export(_NumpyTokens(), ids, tmp_path / "m.onnx")


class _MaskedRNN(nn.Module):
    def __init__(self, cls, batch_first: bool) -> None:
        super().__init__()
        self.rnn = cls(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)

    def forward(self, x, mask):
        return self.rnn(x, mask=mask)


@pytest.mark.parametrize(("cls", "batch_first"), [(nn.LSTM, True), (nn.GRU, False)])
def test_prefix_mask_input_exports_as_sequence_lengths(cls, batch_first, tmp_path):
    """A right-padded batch with its (Tensor) mask: ONNX's sequence_lens, per sequence the
    number of True steps; outputs past the end are zeros and h_n is each sequence's own."""
    dg.manual_seed(0)
    model = _MaskedRNN(cls, batch_first)
    rng = np.random.default_rng(5)

    def inputs(n, t):
        lengths = rng.integers(1, t + 1, n)
        mask = np.arange(t)[None, :] < lengths[:, None]  # (N, T) prefix mask
        x = rng.standard_normal((n, t, 3)).astype(np.float32)
        if not batch_first:
            x, mask = np.ascontiguousarray(x.transpose(1, 0, 2)), np.ascontiguousarray(mask.T)
        return x, mask

    axes = {0: "batch", 1: "sequence"} if batch_first else {0: "sequence", 1: "batch"}
    path = dg.onnx.export(model, inputs(*SIZES[0]), tmp_path / "m.onnx",
                          dynamic_axes={"input": axes, "input_1": axes})  # fmt: skip
    g = onnx.load(str(path)).graph
    assert g.input[1].type.tensor_type.elem_type == onnx.TensorProto.BOOL
    sess = _session(path)
    for n, t in SIZES:
        x, mask = inputs(n, t)
        _check(sess, model, {"input": x, "input_1": mask}, (dg.tensor(x), dg.tensor(mask)))
