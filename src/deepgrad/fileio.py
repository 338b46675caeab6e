"""Files in run folders, safely: atomic writes, and no symbolic link followed.

Every write goes to a temporary file in the same folder (created with O_EXCL and
O_NOFOLLOW under a random name), is fsynced, then renamed into place, so a reader
(or a crash) never sees half a file.  A run folder is untrusted input: a file in
it that is a symbolic link is refused for reading and writing (`open_nofollow`,
`read_nofollow`, `atomic_write`), so a planted link cannot make deepgrad read or
truncate a file elsewhere.  Reads check the size before reading the payload.

Used by the IDX writer, checkpoints, logs, run folders and plots alike.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


def _fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new names, renames) to disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class SymlinkError(OSError):
    """A file deepgrad was asked to read or write is a symbolic link (refused)."""


def _refuse_link(path: Path, verb: str) -> None:
    if os.path.islink(path):
        raise SymlinkError(f"refusing to {verb} {path}: it is a symbolic link (deepgrad never "
                           "follows links in run folders)")  # fmt: skip


def open_nofollow(path: str | os.PathLike, flags: int, mode: int = 0o644) -> int:
    """`os.open` that refuses a symbolic link at `path` (O_NOFOLLOW where the OS has it)."""
    path = Path(path)
    _refuse_link(path, "open")
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as exc:
        if os.path.islink(path):  # planted between the check and the open
            raise SymlinkError(f"refusing to open {path}: it is a symbolic link") from exc
        raise


def read_nofollow(path: str | os.PathLike, max_bytes: int, expected: int | None = None) -> bytes:
    """The bytes of the regular file `path`, refusing links, and sizes above `max_bytes` or
    other than `expected` (checked with fstat before anything is read)."""
    path = Path(path)
    fd = open_nofollow(path, os.O_RDONLY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"cannot read {path}: not a regular file")
        if expected is not None and info.st_size != expected:
            raise OSError(f"{path} is {info.st_size} bytes, expected {expected}")
        if info.st_size > max_bytes:
            raise OSError(f"{path} is {info.st_size} bytes, over the limit of {max_bytes}")
        chunks, left = [], info.st_size
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_file(path: Path, data: bytes) -> None:
    """Create `path` (which must not exist: O_EXCL, no link followed), write `data`, fsync."""
    fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `path` through a temporary file in the same folder, fsync, then `os.replace`.

    A symbolic link at `path` is refused (SymlinkError), never written through or replaced.
    """
    path = Path(path)
    _refuse_link(path, "write")
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(4)}"
    try:
        _write_file(tmp, payload)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from exc
    _fsync_dir(path.parent)
