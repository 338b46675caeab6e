"""PyTorch weights in and out: safetensors and torch.save zips read without unpickling."""

from __future__ import annotations

import pickle
import struct
import zipfile

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import models, nn
from deepgrad.io import UnsafePickleError, read_torch_state_dict

# --- a torch.save zip composed byte by byte (no torch needed) ----------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _ints(values) -> bytes:
    return b"(" + b"".join(b"J" + struct.pack("<i", v) for v in values) + b"t"


def _tensor(key: str, storage: str, numel: int, offset: int, size, stride) -> bytes:
    pid = b"(" + _str("storage") + _global("torch", storage) + _str(key) + _str("cpu")
    pid += b"J" + struct.pack("<i", numel) + b"tQ"
    hooks = _global("collections", "OrderedDict") + b")R"
    args = b"(" + pid + b"J" + struct.pack("<i", offset) + _ints(size) + _ints(stride)
    return _global("torch._utils", "_rebuild_tensor_v2") + args + b"\x89" + hooks + b"tR"


def _write_zip(path, pickle_bytes: bytes, storages: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle_bytes)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
        for key, raw in storages.items():
            zf.writestr(f"archive/data/{key}", raw)


def _composed_checkpoint(path):
    """weight: a (3, 2) float32 view with strides (1, 3) (a transpose) at offset 0;
    bias: float64 elements 1..2 of its storage; count: an int64 scalar."""
    w_storage = np.arange(6, dtype=np.float32)
    b_storage = np.array([9.0, -1.5, 2.25], dtype=np.float64)
    body = b"\x80\x02" + _global("collections", "OrderedDict") + b")R("
    body += _str("weight") + _tensor("0", "FloatStorage", 6, 0, (3, 2), (1, 3))
    body += _str("bias") + _tensor("1", "DoubleStorage", 3, 1, (2,), (1,))
    body += _str("count") + _tensor("2", "LongStorage", 1, 0, (), ())
    body += b"u."
    storages = {"0": w_storage.tobytes(), "1": b_storage.tobytes(),
                "2": np.array([7], np.int64).tobytes()}  # fmt: skip
    _write_zip(path, body, storages)
    expected = {
        "weight": np.arange(6, dtype=np.float32).reshape(2, 3).T,
        "bias": np.array([-1.5, 2.25]),
        "count": np.array(7, dtype=np.int64),
    }
    return expected


def test_composed_zip_is_read_with_strides_offsets_and_dtypes(tmp_path):
    path = tmp_path / "sd.pt"
    expected = _composed_checkpoint(path)
    got = read_torch_state_dict(path)
    assert list(got) == ["weight", "bias", "count"]
    for k, v in expected.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
        np.testing.assert_array_equal(got[k], v)


def test_composed_zip_agrees_with_torch_load(tmp_path):
    torch = pytest.importorskip("torch", reason="cross-check against torch.load needs PyTorch")
    path = tmp_path / "sd.pt"
    expected = _composed_checkpoint(path)
    theirs = torch.load(path, weights_only=True)
    for k, v in expected.items():
        np.testing.assert_array_equal(theirs[k].numpy(), v)


class _RunsCode:
    def __init__(self, marker) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickle_that_would_run_code_is_refused_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": _RunsCode(marker)}, protocol=protocol)
    path = tmp_path / "evil.pt"
    _write_zip(path, payload, {})
    model = nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    with pytest.raises(UnsafePickleError, match=r"names the global (os|posix)\.system"):
        dg.load_torch_state_dict(model, path)
    assert not marker.exists()
    np.testing.assert_array_equal(model.weight.data, before)


def test_builtins_eval_and_out_of_bounds_views_are_refused(tmp_path):
    evil = b"\x80\x02" + _global("builtins", "eval") + b"(" + _str("1+1") + b"tR."
    _write_zip(tmp_path / "eval.pt", evil, {})
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        read_torch_state_dict(tmp_path / "eval.pt")
    body = b"\x80\x02}(" + _str("w") + _tensor("0", "FloatStorage", 4, 2, (3,), (1,)) + b"u."
    _write_zip(tmp_path / "oob.pt", body, {"0": np.zeros(4, np.float32).tobytes()})
    with pytest.raises(UnsafePickleError, match=r"reads element 4 of a storage of 4"):
        read_torch_state_dict(tmp_path / "oob.pt")


def test_not_a_zip_and_not_a_state_dict(tmp_path):
    (tmp_path / "legacy.pt").write_bytes(b"\x80\x02}q\x00.")
    with pytest.raises(ValueError, match=r"not a zip checkpoint"):
        read_torch_state_dict(tmp_path / "legacy.pt")
    _write_zip(tmp_path / "list.pt", b"\x80\x02]q\x00.", {})
    with pytest.raises(ValueError, match=r"holds a list, not a state dict"):
        read_torch_state_dict(tmp_path / "list.pt")


# --- files written by PyTorch ---------------------------------------------------------------


def _torch_and_deepgrad_cnn(torch):
    tnn = torch.nn
    theirs = tnn.Sequential(
        tnn.Conv2d(2, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
        tnn.ConvTranspose2d(4, 3, 2, stride=2), tnn.Flatten(), tnn.Linear(3 * 8 * 8, 5),
    )  # fmt: skip
    ours = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.ConvTranspose2d(4, 3, 2, stride=2), nn.Flatten(), nn.Linear(3 * 8 * 8, 5),
    )  # fmt: skip
    theirs.train()
    with torch.no_grad():
        theirs(torch.randn(6, 2, 4, 4))  # running statistics and num_batches_tracked move
    theirs.eval()
    return theirs, ours


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_state_dict_written_by_torch_loads_with_equal_outputs(tmp_path, fmt):
    torch = pytest.importorskip("torch", reason="PyTorch writes the checkpoint in this test")
    torch.manual_seed(0)
    theirs, ours = _torch_and_deepgrad_cnn(torch)
    path = tmp_path / f"cnn.{fmt}"
    if fmt == "pt":
        torch.save(theirs.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file(theirs.state_dict(), str(path))
    result = dg.load_torch_state_dict(ours, path)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert int(ours[1].num_batches_tracked.data) == 1
    ours.eval()
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32)
    with torch.no_grad():
        want = theirs(torch.from_numpy(x)).numpy()
    with dg.no_grad():
        got = ours(dg.tensor(x)).data
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_saved_safetensors_load_back_into_torch(tmp_path):
    torch = pytest.importorskip("torch", reason="PyTorch reads the exported file in this test")
    from safetensors.torch import load_file

    theirs, ours = _torch_and_deepgrad_cnn(torch)
    path = dg.save_torch_state_dict(ours, tmp_path / "ours.safetensors")
    theirs.load_state_dict(load_file(str(path)))  # strict: every PyTorch name is present
    for k, v in theirs.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), ours.state_dict()[k])


def test_resnet18_uses_torchvision_names(tmp_path):
    model = models.resnet18(num_classes=10)
    path = dg.save_torch_state_dict(model, tmp_path / "r18.safetensors")
    names = list(read_torch_state_dict(path))
    assert len(names) == 122  # torchvision's resnet18().state_dict() has 122 entries
    for name in ["conv1.weight", "bn1.num_batches_tracked", "layer1.0.conv2.weight",
                 "layer2.0.downsample.0.weight", "layer4.1.bn2.running_var", "fc.bias"]:  # fmt: skip
        assert name in names
    fresh = models.resnet18(num_classes=10)
    dg.load_torch_state_dict(fresh, path)
    np.testing.assert_array_equal(fresh.conv1.weight.data, model.conv1.weight.data)


def test_mismatch_changes_nothing_and_bad_save_path(tmp_path):
    src = nn.Linear(3, 2)
    path = dg.save_torch_state_dict(src, tmp_path / "lin.safetensors")
    target = nn.Linear(4, 2)
    before = target.weight.numpy().copy()
    with pytest.raises(RuntimeError, match=r"weight: checkpoint shape \(2, 3\), model shape"):
        dg.load_torch_state_dict(target, path)
    np.testing.assert_array_equal(target.weight.data, before)
    with pytest.raises(ValueError, match=r"save_torch_state_dict: write a .safetensors file"):
        dg.save_torch_state_dict(src, tmp_path / "lin.pt")
    with pytest.raises(FileNotFoundError, match=r"load_torch_state_dict: no file"):
        dg.load_torch_state_dict(src, tmp_path / "missing.pt")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_state_dicts_from_torch_keep_the_gate_order(tmp_path, kind):
    """PyTorch's (i, f, g, o) LSTM and (r, z, n) GRU gate blocks, layer and direction names:
    a two-layer bidirectional layer saved by torch gives the same outputs and states."""
    torch = pytest.importorskip("torch", reason="PyTorch writes the checkpoint in this test")
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    path = tmp_path / f"{kind}.pt"
    torch.save(theirs.state_dict(), path)
    ours = getattr(dg.nn, kind)(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    result = dg.load_torch_state_dict(ours, path)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    x = np.random.default_rng(0).standard_normal((2, 4, 3)).astype(np.float32)
    with torch.no_grad():
        want_out, want_state = theirs(torch.from_numpy(x))
    with dg.no_grad():
        got_out, got_state = ours(dg.tensor(x))
    np.testing.assert_allclose(got_out.data, want_out.numpy(), rtol=1e-5, atol=1e-6)
    want_h = want_state[0] if kind == "LSTM" else want_state
    got_h = got_state[0] if kind == "LSTM" else got_state
    np.testing.assert_allclose(got_h.data, want_h.numpy(), rtol=1e-5, atol=1e-6)
