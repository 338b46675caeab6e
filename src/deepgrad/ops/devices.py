"""`deepgrad.device`, `deepgrad.cuda`, `deepgrad.backends` and `.cuda()`: the CPU only.

PyTorch programs name devices (`.to(device)`, `device=` on factories); deepgrad
accepts "cpu" everywhere and refuses "cuda"/"mps" with one line saying why, so a
program written for a GPU fails at the first line that asks for one.  The GPU-facing
names programs check (`cuda.is_available()`, `backends`) exist and report no GPU.
"""

from __future__ import annotations

from typing import Any


class _Flags:
    """A backend that is never available, with PyTorch's settable flags."""

    def __init__(self, **flags: Any) -> None:
        self.__dict__.update(flags)

    @staticmethod
    def is_available() -> bool:
        """False: deepgrad runs on the CPU only."""
        return False


class _Backends:
    """`deepgrad.backends`: `mps` and `cudnn` exist so device checks run, and report False."""

    def __init__(self) -> None:
        self.mps = _Flags()
        self.cudnn = _Flags(enabled=False, deterministic=False, benchmark=False)


backends = _Backends()


def refuse_cuda(where: str) -> None:
    """`.cuda()`: refused in one line (deepgrad has no GPU backend)."""
    raise RuntimeError(
        f"{where}: deepgrad runs on the CPU only (NumPy); remove .cuda() or use .to('cpu')"
    )


class device:
    """A device handle; only `device("cpu")` exists (`device("cpu", 0)` is accepted too)."""

    __slots__ = ("index", "type")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name = str(type)
        kind, _, num = name.partition(":")
        if kind != "cpu":
            raise RuntimeError(
                f"device: {name!r} is not available: deepgrad runs on the CPU only "
                "(NumPy); use device='cpu' or leave device= out"
            )
        self.type = "cpu"
        self.index = int(num) if num else index

    def __repr__(self) -> str:
        return (
            "device(type='cpu')"
            if self.index is None
            else f"device(type='cpu', index={self.index})"
        )

    def __str__(self) -> str:
        return "cpu" if self.index is None else f"cpu:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return other.partition(":")[0] == "cpu"
        return isinstance(other, device) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)


CPU = device("cpu")


def check_device(dev: Any, where: str) -> None:
    """Accept None, "cpu" or a cpu `device`; refuse anything else naming `where`."""
    if dev is None or dev is CPU:
        return
    try:
        device(dev)
    except RuntimeError as e:
        raise RuntimeError(f"{where}: {e}") from None


class _Cuda:
    """`deepgrad.cuda`: there is no GPU, so everything reports its absence."""

    @staticmethod
    def is_available() -> bool:
        """False: deepgrad has no GPU backend."""
        return False

    @staticmethod
    def device_count() -> int:
        """0 GPUs."""
        return 0

    @staticmethod
    def manual_seed(seed: int) -> None:
        """Accepted and ignored (there is no GPU generator to seed)."""

    @staticmethod
    def manual_seed_all(seed: int) -> None:
        """Accepted and ignored (there is no GPU generator to seed)."""


cuda = _Cuda()
