"""`deepgrad.backends` and `.cuda()`: the GPU-facing names PyTorch programs check.

deepgrad runs on NumPy only; these exist so that a program's device checks run and
report no GPU, and so that `.cuda()` fails with one line saying why.
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
