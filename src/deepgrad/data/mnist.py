"""IDX files (LeCun's format for MNIST) and the MNIST / Fashion-MNIST datasets.

An IDX file is a big-endian header, magic = 0x0000 <dtype code> <ndim>
(2051 for uint8 images of rank 3, 2049 for uint8 labels of rank 1), then
`ndim` int32 sizes, then the data in C order.  Files may be gzip-compressed;
readers sniff the gzip magic rather than trust the name.

Data files are untrusted input: the header (magic, dimension count, sizes, dtype
code, the size product) is checked before any payload is read; gzip is
decompressed as a stream that stops at the size the header announces (and at
`MAX_IDX_BYTES`), so a decompression bomb is refused after a few MB; a truncated
or corrupt archive gives one line naming the file.  Downloads are HTTPS only and
checked against pinned SHA-256 digests: of the decompressed files for MNIST
(computed from the official files, whose MD5s are published), of the archives
for Fashion-MNIST (the archives Zalando serves).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.request
import zlib
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

MAX_IDX_BYTES = 1 << 31  # 2 GiB: far above MNIST's 47 MB; no IDX file is read past this
MAX_DATASET_BYTES = 64 << 20  # an MNIST-format file: 47 MB at most (60,000 28x28 images)
MAX_NDIM = 8  # IDX files in use have 1-4 dimensions
_CHUNK = 1 << 20

# Tried in order for every file; HTTPS only (tests replace these lists).
MIRRORS: dict[str, list[str]] = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion-mnist": [
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ],
}

# SHA-256 of the decompressed IDX files (MNIST: computed from the official files, whose
# decompressed MD5s LeCun publishes; recompressed archives verify too)
SHA256: dict[str, str] = {
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}  # fmt: skip
# SHA-256 of the .gz archives as served (Fashion-MNIST, Xiao et al. 2017)
ARCHIVE_SHA256: dict[str, str] = {
    "fashion-mnist/train-images-idx3-ubyte": "08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
    "fashion-mnist/train-labels-idx1-ubyte": "b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
    "fashion-mnist/t10k-images-idx3-ubyte": "78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
    "fashion-mnist/t10k-labels-idx1-ubyte": "42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf",
}  # fmt: skip


def idx_header(
    head: bytes, name: str = "<bytes>", max_bytes: int = MAX_IDX_BYTES
) -> tuple[np.dtype, tuple[int, ...], int]:
    """`(dtype, shape, header_bytes)` from an IDX file's first bytes, checked before the payload:
    zero magic bytes, a known dtype code, 1..MAX_NDIM dimensions, non-negative sizes whose
    product (in bytes) fits `max_bytes`.  Raises ValueError naming the file."""
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {name} is not an IDX file (header {head[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_DTYPES[head[2]]), head[3]
    if not 1 <= ndim <= MAX_NDIM:
        raise ValueError(f"read_idx: {name} claims {ndim} dimensions (1 to {MAX_NDIM} allowed)")
    size = 4 + 4 * ndim
    if len(head) < size:
        raise ValueError(f"read_idx: {name} is truncated inside its header")
    shape = tuple(int.from_bytes(head[4 + 4 * i : 8 + 4 * i], "big", signed=True)
                  for i in range(ndim))  # fmt: skip
    if any(d < 0 for d in shape):
        raise ValueError(f"read_idx: {name} has negative sizes {shape}")
    total = _nbytes(dtype, shape)
    if total > max_bytes:
        raise ValueError(f"read_idx: {name} claims shape {shape} ({total} bytes), over the "
                         f"limit of {max_bytes}")  # fmt: skip
    return dtype, shape, size


def _nbytes(dtype: np.dtype, shape: tuple[int, ...]) -> int:
    """Payload bytes of an IDX array (Python ints: no overflow)."""
    total = dtype.itemsize
    for d in shape:
        total *= d
    return total


def _gunzip_limited(raw: bytes, name: str, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """Decompress `raw` as a stream: check the IDX header from the first bytes, then stop one
    byte past the size it announces, so a decompression bomb never expands in memory."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out, tail, limit = bytearray(), raw, None
    try:
        while not d.eof:
            cap = _CHUNK if limit is None else min(_CHUNK, limit + 1 - len(out))
            piece = d.decompress(tail, cap)
            tail = d.unconsumed_tail
            out += piece
            have_header = len(out) >= 4 and len(out) >= 4 + 4 * min(out[3], MAX_NDIM)
            if limit is None and (have_header or d.eof):
                dtype, shape, header = idx_header(bytes(out[: 4 + 4 * MAX_NDIM]), name, max_bytes)
                limit = header + _nbytes(dtype, shape)
            if limit is not None and len(out) > limit:
                raise ValueError(
                    f"read_idx: {name} decompresses to more than the {limit} bytes "
                    "its header announces (refused: a gzip bomb or a corrupt file)"
                )
            if not piece and not tail:
                break  # the input ended before the gzip stream did
    except zlib.error as exc:
        raise ValueError(f"read_idx: {name} is a corrupt gzip archive ({exc})") from None
    if not d.eof:
        raise ValueError(f"read_idx: {name} is a truncated gzip archive")
    return bytes(out)


def _read_bytes(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> bytes:
    """The file's content, gunzipped (with the limits above) when it starts with the gzip magic."""
    size = os.stat(path).st_size
    if size > max_bytes + 4 + 4 * MAX_NDIM:
        raise ValueError(f"read_idx: {path} is {size} bytes, over the limit of {max_bytes}")
    with open(path, "rb") as f:
        raw = f.read()
    return _gunzip_limited(raw, str(path), max_bytes) if raw[:2] == GZIP_MAGIC else raw


def parse_idx(buf: bytes, name: str = "<bytes>", max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Decode IDX bytes into a native-endian ndarray, checking the header against the size."""
    dtype, shape, header = idx_header(buf[: 4 + 4 * MAX_NDIM], name, max_bytes)
    expected = _nbytes(dtype, shape)
    if len(buf) - header != expected:
        raise ValueError(
            f"read_idx: {name} header says shape {shape} ({expected} bytes of data) "
            f"but holds {len(buf) - header}"
        )
    data = np.frombuffer(buf, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file, raw or gzip-compressed (sniffed from the first two bytes).

    Returns a writable native-endian array, e.g. uint8 (60000, 28, 28) for MNIST images.
    The header is checked before the payload and a payload over `max_bytes` is refused
    (ValueError naming the file), however small the compressed file.
    """
    return parse_idx(_read_bytes(path, max_bytes), str(path), max_bytes)


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


# An `ssl.SSLContext` for downloads (None: the system's default trust store); tests that start
# a local HTTPS server with a self-signed certificate set one that trusts it.
SSL_CONTEXT: Any = None


def verify_digest(raw: bytes, key: str, name: str) -> None:
    """Check downloaded bytes against the pinned SHA-256 for `key` ("mnist/<stem>"): the
    archive's digest where one is pinned, else the decompressed file's.  ValueError otherwise,
    and when nothing is pinned for `key` (an unverifiable download is refused)."""
    if key in ARCHIVE_SHA256:
        expected, actual, what = ARCHIVE_SHA256[key], hashlib.sha256(raw).hexdigest(), "archive"
    elif key in SHA256:
        data = _gunzip_limited(raw, name) if raw[:2] == GZIP_MAGIC else raw
        expected, actual, what = SHA256[key], hashlib.sha256(data).hexdigest(), "decompressed file"
    else:
        raise ValueError(f"{name}: no pinned SHA-256 for {key}; refusing an unverified download")
    if actual != expected:
        raise ValueError(f"{name}: SHA-256 of the {what} is {actual}, expected {expected}")


def _download(url: str, limit: int) -> bytes:
    """GET `url` over HTTPS, refusing other schemes and bodies over `limit` bytes."""
    if not url.startswith("https://"):
        raise ValueError(f"refusing {url}: datasets are downloaded over HTTPS only")
    with urllib.request.urlopen(url, timeout=30, context=SSL_CONTEXT) as response:
        body = response.read(limit + 1)
    if len(body) > limit:
        raise ValueError(f"{url} sends more than {limit} bytes")
    return body


def _fetch(stem: str, folder: Path, mirrors: list[str], key: str) -> list:
    """Download `stem.gz` into `folder` from the first HTTPS mirror whose bytes match the
    pinned digest; written atomically.  Returns the failures (one per mirror); [] on success."""
    errors = []
    folder.mkdir(parents=True, exist_ok=True)
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + stem + ".gz"
        try:
            raw = _download(url, MAX_IDX_BYTES)
            verify_digest(raw, key, url)
            atomic_write(folder / f"{stem}.gz", raw)
            return []
        except (OSError, ValueError, EOFError) as exc:
            errors.append(f"{url}: {exc}")
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
        self._md5 = dict(md5 or {})  # overrides; the built-in check is the pinned SHA-256
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
                key = f"{self.folder}/{stem}"
                errors += _fetch(stem, self.root / self.folder, MIRRORS[self.folder], key)
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
        """Raise ValueError when the decompressed bytes differ from the known digest: a
        user's `md5=` override for this file, else the pinned SHA-256 (MNIST)."""
        if not self.verify:
            return
        name = type(self).__name__
        if stem in self._md5:
            expected, actual, kind = self._md5[stem].lower(), _md5(buf), "MD5"
        elif f"{self.folder}/{stem}" in SHA256:
            expected, kind = SHA256[f"{self.folder}/{stem}"], "SHA-256"
            actual = hashlib.sha256(buf).hexdigest()
        else:
            return
        if actual != expected:
            raise ValueError(
                f"{name}: {kind} of decompressed {stem} ({where}) is {actual}, expected "
                f"{expected}; the file is corrupt or not the official one (verify=False skips "
                "this check)"
            )

    def _load(self, path: Path, stem: str) -> np.ndarray:
        """Read, verify and decode one IDX file."""
        buf = _read_bytes(path, MAX_DATASET_BYTES)
        self._verify(buf, stem, str(path))
        return parse_idx(buf, str(path), MAX_DATASET_BYTES)

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
    decompressed content is checked against pinned SHA-256 digests (of the files whose
    MD5s LeCun publishes, kept in `md5s`) unless `verify=False`.
    `md5={"train-images-idx3-ubyte": ...}` checks that file's MD5 instead.
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

    Local files are verified by structure (shapes, dtype, label range); downloads are
    checked against the pinned SHA-256 of Zalando's archives.  Pass `md5={stem: digest}`
    to check a local file's decompressed content.
    """

    folder = "fashion-mnist"
    md5s: ClassVar[dict[str, str]] = {}
    classes: ClassVar[list[str]] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
