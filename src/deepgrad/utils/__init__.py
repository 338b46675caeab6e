"""Utilities under PyTorch's paths: `deepgrad.utils.data` (`deepgrad.data` under that name) and
`deepgrad.utils.checkpoint.checkpoint` (recomputation)."""

from __future__ import annotations

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
