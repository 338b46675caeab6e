"""dg.save / dg.load: round trips of what programs save, safety, refusals, deep copies."""

from __future__ import annotations

import copy
import io
import json
import struct

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim


def _round_trip(obj, tmp_path):
    path = tmp_path / "obj.pt"
    dg.save(obj, path)
    return dg.load(path)


def test_tensor_keeps_values_dtype_shape_and_requires_grad(tmp_path):
    for x in [
        dg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True),
        dg.tensor(np.arange(4, dtype=np.int64)),
        dg.tensor(np.array(2.5, dtype=np.float32)),
        dg.tensor(np.array([True, False])),
        dg.tensor(np.zeros((0, 3))),
    ]:
        y = _round_trip(x, tmp_path)
        assert isinstance(y, dg.Tensor)
        assert y.dtype == x.dtype and y.shape == x.shape and y.requires_grad == x.requires_grad
        np.testing.assert_array_equal(y.data, x.data)


def test_model_and_optimizer_state_dicts_restore_training(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = dg.tensor(rng.normal(size=(8, 3))), dg.tensor(rng.normal(size=(8, 2)))
    for _ in range(3):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    dg.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 3}, tmp_path / "c.pt")
    ckpt = dg.load(tmp_path / "c.pt")
    model2 = copy.deepcopy(model)
    for p in model2.parameters():
        p.data[...] = 0.0
    model2.load_state_dict(ckpt["model"])
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    opt2.load_state_dict(ckpt["opt"])
    assert ckpt["epoch"] == 3
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        nn.functional.mse_loss(m(x), y).backward()
        o.step()
    for a, b in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_nested_containers_and_scalars(tmp_path):
    obj = {
        "list": [1, 2.5, "s", None, True, [dg.tensor([1.0])]],
        "tuple": (np.float32(1.5), np.arange(3)),
        "ints": {0: "zero", 1: dg.tensor([2.0])},
        "nan": float("nan"),
    }
    out = _round_trip(obj, tmp_path)
    assert out["list"][:5] == [1, 2.5, "s", None, True]
    np.testing.assert_array_equal(out["list"][5][0].data, [1.0])
    assert isinstance(out["tuple"], tuple) and out["tuple"][0] == np.float32(1.5)
    assert isinstance(out["tuple"][0], np.float32)
    np.testing.assert_array_equal(out["tuple"][1], np.arange(3))
    assert out["ints"][0] == "zero" and np.isnan(out["nan"])


def test_file_objects_and_plain_safetensors_interop(tmp_path):
    buf = io.BytesIO()
    dg.save({"w": dg.tensor([1.0, 2.0])}, buf)
    buf.seek(0)
    np.testing.assert_array_equal(dg.load(buf)["w"].data, [1.0, 2.0])
    st = pytest.importorskip("safetensors.numpy", reason="interop check needs safetensors")
    path = tmp_path / "a.safetensors"
    dg.save({"w": dg.tensor(np.eye(2, dtype=np.float32))}, path)
    arrays = st.load_file(str(path))  # a valid safetensors file for other tools
    np.testing.assert_array_equal(next(iter(arrays.values())), np.eye(2))
    plain = tmp_path / "p.safetensors"
    st.save_file({"x": np.arange(3.0)}, str(plain))
    np.testing.assert_array_equal(dg.load(plain)["x"], np.arange(3.0))


def test_whole_module_and_optimizer_are_refused_before_writing(tmp_path):
    path = tmp_path / "m.pt"
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"whole Module \(Linear\).*model.state_dict\(\)"):
        dg.save(model, path)
    with pytest.raises(TypeError, match=r"optimizer.state_dict\(\)"):
        dg.save({"opt": optim.SGD(model.parameters(), lr=0.1)}, path)
    with pytest.raises(TypeError, match=r"cannot store set at obj\['x'\]"):
        dg.save({"x": {1, 2}}, path)
    assert not path.exists()


def test_load_never_runs_code_and_rejects_garbage(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04\x95 pickle-looking bytes")
    with pytest.raises(ValueError, match="load: .* not a deepgrad/safetensors file"):
        dg.load(bad)
    header = json.dumps({"__metadata__": {}}).encode()
    bad.write_bytes(struct.pack("<Q", len(header)) + header)
    assert dg.load(bad) == {}
    with pytest.raises(ValueError, match="CPU only"):
        dg.load(bad, map_location="cuda:0")


def test_modules_and_tensors_deep_copy():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    clone = copy.deepcopy(model)
    for a, b in zip(model.parameters(), clone.parameters()):
        assert a is not b and not np.shares_memory(a.data, b.data)
        np.testing.assert_array_equal(a.data, b.data)
    clone[0].weight.data[...] = 0.0
    assert np.any(model[0].weight.numpy() != 0.0)
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = copy.deepcopy(x)
    assert y.requires_grad and not np.shares_memory(x.data, y.data)
