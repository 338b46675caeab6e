"""Checkpoints: safetensors tensors, JSON state, a SHA-256 manifest, published atomically.

A checkpoint is a folder of five files:

- `model.safetensors`: the model's `state_dict()` (parameters and buffers);
- `optimizer.safetensors`: every array of the optimizer's state (moments, ...);
- `state.safetensors`: arrays of everything else (scheduler, callbacks, extra);
- `state.json`: epoch, step, config, RNG states, loader state, history, and the
  nested structure of the optimizer, scheduler and callback states, arrays
  replaced by references into the safetensors files;
- `manifest.json`: size and SHA-256 of each file above, written last.

No pickle anywhere: loading parses safetensors and JSON only, so a file runs
no code, and `load_checkpoint` verifies every digest before it parses anything.

Atomic publication.  `save_checkpoint("run/ckpt/last", ...)` writes the files
into a fresh hidden sibling `run/ckpt/.last.ckpt-<token>/`, fsyncs each file and
the folder, then points the symlink `run/ckpt/last` at it by `os.replace`-ing a
new symlink over the old one (one atomic rename), fsyncs the parent and only
then deletes the previous snapshot.  A process killed at any moment leaves
`last` naming either the old or the new complete checkpoint; orphaned
snapshots of a killed write are removed by the next save.  Where symlinks are
unavailable the folder itself is renamed into place (the old one moved aside
first), which leaves a short window without `last`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.core.random import get_rng_state, set_rng_state
from deepgrad.fileio import _fsync_dir, _write_file, read_nofollow

from .state_codec import CheckpointError, _decode, _encode, _model_arrays

FORMAT, VERSION = "deepgrad.checkpoint", 1
PARTS = {
    "model.safetensors": "model weights",
    "optimizer.safetensors": "optimizer arrays",
    "state.safetensors": "scheduler/callback arrays",
    "state.json": "training state",
}
MANIFEST = "manifest.json"
_SNAPSHOT = ".ckpt-"


def _safetensors():
    try:
        import safetensors.numpy as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("checkpoints need safetensors: pip install 'deepgrad[io]'") from exc
    return st


# -- file writing ------------------------------------------------------------------------


# -- RNG --------------------------------------------------------------------------------


def capture_rng(generator: np.random.Generator | None = None) -> dict[str, Any]:
    """Bit-generator states of deepgrad's default generator and of `generator` (JSON-safe)."""
    state = {"default": get_rng_state()}
    if generator is not None:
        state["generator"] = generator.bit_generator.state
    return state


def restore_rng(state: dict[str, Any], generator: np.random.Generator | None = None) -> None:
    """Restore the states saved by `capture_rng` (the run generator only when both exist)."""
    if state.get("default") is not None:
        set_rng_state(state["default"])
    if generator is not None and state.get("generator") is not None:
        generator.bit_generator.state = state["generator"]


# -- saving -----------------------------------------------------------------------------


def _serialise(model, optimizer, scheduler, meta: dict[str, Any]) -> dict[str, bytes]:
    """Every file of a checkpoint as bytes, the manifest last."""
    st = _safetensors()
    opt_arrays: dict[str, np.ndarray] = {}
    other: dict[str, np.ndarray] = {}
    state = {"format": FORMAT, "version": VERSION, "model_class": type(model).__name__}
    state["optimizer"] = (
        None if optimizer is None else _encode(optimizer.state_dict(), opt_arrays, "optimizer")
    )
    state["scheduler"] = (
        None if scheduler is None else _encode(scheduler.state_dict(), other, "scheduler")
    )
    for key, value in meta.items():
        state[key] = _encode(value, other, key)
    files = {
        "model.safetensors": st.save(_model_arrays(model)),
        "optimizer.safetensors": st.save(opt_arrays),
        "state.safetensors": st.save(other),
        "state.json": json.dumps(state, indent=1, allow_nan=True).encode(),
    }
    entries = {
        name: {"part": PARTS[name], "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in files.items()
    }
    manifest = {"format": FORMAT, "version": VERSION, "files": entries}
    files[MANIFEST] = json.dumps(manifest, indent=1).encode()
    return files


def _refuse_non_checkpoint(path: Path) -> None:
    """Raise unless `path` is absent, a symlink, or a plain folder holding only checkpoint files.

    Replacing `path` deletes what was there, so a run folder or any other file is never
    taken for an old checkpoint.
    """
    if path.is_symlink() or not path.exists():
        return
    allowed = {*PARTS, MANIFEST}
    if path.is_dir() and set(os.listdir(path)) <= allowed:
        return
    raise CheckpointError(
        f"save_checkpoint: {path} exists and is not a checkpoint; refusing to replace it "
        f"(save to e.g. {path / 'last'} instead)"
    )


def _move_aside(link: Path) -> None:
    """Rename `link` to a hidden snapshot name so the next save's collection deletes it."""
    os.rename(link, link.parent / f".{link.name}{_SNAPSHOT}aside-{secrets.token_hex(4)}")


def _point_link(link: Path, target_name: str) -> str | None:
    """Atomically make `link` a symlink to `target_name`; return the previous target."""
    parent = link.parent
    old = os.readlink(link) if link.is_symlink() else None
    _refuse_non_checkpoint(link)
    if link.exists() and not link.is_symlink():
        _move_aside(link)  # a plain folder (copied, or from an older layout)
    tmp = parent / f".{link.name}.link-{secrets.token_hex(4)}"
    try:
        os.symlink(target_name, tmp, target_is_directory=True)
    except OSError:  # no symlinks here: rename the folder into place instead
        if link.exists():
            _move_aside(link)
        os.rename(parent / target_name, link)
        return old
    os.replace(tmp, link)
    return old


def _collect(parent: Path, name: str, current: str | None, keep: int = 1) -> None:
    """Delete snapshots of `name` beyond the newest `keep` (with `current`), e.g. killed writes."""
    prefix = f".{name}{_SNAPSHOT}"
    snapshots = sorted(
        (e for e in parent.iterdir() if e.name.startswith(prefix) and e.name != current),
        key=lambda e: e.name[len(prefix) :],  # the zero-padded step, then a random token
        reverse=True,
    )
    others = max(0, keep - 1) if current is not None else 0
    for entry in snapshots[others:]:
        shutil.rmtree(entry, ignore_errors=True)
    for entry in parent.iterdir():
        if entry.name.startswith(f".{name}.link-"):
            entry.unlink(missing_ok=True)


def save_checkpoint(
    dirpath: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    epoch: int = 0,
    step: int = 0,
    config: dict[str, Any] | None = None,
    rng: dict[str, Any] | None = None,
    extra: Any = None,
    loader_state: dict[str, Any] | None = None,
    callbacks_state: Any = None,
    history: list[dict[str, Any]] | None = None,
    keep: int = 1,
) -> Path:
    """Write a checkpoint at `dirpath` atomically (see the module docstring); return the snapshot.

    `rng` defaults to `capture_rng()` (the default generator's state).  Nothing is
    left behind when the write fails: the error names the folder.  `keep` snapshots
    stay on disk (`dirpath` points at the newest; the older ones are hidden siblings).
    """
    dirpath = Path(dirpath)
    meta = {
        "epoch": int(epoch), "step": int(step), "config": config,
        "rng": capture_rng() if rng is None else rng, "loader": loader_state,
        "callbacks": callbacks_state, "history": history, "extra": extra,
    }  # fmt: skip
    files = _serialise(model, optimizer, scheduler, meta)
    _refuse_non_checkpoint(dirpath)
    parent, token = dirpath.parent, secrets.token_hex(6)
    # step, then the clock: snapshots sort in the order they were written (see `_collect`)
    snapshot = parent / f".{dirpath.name}{_SNAPSHOT}{int(step):09d}-{time.time_ns():019d}-{token}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        snapshot.mkdir()
    except OSError as exc:
        raise CheckpointError(
            f"save_checkpoint: cannot write to {parent}: {exc.strerror or exc}"
        ) from exc
    try:
        for name, data in files.items():
            _write_file(snapshot / name, data)
        _fsync_dir(snapshot)
        _point_link(dirpath, snapshot.name)
        _fsync_dir(parent)
    except BaseException as exc:
        shutil.rmtree(snapshot, ignore_errors=True)
        if isinstance(exc, OSError):
            raise CheckpointError(f"save_checkpoint: writing {dirpath} failed: {exc}") from exc
        raise
    _collect(parent, dirpath.name, snapshot.name if dirpath.is_symlink() else None, keep)
    return snapshot


# -- loading ----------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """A verified, parsed checkpoint: tensors as ndarrays, states decoded."""

    path: Path
    model: dict[str, np.ndarray]
    optimizer: Any = None
    scheduler: Any = None
    epoch: int = 0
    step: int = 0
    config: Any = None
    rng: dict[str, Any] = field(default_factory=dict)
    loader_state: Any = None
    callbacks_state: Any = None
    history: Any = None
    extra: Any = None


MAX_MANIFEST_BYTES = 1 << 20  # a manifest names five files: a few hundred bytes
MAX_PART_BYTES = 1 << 34  # 16 GiB: no part is read past this, whatever its manifest says


def _own_link(link: Path) -> Path:
    """The snapshot a checkpoint link of deepgrad's own names, without following any other link.

    `last` is the only symbolic link deepgrad makes (see the module docstring): it must
    name a hidden sibling snapshot of the same name (`.last.ckpt-...`), a plain folder.
    """
    target = os.readlink(link)
    prefix = f".{link.name}{_SNAPSHOT}"
    snapshot = link.parent / target
    if "/" in target or "\\" in target or not target.startswith(prefix):
        raise CheckpointError(f"checkpoint {link}: a symbolic link to {target!r}, not to one of "
                              "its own snapshots; deepgrad does not follow it")  # fmt: skip
    if os.path.islink(snapshot) or not snapshot.is_dir():
        raise CheckpointError(f"checkpoint {link}: its snapshot {target} is not a plain folder")
    return snapshot


def _real(path: Path) -> Path:
    """`path` itself, or the snapshot when it is a checkpoint link (nothing else followed)."""
    return _own_link(path) if os.path.islink(path) else path


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """`path` when it holds a manifest, else `path/last`; FileNotFoundError naming both.

    The returned folder is real (no link in its last component); a link other than a
    checkpoint's own `last` is refused.
    """
    path = _real(Path(path))
    for candidate in (path, path / "last"):
        if os.path.lexists(candidate / MANIFEST) or os.path.islink(candidate):
            candidate = _real(candidate)
            if os.path.lexists(candidate / MANIFEST):
                return candidate
    if path.is_dir() and not (path / MANIFEST).exists() and any(path.glob("*.safetensors")):
        raise CheckpointError(f"checkpoint {path}: no {MANIFEST}, so not a complete checkpoint")
    raise FileNotFoundError(
        f"no checkpoint at {path} (looked for {path / MANIFEST} and {path / 'last' / MANIFEST})"
    )


def _manifest(path: Path) -> dict[str, Any]:
    """The manifest's file table, after its size, format and version are checked."""
    try:
        manifest = json.loads(read_nofollow(path / MANIFEST, MAX_MANIFEST_BYTES))
        entries = manifest["files"]
        assert manifest.get("format") == FORMAT and isinstance(entries, dict)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {path}: {MANIFEST}: {exc}") from exc
    except (ValueError, KeyError, TypeError, AssertionError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: {MANIFEST} is not a deepgrad manifest ({type(exc).__name__})"
        ) from exc
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"checkpoint {path}: manifest version {manifest.get('version')!r} "
                              f"is not one this deepgrad reads ({VERSION})")  # fmt: skip
    unknown = sorted(set(entries) - set(PARTS))
    if unknown:
        raise CheckpointError(f"checkpoint {path}: the manifest lists unknown files {unknown}")
    missing = sorted(set(PARTS) - set(entries))
    if missing:
        raise CheckpointError(f"checkpoint {path}: the manifest lists no {missing}")
    for name, entry in entries.items():
        size = entry.get("bytes") if isinstance(entry, dict) else None
        digest = entry.get("sha256") if isinstance(entry, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_PART_BYTES:
            raise CheckpointError(f"checkpoint {path}: the manifest gives {name} a size of "
                                  f"{size!r} bytes (limit {MAX_PART_BYTES})")  # fmt: skip
        if not isinstance(digest, str) or len(digest) != 64:
            raise CheckpointError(f"checkpoint {path}: the manifest's SHA-256 of {name} is invalid")
    return entries


def _read_verified(path: Path) -> dict[str, bytes]:
    """Every file named by the manifest, after checking its size (before reading) and SHA-256."""
    entries = _manifest(path)
    present = {e.name for e in path.iterdir()}
    if extra := sorted(present - set(PARTS) - {MANIFEST}):
        raise CheckpointError(f"checkpoint {path}: files not in the manifest: {extra}")
    files = {}
    for name, part in PARTS.items():
        entry, target = entries[name], path / name
        if not os.path.lexists(target):
            raise CheckpointError(f"checkpoint {path}: {name} ({part}) is missing")
        try:
            data = read_nofollow(target, MAX_PART_BYTES, expected=entry["bytes"])
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise CheckpointError(f"checkpoint {path}: {name} ({part}): {why}; nothing was "
                                  "loaded") from exc  # fmt: skip
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise CheckpointError(
                f"checkpoint {path}: {name} ({part}) fails its SHA-256 check (corrupted: "
                f"{len(data)} bytes); nothing was loaded"
            )
        files[name] = data
    return files


def _parse_safetensors(name: str, data: bytes, path: Path) -> dict[str, np.ndarray]:
    """Parse safetensors bytes, refusing anything else (a pickle is never unpickled)."""
    size = int.from_bytes(data[:8], "little") if len(data) >= 8 else -1
    if not 0 < size <= len(data) - 8 or data[8:9] != b"{":
        kind = "a pickle" if data[:1] == b"\x80" or data[:2] == b"PK" else "not safetensors"
        raise CheckpointError(
            f"checkpoint {path}: {name} ({PARTS[name]}) is {kind}; deepgrad loads safetensors "
            "only and never unpickles"
        )
    try:
        return _safetensors().load(data)
    except Exception as exc:  # any parse failure means a bad file
        raise CheckpointError(
            f"checkpoint {path}: {name} ({PARTS[name]}) is unreadable: {exc}"
        ) from exc


def read_checkpoint(dirpath: str | os.PathLike) -> Checkpoint:
    """Verify every SHA-256, then parse a checkpoint without touching any model."""
    path = resolve_checkpoint(dirpath)
    files = _read_verified(path)
    arrays = {n: _parse_safetensors(n, files[n], path) for n in PARTS if n.endswith(".safetensors")}
    try:
        state = json.loads(files["state.json"])
        assert isinstance(state, dict) and state.get("format") == FORMAT
        assert state.get("version") == VERSION
    except (ValueError, AssertionError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: state.json (training state) is not deepgrad JSON version {VERSION}"
        ) from exc
    try:
        return _decoded(path, state, arrays)
    except (RecursionError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(
            f"checkpoint {path}: state.json (training state) has an invalid structure "
            f"({type(exc).__name__})"
        ) from exc


def _counter(path: Path, state: dict[str, Any], key: str) -> int:
    value = state.get(key, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"checkpoint {path}: {key} must be an integer >= 0, got {value!r}")
    return value


def _decoded(path: Path, state: dict[str, Any], arrays: dict[str, Any]) -> Checkpoint:
    other = arrays["state.safetensors"]
    return Checkpoint(
        path=path,
        model=arrays["model.safetensors"],
        optimizer=_decode(state.get("optimizer"), arrays["optimizer.safetensors"], "optimizer"),
        scheduler=_decode(state.get("scheduler"), other, "scheduler"),
        epoch=_counter(path, state, "epoch"),
        step=_counter(path, state, "step"),
        config=_decode(state.get("config"), other, "config"),
        rng=state.get("rng") or {},
        loader_state=_decode(state.get("loader"), other, "loader"),
        callbacks_state=_decode(state.get("callbacks"), other, "callbacks"),
        history=_decode(state.get("history"), other, "history"),
        extra=_decode(state.get("extra"), other, "extra"),
    )


def check_model_match(ckpt: Checkpoint, model: Any, strict: bool = True) -> None:
    """Raise CheckpointError naming every missing, unexpected and mis-shaped tensor."""
    own = {k: tuple(v.shape) for k, v in _model_arrays(model).items()}
    saved = {k: tuple(v.shape) for k, v in ckpt.model.items()}
    problems = []
    if strict:
        if missing := sorted(set(own) - set(saved)):
            problems.append(f"missing from the checkpoint: {missing}")
        if unexpected := sorted(set(saved) - set(own)):
            problems.append(f"not in the model: {unexpected}")
    shapes = [
        f"{k} checkpoint {saved[k]} vs model {own[k]}"
        for k in own
        if k in saved and saved[k] != own[k]
    ]
    if shapes:
        problems.append("shape mismatch: " + "; ".join(shapes))
    if problems:
        raise CheckpointError(
            f"checkpoint {ckpt.path} does not fit this {type(model).__name__}: "
            + ". ".join(problems)
            + ". Nothing was loaded."
        )


def _restore(ckpt: Checkpoint, model: Any, optimizer: Any, scheduler: Any, strict: bool) -> None:
    """Load into model, optimizer and scheduler; on any failure put all three back."""
    # copies: a module's state_dict may hand out views of its live arrays
    backups = [(model, {k: v.copy() for k, v in _model_arrays(model).items()})]
    backups += [
        (obj, copy.deepcopy(obj.state_dict())) for obj in (optimizer, scheduler) if obj is not None
    ]
    try:
        own = model.state_dict()
        weights = {k: v for k, v in ckpt.model.items() if k in own}
        model.load_state_dict(weights, strict=strict)
        if optimizer is not None:
            if ckpt.optimizer is None:
                raise CheckpointError(f"checkpoint {ckpt.path} holds no optimizer state")
            optimizer.load_state_dict(ckpt.optimizer)
        if scheduler is not None:
            if ckpt.scheduler is None:
                raise CheckpointError(f"checkpoint {ckpt.path} holds no scheduler state")
            scheduler.load_state_dict(ckpt.scheduler)
    except Exception as exc:
        for obj, state in backups:
            obj.load_state_dict(state)
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(
            f"checkpoint {ckpt.path}: restoring failed, nothing loaded: {exc}"
        ) from exc


def load_checkpoint(
    dirpath: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    strict: bool = True,
) -> Checkpoint:
    """Verify, check against `model`, then restore model/optimizer/scheduler; all or nothing.

    Order: every SHA-256 (a corrupted or truncated file -> CheckpointError naming
    the file and its part), every tensor name and shape (a different model ->
    CheckpointError naming the tensors), then the loads, rolled back on failure.
    RNG, loader and callback states are returned in the `Checkpoint`, not applied.
    """
    ckpt = read_checkpoint(dirpath)
    check_model_match(ckpt, model, strict)
    _restore(ckpt, model, optimizer, scheduler, strict)
    return ckpt
