"""IDX files are untrusted input: headers checked before the payload, gzip bombs refused,
truncated or corrupt archives named in one line; Hypothesis mutates valid files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepgrad.data import MNIST, read_idx, write_idx
from deepgrad.data import mnist as idx


def _header(code: int, shape: tuple[int, ...]) -> bytes:
    return bytes([0, 0, code, len(shape)]) + b"".join(struct.pack(">i", d) for d in shape)


@pytest.mark.parametrize(
    ("head", "words"),
    [(b"\x00\x00\x08", "not an IDX file"), (b"\x01\x00\x08\x01" + b"\x00" * 4, "not an IDX file"),
     (_header(0x07, (3,)), "not an IDX file"), (_header(0x08, ()), "claims 0 dimensions"),
     (bytes([0, 0, 8, 200]) + b"\x00" * 800, "claims 200 dimensions"),
     (_header(0x08, (3, -1)), "negative sizes"), (bytes([0, 0, 8, 3]) + b"\x00" * 4, "truncated"),
     (_header(0x0E, (2**31 - 1, 2**31 - 1, 2**31 - 1)), "over the limit"),
     (_header(0x08, (2**20, 2**20)), "over the limit")],
)  # fmt: skip
@pytest.mark.parametrize("gz", [False, True])
def test_bad_headers_are_refused_before_the_payload(tmp_path, head, words, gz):
    path = tmp_path / "bad-idx"
    path.write_bytes(gzip.compress(head) if gz else head)
    with pytest.raises(ValueError, match=words) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_gzip_bomb_is_refused_without_expanding(tmp_path):
    # 10 labels announced, 32 MB of zeros behind them (about 32 kB compressed): the stream
    # stops one byte past the 18 announced bytes instead of expanding it all
    bomb = gzip.compress(_header(0x08, (10,)) + bytes(32 << 20), compresslevel=9)
    path = tmp_path / "bomb-idx1-ubyte.gz"
    path.write_bytes(bomb)
    with pytest.raises(ValueError, match="more than the 18 bytes its header announces"):
        read_idx(path)
    # a header that announces a huge payload is refused by its size before any expansion
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(gzip.compress(_header(0x08, (60000, 280, 28)) + bytes(1 << 20)))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(60000, np.uint8))
    with pytest.raises(ValueError, match="over the limit of 67108864"):
        MNIST(root=tmp_path, verify=False)


@pytest.mark.parametrize("cut", [3, 10, 40, -9])
def test_truncated_or_corrupt_archives_name_the_file(tmp_path, cut):
    path = tmp_path / "labels-idx1-ubyte.gz"
    write_idx(path, np.arange(1000, dtype=np.int32))
    raw = path.read_bytes()
    path.write_bytes(raw[:cut])
    with pytest.raises(
        ValueError, match=r"read_idx: .*labels-idx1-ubyte.gz is a (truncated|corrupt)"
    ):
        read_idx(path)
    broken = bytearray(raw)
    broken[20] ^= 0xFF  # inside the deflate stream
    path.write_bytes(bytes(broken))
    with pytest.raises(ValueError, match=r"read_idx: .*labels-idx1-ubyte.gz"):
        read_idx(path)


def _valid(tmp: Path, gz: bool) -> bytes:
    path = tmp / ("v.gz" if gz else "v")
    write_idx(path, np.arange(60, dtype=np.int16).reshape(3, 4, 5))
    return path.read_bytes()


@given(
    gz=st.booleans(),
    edits=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255), st.sampled_from("fdi")),
                   min_size=1, max_size=4),
    cut=st.none() | st.integers(0, 200),
)  # fmt: skip
def test_mutated_idx_files_load_consistently_or_fail_with_one_line(
    tmp_path_factory, gz, edits, cut
):
    tmp = tmp_path_factory.mktemp("idx")
    data = bytearray(_valid(tmp, gz))
    for pos, byte, kind in edits:
        pos %= len(data) + 1
        if kind == "f" and pos < len(data):
            data[pos] = byte
        elif kind == "d" and pos < len(data):
            del data[pos]
        else:
            data.insert(pos, byte)
    if cut is not None:
        data = data[:cut]
    path = tmp / "mutated-idx3"
    path.write_bytes(bytes(data))
    try:
        array = read_idx(path, max_bytes=1 << 20)
    except ValueError as exc:
        message = str(exc)
        assert message.startswith("read_idx: ") and str(path) in message and "\n" not in message
        return
    raw = gzip.decompress(bytes(data)) if bytes(data[:2]) == idx.GZIP_MAGIC else bytes(data)
    _, shape, header = idx.idx_header(raw[:36], "x")
    assert array.shape == shape and array.nbytes == len(raw) - header
