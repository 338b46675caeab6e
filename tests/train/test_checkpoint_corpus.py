"""A corpus of corrupted run folders, generated here: each `deepgrad train --resume` on one must
be refused with one line and exit status 2, and leave every file in the folder as it was.

Cases: truncated and byte-flipped files (the digests catch them); re-signed manifests (the
digests match, so the state checks must catch them) with wrong weight dtypes and shapes,
invalid optimizer, scheduler, loader, logger, generator and loop values; oversized and
malformed safetensors headers; manifests with unknown versions, sizes and files; symlinks.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from deepgrad.cli import main

st = pytest.importorskip("safetensors.numpy", reason="checkpoints are safetensors files")

# NOTE: `make test` runs slow tests too; the long fault-injection runs are opt-in so the
# default suite stays in budget (it runs a sample of the same cases)
FULL_ONLY = pytest.mark.skipif(
    not os.environ.get("DEEPGRAD_FAULTS_FULL"),
    reason="the long fault-injection run: set DEEPGRAD_FAULTS_FULL=1",
)
PARTS = ["model.safetensors", "optimizer.safetensors", "state.safetensors", "state.json"]
FILES = [*PARTS, "manifest.json"]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A finished 3-epoch spiral run (its checkpoint at epoch 3)."""
    run = tmp_path_factory.mktemp("corpus") / "run"
    assert main(["train", "spiral", "--quick", "--epochs", "3", "--out", str(run), "-q"]) == 0
    return run


def folder_digest(root: Path) -> dict[str, str]:
    """Every entry under `root` (links not followed): its kind and content or target."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[rel] = "dir"
    return out


def snapshot_of(run: Path) -> Path:
    return run / "checkpoint" / os.readlink(run / "checkpoint" / "last")


def resign(run: Path, name: str, data: bytes) -> None:
    """Replace one part and re-sign the manifest, as someone editing the folder would."""
    ck = snapshot_of(run)
    (ck / name).write_bytes(data)
    manifest = json.loads((ck / "manifest.json").read_text())
    manifest["files"][name].update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (ck / "manifest.json").write_text(json.dumps(manifest))


def edit_state(fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(run: Path) -> None:
        state = json.loads((snapshot_of(run) / "state.json").read_text())
        fn(state)
        resign(run, "state.json", json.dumps(state).encode())

    return mutate


def edit_arrays(part: str, fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(run: Path) -> None:
        arrays = dict(st.load((snapshot_of(run) / part).read_bytes()))
        fn(arrays)
        resign(run, part, st.save(arrays))

    return mutate


def edit_manifest(fn: Callable[[dict], None]) -> Callable[[Path], None]:
    def mutate(run: Path) -> None:
        path = snapshot_of(run) / "manifest.json"
        manifest = json.loads(path.read_text())
        fn(manifest)
        path.write_text(json.dumps(manifest))

    return mutate


def truncate(name: str, where: Callable[[int], int]) -> Callable[[Path], None]:
    def mutate(run: Path) -> None:
        path = snapshot_of(run) / name
        data = path.read_bytes()
        path.write_bytes(data[: where(len(data))])

    return mutate


def flip(name: str, seed: int) -> Callable[[Path], None]:
    def mutate(run: Path) -> None:
        path = snapshot_of(run) / name
        data = bytearray(path.read_bytes())
        i = random.Random(seed).randrange(len(data))
        data[i] ^= 1 << random.Random(seed + 1).randrange(8)
        path.write_bytes(bytes(data))

    return mutate


def raw_header(part: str, fn: Callable[[bytes, bytes], bytes]) -> Callable[[Path], None]:
    """Rewrite a safetensors file from its (header, payload) and re-sign it."""

    def mutate(run: Path) -> None:
        data = (snapshot_of(run) / part).read_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        resign(run, part, fn(data[8 : 8 + n], data[8 + n :]))

    return mutate


def _set(path: str, value) -> Callable[[dict], None]:
    """Set a value by a dotted (or, around file names, slashed) path; numbers index lists."""

    def fn(state: dict) -> None:
        *parents, last = path.split("/" if "/" in path else ".")
        node = state
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        elif value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return fn


_DELETE = object()


def _weight_cases() -> list[tuple[str, Callable[[Path], None]]]:
    names = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    cases = []
    for name in names:
        for dtype in ("float64", "float16", "int32"):

            def cast(a, name=name, dtype=dtype):
                a[name] = a[name].astype(dtype)

            cases.append((f"weight {name} as {dtype}", edit_arrays("model.safetensors", cast)))

        def reshape(a, name=name):
            a[name] = np.concatenate([a[name], a[name][:1]])

        cases.append((f"weight {name} one row more", edit_arrays("model.safetensors", reshape)))
    return cases


def _optimizer_cases() -> list[tuple[str, Callable[[Path], None]]]:
    cases = []
    for i in range(6):
        sq, avg = (
            f"{2 * i + 1}:optimizer/state/{i}/exp_avg_sq",
            f"{2 * i}:optimizer/state/{i}/exp_avg",
        )
        changes = {
            "negative second moment": lambda a, k=sq: a.__setitem__(k, -1 - a[k]),
            "NaN first moment": lambda a, k=avg: a.__setitem__(k, a[k] * np.nan),
            "float64 first moment": lambda a, k=avg: a.__setitem__(k, a[k].astype("float64")),
            "moment one row short": lambda a, k=avg: a.__setitem__(k, a[k][:-1]),
        }  # fmt: skip
        cases += [(f"optimizer param {i}: {what}", edit_arrays("optimizer.safetensors", fn))
                  for what, fn in changes.items()]  # fmt: skip
    return cases


BAD_STATE = {
    "lr negative": ("optimizer.param_groups.0.lr", -0.1), "lr string": ("optimizer.param_groups.0.lr", "x"),
    "lr null": ("optimizer.param_groups.0.lr", None), "lr bool": ("optimizer.param_groups.0.lr", True),
    "lr inf": ("optimizer.param_groups.0.lr", float("inf")), "lr nan": ("optimizer.param_groups.0.lr", float("nan")),
    "eps string": ("optimizer.param_groups.0.eps", "x"), "amsgrad number": ("optimizer.param_groups.0.amsgrad", 3),
    "betas short": ("optimizer.param_groups.0.betas", {"__tuple__": [0.9]}),
    "params fewer": ("optimizer.param_groups.0.params", [0, 1, 2]),
    "params unknown index": ("optimizer.param_groups.0.params", [0, 1, 2, 3, 4, 99]),
    "params negative index": ("optimizer.param_groups.0.params", [0, 1, 2, 3, 4, -5]),
    "params string": ("optimizer.param_groups.0.params", "all"),
    "no groups": ("optimizer.param_groups", []), "optimizer null": ("optimizer", None),
    "optimizer list": ("optimizer", [1, 2]),
    "opt step negative": ("optimizer.state.__dict__.0.1.step", -1),
    "opt step float": ("optimizer.state.__dict__.0.1.step", 1.5),
    "opt step string": ("optimizer.state.__dict__.0.1.step", "3"),
    "opt step bool": ("optimizer.state.__dict__.0.1.step", True),
    "opt unknown param": ("optimizer.state.__dict__.0.0", 99),
    "opt state not table": ("optimizer.state.__dict__.0.1", [1]),
    "sched last_epoch string": ("scheduler.last_epoch", "x"), "sched last_epoch float": ("scheduler.last_epoch", 1.5),
    "sched last_epoch null": ("scheduler.last_epoch", None), "sched T_max missing": ("scheduler.T_max", _DELETE),
    "sched extra key": ("scheduler.evil", 1), "sched base_lrs long": ("scheduler.base_lrs", [0.1, 0.2]),
    "sched last_lr string": ("scheduler._last_lr", ["x"]), "sched null": ("scheduler", None),
    "epoch negative": ("epoch", -1), "epoch float": ("epoch", 1.5), "epoch string": ("epoch", "3"),
    "step negative": ("step", -1), "step bool": ("step", True),
    "batch_in_epoch negative": ("extra.trainer.batch_in_epoch", -1),
    "batch_in_epoch past the epoch": ("extra.trainer.batch_in_epoch", 99),
    "stop_kind unknown": ("extra.trainer.stop_kind", "weird"),
    "epoch_time string": ("extra.trainer.epoch_time", "x"), "epoch_time nan": ("extra.trainer.epoch_time", float("nan")),
    "loss_mean string": ("extra.trainer.loss_mean", "x"), "loss_mean empty": ("extra.trainer.loss_mean", {}),
    "loop not table": ("extra.trainer", [1]), "extra not table": ("extra", "x"),
    "loader seed negative": ("loader.train.seed", -1), "loader seed string": ("loader.train.seed", "x"),
    "loader seed huge": ("loader.train.seed", 2**80), "loader epoch negative": ("loader.val.epoch", -1),
    "loader not table": ("loader.train", [0]),
    "log offset negative": ("callbacks.0.state.offset", -1), "log offset past the file": ("callbacks.0.state.offset", 10**9),
    "log offset string": ("callbacks.0.state.offset", "x"), "log offset float": ("callbacks.0.state.offset", 1.5),
    "csv offset past the file": ("callbacks.1.state.offset", 10**9),
    "callback swapped": ("callbacks.0.class", "CSVLogger"), "callback state list": ("callbacks.0.state", [1]),
    "doctor state bogus": ("callbacks.2.state.before", [{"bogus": 1}]), "callbacks string": ("callbacks", "x"),
    "rng other bit generator": ("rng.default.bit_generator", "MT19937"),
    "rng state missing inc": ("rng.default.state.inc", _DELETE), "rng state string": ("rng.generator.state.state", "x"),
    "rng unknown generator": ("rng.other", {"bit_generator": "PCG64"}), "rng not table": ("rng", "x"),
    "history string": ("history", "x"), "history numbers": ("history", [1, 2]),
    "format other": ("format", "other"), "version 2": ("version", 2), "version string": ("version", "1"),
    "config changed": ("config.hidden", 32),
}  # fmt: skip


def _state_cases() -> list[tuple[str, Callable[[Path], None]]]:
    cases = [(f"state: {name}", edit_state(_set(*how))) for name, how in BAD_STATE.items()]

    def callbacks_dropped(state: dict) -> None:
        state["callbacks"] = state["callbacks"][:2]

    def deep(run: Path) -> None:
        resign(run, "state.json", b"[" * 200_000 + b"]" * 200_000)

    def top_list(run: Path) -> None:
        resign(run, "state.json", b"[1, 2, 3]")

    cases += [("state: a callback dropped", edit_state(callbacks_dropped)),
              ("state: nested 200000 deep", deep), ("state: a list", top_list)]  # fmt: skip
    return cases


def _manifest_cases() -> list[tuple[str, Callable[[Path], None]]]:
    def big(run: Path) -> None:
        path = snapshot_of(run) / "manifest.json"
        path.write_bytes(path.read_bytes() + b" " * (2 << 20))

    def extra_file(run: Path) -> None:
        (snapshot_of(run) / "extra.bin").write_bytes(b"x")

    changes = {
        "version 2": _set("version", 2), "no version": _set("version", _DELETE),
        "format other": _set("format", "other"), "files list": _set("files", []),
        "a part missing": _set("files/state.json", _DELETE),
        "unknown file listed": _set("files/evil.py", {"bytes": 1, "sha256": "0" * 64}),
        "size negative": _set("files/model.safetensors/bytes", -1),
        "size oversized": _set("files/model.safetensors/bytes", 10**15),
        "size string": _set("files/state.json/bytes", "12"),
        "size off by one": lambda m: m["files"]["state.json"].update(bytes=m["files"]["state.json"]["bytes"] + 1),
        "sha256 short": _set("files/state.json/sha256", "abc"),
        "sha256 of other bytes": _set("files/state.json/sha256", "0" * 64),
    }  # fmt: skip
    cases = [(f"manifest: {name}", edit_manifest(fn)) for name, fn in changes.items()]
    cases += [("manifest: 2 MiB", big), ("a file not in the manifest", extra_file)]
    return cases


def _header_cases() -> list[tuple[str, Callable[[Path], None]]]:
    def oversized(h: bytes, p: bytes) -> bytes:
        return struct.pack("<Q", 1 << 40) + h + p

    def not_json(h: bytes, p: bytes) -> bytes:
        bad = b"{" + b"x" * (len(h) - 1)
        return struct.pack("<Q", len(bad)) + bad + p

    def first_tensor(h: bytes, key: str, value) -> bytes:
        header = json.loads(h)
        name = next(k for k in header if k != "__metadata__")  # the part holds tensors
        header[name][key] = value
        return json.dumps(header).encode()

    def bad_dtype(h: bytes, p: bytes) -> bytes:
        bad = first_tensor(h, "dtype", "Q99")
        return struct.pack("<Q", len(bad)) + bad + p

    def offsets_past(h: bytes, p: bytes) -> bytes:
        bad = first_tensor(h, "data_offsets", [999_999_999, 1_000_000_999])
        return struct.pack("<Q", len(bad)) + bad + p

    def pickle(h: bytes, p: bytes) -> bytes:
        return b"\x80\x04\x95" + b"\x00" * 64

    cases = []
    for part in PARTS[:3]:
        kinds = [oversized, not_json, pickle]
        if part != "state.safetensors":  # the spiral run keeps no arrays there
            kinds += [bad_dtype, offsets_past]
        cases += [(f"{part}: {fn.__name__} header", raw_header(part, fn)) for fn in kinds]
    return cases


def _link_cases(outside: Path) -> list[tuple[str, Callable[[Path], None]]]:
    def part_link(name: str) -> Callable[[Path], None]:
        def mutate(run: Path) -> None:
            path = snapshot_of(run) / name
            copy = outside / f"copy-{name}"
            shutil.copyfile(path, copy)  # the same bytes: only the link is wrong
            path.unlink()
            path.symlink_to(copy)

        return mutate

    def last_outside(run: Path) -> None:
        target = outside / "elsewhere"
        shutil.copytree(snapshot_of(run), target, dirs_exist_ok=True)
        (run / "checkpoint" / "last").unlink()
        (run / "checkpoint" / "last").symlink_to(target)

    def last_dotdot(run: Path) -> None:
        (run / "checkpoint" / "last").unlink()
        (run / "checkpoint" / "last").symlink_to("../../elsewhere")

    def snapshot_link(run: Path) -> None:
        snap = snapshot_of(run)
        moved = outside / "moved-snapshot"
        shutil.move(snap, moved)
        snap.symlink_to(moved)

    def config_link(run: Path) -> None:
        copy = outside / "config.json"
        shutil.copyfile(run / "config.json", copy)
        (run / "config.json").unlink()
        (run / "config.json").symlink_to(copy)

    def log_link(run: Path) -> None:
        (outside / "victim.txt").write_text("precious\n" * 1000)
        (run / "metrics.jsonl").unlink()
        (run / "metrics.jsonl").symlink_to(outside / "victim.txt")

    cases = [(f"link: {name} is a link", part_link(name)) for name in FILES]
    cases += [("link: last leaves the folder", last_outside), ("link: last is ../..", last_dotdot),
              ("link: the snapshot is a link", snapshot_link),
              ("link: config.json is a link", config_link),
              ("link: metrics.jsonl links to a victim", log_link)]  # fmt: skip
    return cases


def _byte_cases() -> list[tuple[str, Callable[[Path], None]]]:
    cuts = {"empty": lambda n: 0, "1 byte": lambda n: 1, "8 bytes": lambda n: 8,
            "a third": lambda n: n // 3, "half": lambda n: n // 2, "one short": lambda n: n - 1}  # fmt: skip
    cases = [
        (f"{name} truncated to {c}", truncate(name, fn)) for name in FILES for c, fn in cuts.items()
    ]
    cases += [(f"{name} byte flip {i}", flip(name, 100 * i + k))
              for k, name in enumerate(FILES) for i in range(12)]  # fmt: skip
    return cases


def all_cases(outside: Path) -> list[tuple[str, Callable[[Path], None]]]:
    return (_byte_cases() + _weight_cases() + _optimizer_cases() + _state_cases()
            + _manifest_cases() + _header_cases() + _link_cases(outside))  # fmt: skip


SAMPLE = 1 / 4  # the default run tries every fourth case; `-m slow` tries them all


def _run_cases(pristine: Path, tmp_path: Path, capsys, every: int) -> tuple[int, int]:
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = all_cases(outside)
    assert len(cases) >= 200
    tried = refused = 0
    for i, (name, mutate) in enumerate(cases):
        if i % every:
            continue
        run = tmp_path / f"case{i}"
        shutil.copytree(pristine, run, symlinks=True)
        mutate(run)
        before, outside_before = folder_digest(run), folder_digest(outside)
        assert before != folder_digest(pristine), f"{name}: the mutation changed nothing"
        status = main(["train", "--resume", str(run), "-q"])
        err = capsys.readouterr().err.strip().splitlines()
        tried += 1
        assert status == 2, f"{name}: exit status {status}, stderr {err}"
        assert len(err) == 1 and err[0].startswith("deepgrad: error:"), f"{name}: {err}"
        assert folder_digest(run) == before, f"{name}: the folder changed"
        assert folder_digest(outside) == outside_before, f"{name}: a file outside changed"
        refused += 1
        if os.environ.get("DEEPGRAD_CORPUS_LOG"):
            print(f"{name}: {err[0]}", file=sys.__stdout__)
        shutil.rmtree(run)
    return tried, refused


def test_a_sample_of_corrupted_checkpoints_is_refused(pristine, tmp_path, capsys):
    tried, refused = _run_cases(pristine, tmp_path, capsys, every=int(1 / SAMPLE))
    assert tried == refused >= 50


@pytest.mark.slow
@FULL_ONLY
def test_every_corrupted_checkpoint_is_refused(pristine, tmp_path, capsys):
    tried, refused = _run_cases(pristine, tmp_path, capsys, every=1)
    assert tried == refused >= 200


def test_the_pristine_folder_resumes(pristine, tmp_path, capsys):
    """The corpus's control: the unmodified copy is accepted (and so is every refusal a catch)."""
    run = tmp_path / "copy"
    shutil.copytree(pristine, run, symlinks=True)
    assert main(["train", "--resume", str(run), "--epochs", "4", "-q"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 4
