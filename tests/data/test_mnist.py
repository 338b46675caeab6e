"""IDX I/O and the MNIST datasets: round trips, integrity, no network unless asked, download."""

import functools
import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from deepgrad.data import MNIST, DataLoader, FashionMNIST, mnist, read_idx, write_idx

REAL_MNIST = Path(__file__).resolve().parents[2].parent / "shared/data/mnist"
STEMS = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _fake(n=20, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def _write_split(folder: Path, train=True, gz=True, n=20):
    """Write a small fake split; return {stem: md5 of the decompressed file}."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for stem, array in zip(STEMS[train], _fake(n)):
        path = folder / (stem + (".gz" if gz else ""))
        write_idx(path, array)
        raw = path.read_bytes()
        digests[stem] = hashlib.md5(gzip.decompress(raw) if gz else raw).hexdigest()
    return digests


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / f"x-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4)
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_idx_magic_numbers_are_lecuns(tmp_path):
    images, labels = _fake(3)
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    assert int.from_bytes((tmp_path / "i").read_bytes()[:4], "big") == 2051
    assert int.from_bytes((tmp_path / "l").read_bytes()[:4], "big") == 2049


def test_gzip_sniffed_not_named(tmp_path):
    write_idx(tmp_path / "a.gz", np.arange(4, dtype=np.uint8))
    (tmp_path / "a.gz").rename(tmp_path / "plain-name")
    assert read_idx(tmp_path / "plain-name").tolist() == [0, 1, 2, 3]


def test_truncated_idx_is_rejected(tmp_path):
    write_idx(tmp_path / "t", np.zeros((4, 4), np.uint8))
    (tmp_path / "t").write_bytes((tmp_path / "t").read_bytes()[:-3])
    with pytest.raises(ValueError, match="header says shape"):
        read_idx(tmp_path / "t")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_loads_from_subfolder_with_correct_md5(tmp_path, gz):
    digests = _write_split(tmp_path / "mnist", train=False, gz=gz)
    ds = MNIST(root=tmp_path, train=False, md5=digests)
    assert ds.data.shape == (20, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == list(np.arange(20) % 10)
    image, label = ds[3]
    np.testing.assert_array_equal(image, _fake()[0][3])
    assert label == 3


def test_mnist_checksum_failure(tmp_path):
    digests = _write_split(tmp_path / "mnist")
    digests["train-images-idx3-ubyte"] = "0" * 32
    with pytest.raises(ValueError, match="MD5 of decompressed train-images"):
        MNIST(root=tmp_path, md5=digests)
    # the built-in digests reject fake files unless verification is off
    with pytest.raises(ValueError, match="6bbc9ace898e44ae57da46a324031adb"):
        MNIST(root=tmp_path)
    assert len(MNIST(root=tmp_path, verify=False)) == 20


def test_folder_holding_files_directly_and_env_root(tmp_path, monkeypatch):
    _write_split(tmp_path / "flat")
    assert len(FashionMNIST(root=tmp_path / "flat")) == 20  # structure-only check
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path))
    _write_split(tmp_path / "fashion-mnist", n=12)
    assert len(FashionMNIST()) == 12


def test_no_socket_without_download(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    digests = _write_split(tmp_path / "mnist")
    assert len(MNIST(root=tmp_path, md5=digests)) == 20
    with pytest.raises(FileNotFoundError) as info:
        MNIST(root=tmp_path / "empty", train=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message
    assert str(tmp_path / "empty") in message and "download=True" in message


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/served on 127.0.0.1 from a background thread; yield its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_from_local_server(tmp_path, http_server, monkeypatch):
    served, url = http_server
    digests = _write_split(served, train=True, gz=True)
    dead = "http://127.0.0.1:9/nothing/"  # discard port: refused, so the next mirror is tried
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [dead, url])
    root = tmp_path / "cache"
    ds = MNIST(root=root, train=True, download=True, md5=digests)
    assert len(ds) == 20
    assert sorted(p.name for p in (root / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]  # no temporary files left behind


def test_download_failure_reports_each_mirror(tmp_path, http_server, monkeypatch):
    served, url = http_server
    _write_split(served, train=True)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [url + "missing/", url])
    with pytest.raises(FileNotFoundError, match="404") as info:
        MNIST(root=tmp_path / "cache", download=True, md5={"train-images-idx3-ubyte": "f" * 32})
    assert "MD5" in str(info.value)  # the second mirror served a file that failed the check
    assert not any((tmp_path / "cache" / "mnist").glob("*train-images*"))


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason=f"real MNIST files not found at {REAL_MNIST}")
def test_real_mnist_files():
    test = MNIST(root=REAL_MNIST, train=False)
    assert test.data.shape == (10000, 28, 28) and test.data.dtype == np.uint8
    assert np.bincount(test.targets).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009,
    ]  # fmt: skip
    train = MNIST(root=REAL_MNIST, train=True)
    assert train.data.shape == (60000, 28, 28) and len(train.targets) == 60000
    assert np.bincount(train.targets).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949,
    ]  # fmt: skip
    xb, yb = next(iter(DataLoader(test, batch_size=128, shuffle=True, seed=0)))
    assert xb.shape == (128, 28, 28) and yb.dtype == np.int64
