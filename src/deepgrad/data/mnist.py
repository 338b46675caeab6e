"""IDX files (LeCun's format for MNIST) and the MNIST / Fashion-MNIST datasets.

An IDX file is a big-endian header, magic = 0x0000 <dtype code> <ndim>
(2051 for uint8 images of rank 3, 2049 for uint8 labels of rank 1), then
`ndim` int32 sizes, then the data in C order.  Files may be gzip-compressed;
readers sniff the gzip magic rather than trust the name.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..fileio import atomic_write
from .dataset import Dataset

GZIP_MAGIC = b"\x1f\x8b"

# IDX type code -> big-endian dtype (LeCun, "THE MNIST DATABASE", file formats section)
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_DTYPES.items()}

# Tried in order for every file; tests replace these lists.
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ],
}


def _read_bytes(path: str | os.PathLike) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic."""
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw


def parse_idx(buf: bytes, name: str = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian ndarray, checking the header against the size."""
    if len(buf) < 4 or buf[0] != 0 or buf[1] != 0 or buf[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {name} is not an IDX file (header {buf[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_DTYPES[buf[2]]), buf[3]
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(f"read_idx: {name} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(buf, ">i4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) - header != expected:
        raise ValueError(
            f"read_idx: {name} header says shape {shape} ({expected} bytes of data) "
            f"but holds {len(buf) - header}"
        )
    data = np.frombuffer(buf, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed (sniffed from the first two bytes).

    Returns a writable native-endian array, e.g. uint8 (60000, 28, 28) for MNIST images.
    """
    return parse_idx(_read_bytes(path), str(path))


def write_idx(path: str | os.PathLike, array: Any) -> None:
    """Write `array` as an IDX file (gzip-compressed when `path` ends in `.gz`), atomically.

    >>> import numpy as np, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x-idx1-ubyte.gz")
    >>> write_idx(p, np.arange(5, dtype=np.uint8)); read_idx(p).tolist()
    [0, 1, 2, 3, 4]
    """
    arr = np.ascontiguousarray(array)
    code = _IDX_CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: IDX cannot store dtype {arr.dtype}")
    if arr.ndim > 255:
        raise ValueError(f"write_idx: IDX cannot store {arr.ndim} dimensions")
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">i4").tobytes()
    payload = header + arr.astype(_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, payload)


def default_root() -> Path:
    """Data folder: `$DEEPGRAD_DATA` if set, else `~/.cache/deepgrad`."""
    return Path(os.environ.get("DEEPGRAD_DATA") or Path.home() / ".cache" / "deepgrad")


def _md5(buf: bytes) -> str:
    """Hex MD5 digest of `buf`."""
    return hashlib.md5(buf, usedforsecurity=False).hexdigest()


def _fetch(stem: str, folder: Path, mirrors: list[str], check: Callable[[bytes], None]) -> list:
    """Download `stem.gz` into `folder` from the first mirror that serves a valid file.

    Returns the failures (one string per mirror tried); empty on success.
    """
    errors = []
    folder.mkdir(parents=True, exist_ok=True)
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + stem + ".gz"
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{stem}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=30) as response:
                shutil.copyfileobj(response, f)
            check(_read_bytes(tmp))
            os.replace(tmp, folder / f"{stem}.gz")
            return []
        except (OSError, ValueError, EOFError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            Path(tmp).unlink(missing_ok=True)
    return errors


class _IDXImageDataset(Dataset):
    """Shared body of MNIST-format datasets: find, download, verify and load two IDX files."""

    folder: ClassVar[str]
    md5s: ClassVar[dict[str, str]]
    classes: ClassVar[list[str]]
    files: ClassVar[dict[bool, tuple[str, str]]] = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable | None = None,
        verify: bool = True,
        md5: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.train = train
        self.transform = transform
        self.verify = verify
        self._md5 = {**self.md5s, **(md5 or {})}
        stems = self.files[train]
        paths = self._locate(stems, download)
        self.data = self._load(paths[0], stems[0])
        self.targets = self._load(paths[1], stems[1]).astype(np.int64)
        self._check_structure(paths)

    def _folders(self) -> list[Path]:
        """Where files are looked for: `root/<folder>`, then `root` itself."""
        return [self.root / self.folder, self.root]

    def _find(self, stem: str) -> Path | None:
        """The first existing `stem` or `stem.gz` in the search folders."""
        for folder in self._folders():
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    return folder / name
        return None

    def _locate(self, stems: tuple[str, str], download: bool) -> list[Path]:
        """Paths of both files, downloading missing ones when asked; FileNotFoundError if absent."""
        errors: list[str] = []
        for stem in stems:
            if download and self._find(stem) is None:
                check = functools.partial(self._verify, stem=stem, where="download")
                errors += _fetch(stem, self.root / self.folder, MIRRORS[self.folder], check)
        paths = [self._find(stem) for stem in stems]
        missing = [stem for stem, path in zip(stems, paths) if path is None]
        if missing:
            raise FileNotFoundError(self._missing_message(missing, download, errors))
        return paths

    def _missing_message(self, missing: list[str], download: bool, errors: list[str]) -> str:
        """Name the files, the folders searched, and how to get them."""
        name = type(self).__name__
        wanted = ", ".join(f"{m}[.gz]" for m in missing)
        where = " or ".join(str(f) for f in self._folders())
        urls = " or ".join(m + missing[0] + ".gz" for m in MIRRORS[self.folder])
        msg = f"{name}: {wanted} not found in {where}. "
        if download:
            msg += "Download failed: " + "; ".join(errors) + ". "
        msg += (
            f"Pass download=True, set DEEPGRAD_DATA or root= to a folder holding the files, "
            f"or fetch them by hand (e.g. {urls}) into {self.root / self.folder}."
        )
        return msg

    def _verify(self, buf: bytes, stem: str, where: str) -> None:
        """Raise ValueError when the decompressed bytes' MD5 differs from the known digest."""
        expected = self._md5.get(stem)
        if self.verify and expected:
            actual = _md5(buf)
            if actual != expected.lower():
                raise ValueError(
                    f"{type(self).__name__}: MD5 of decompressed {stem} ({where}) is {actual}, "
                    f"expected {expected}; the file is corrupt or not the official one "
                    f"(verify=False skips this check)"
                )

    def _load(self, path: Path, stem: str) -> np.ndarray:
        """Read, verify and decode one IDX file."""
        buf = _read_bytes(path)
        self._verify(buf, stem, str(path))
        return parse_idx(buf, str(path))

    def _check_structure(self, paths: list[Path]) -> None:
        """Images uint8 (N, 28, 28), labels (N,) in range(len(classes))."""
        images, labels = self.data, self.targets
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError(
                f"{paths[0]}: expected uint8 (N, 28, 28), got {images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(f"{paths[1]}: expected {len(images)} labels, got shape {labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"{paths[1]}: labels outside 0..{len(self.classes) - 1}")

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray] | None:
        """`(data, targets)` for the loader's fast path; None when a per-sample transform is set."""
        return None if self.transform is not None else (self.data, self.targets)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, np.int64]:
        image = self.data[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} samples, root={str(self.root)!r})"


class MNIST(_IDXImageDataset):
    """Handwritten digits (LeCun et al. 1998): 60,000 train / 10,000 test uint8 28x28 images.

    Files are found in `root/mnist` or directly in `root` (raw or .gz); their
    decompressed content is checked against the published MD5s unless `verify=False`.
    `md5={"train-images-idx3-ubyte": ...}` overrides a digest.
    """

    folder = "mnist"
    md5s: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }
    classes: ClassVar[list[str]] = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ]  # fmt: skip


class FashionMNIST(_IDXImageDataset):
    """Zalando's Fashion-MNIST (Xiao et al. 2017): MNIST's format with 10 clothing classes.

    Only the structure is verified (shapes, dtype, label range): no reliably known
    MD5 of the decompressed files is built in.  Pass `md5={stem: digest}` to check.
    """

    folder = "fashion-mnist"
    md5s: ClassVar[dict[str, str]] = {}
    classes: ClassVar[list[str]] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
