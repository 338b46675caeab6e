"""Writing files safely: every write goes to a temporary file in the same folder, is
fsynced, then renamed into place, so a reader (or a crash) never sees half a file.

Used by the IDX writer, checkpoints, logs, run folders and plots alike.
"""

from __future__ import annotations

import os
import secrets
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


def _write_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` and fsync it."""
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `path` through a temporary file in the same folder, fsync, then `os.replace`."""
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = path.parent / f".{path.name}.tmp-{secrets.token_hex(4)}"
    try:
        _write_file(tmp, payload)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {exc.strerror or exc}") from exc
    _fsync_dir(path.parent)
