"""IDX I/O and the MNIST datasets: round trips, integrity, no network unless asked, download."""

import functools
import gzip
import hashlib
import http.server
import shutil
import socket
import ssl
import subprocess
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
    with pytest.raises(ValueError, match="SHA-256 .*ba891046e6505d7aadcbbe25680a0738ad16aec9"):
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


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made here with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a self-signed certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """Serve tmp_path/served over HTTPS on 127.0.0.1 (a self-signed certificate the loader is
    told to trust); yield the folder and its base URL."""
    served = tmp_path / "served"
    served.mkdir()
    cert, key = _certificate(tmp_path)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(mnist, "SSL_CONTEXT", ssl.create_default_context(cafile=str(cert)))
    yield served, f"https://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join()


def _pin(monkeypatch, served: Path) -> None:
    """Pin the SHA-256 of the decompressed fake files, as the real ones are pinned."""
    for path in served.glob("*.gz"):
        digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
        monkeypatch.setitem(mnist.SHA256, f"mnist/{path.name[:-3]}", digest)


def test_download_over_https_checked_against_pinned_digests(tmp_path, https_server, monkeypatch):
    served, url = https_server
    _write_split(served, train=True, gz=True)
    _pin(monkeypatch, served)
    dead = "https://127.0.0.1:9/nothing/"  # discard port: refused, so the next mirror is tried
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [dead, url])
    root = tmp_path / "cache"
    ds = MNIST(root=root, train=True, download=True)
    assert len(ds) == 20
    assert sorted(p.name for p in (root / "mnist").iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]  # no temporary files left behind


def test_download_failure_reports_each_mirror(tmp_path, https_server, monkeypatch):
    served, url = https_server
    _write_split(served, train=True)
    monkeypatch.setitem(mnist.SHA256, "mnist/train-images-idx3-ubyte", "f" * 64)
    monkeypatch.setitem(mnist.MIRRORS, "mnist", [url + "missing/", url])
    with pytest.raises(FileNotFoundError, match="404") as info:
        MNIST(root=tmp_path / "cache", download=True)
    assert "SHA-256 of the decompressed file" in str(info.value)  # the 2nd mirror's bytes
    assert not any((tmp_path / "cache" / "mnist").glob("*train-images*"))


def test_plain_http_mirrors_are_refused(tmp_path, monkeypatch):
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError, match="HTTPS only"):
        MNIST(root=tmp_path, download=True)


def test_every_download_has_a_pinned_https_source():
    for folder, mirrors in mnist.MIRRORS.items():
        assert mirrors and all(m.startswith("https://") for m in mirrors), folder
        for stem in (*STEMS[True], *STEMS[False]):
            key = f"{folder}/{stem}"
            digest = mnist.SHA256.get(key) or mnist.ARCHIVE_SHA256.get(key)
            assert digest is not None and len(digest) == 64, key


def test_pinned_digests_checked_on_local_bytes(tmp_path):
    """The verification a download runs, on bytes made here (no network)."""
    fake = gzip.compress(b"not the Fashion-MNIST archive")
    with pytest.raises(ValueError, match="SHA-256 of the archive"):
        mnist.verify_digest(fake, "fashion-mnist/train-images-idx3-ubyte", "x")
    write_idx(tmp_path / "labels.gz", np.arange(5, dtype=np.uint8))  # a valid IDX, wrong data
    with pytest.raises(ValueError, match="SHA-256 of the decompressed file"):
        mnist.verify_digest((tmp_path / "labels.gz").read_bytes(), "mnist/t10k-labels-idx1-ubyte",
                            "x")  # fmt: skip
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.verify_digest(fake, "mnist/t10k-labels-idx1-ubyte", "x")
    with pytest.raises(ValueError, match="no pinned SHA-256"):
        mnist.verify_digest(fake, "emnist/letters", "x")
    if REAL_MNIST.is_dir():  # the real files pass
        raw = (REAL_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()
        mnist.verify_digest(raw, "mnist/t10k-labels-idx1-ubyte", "real")


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
