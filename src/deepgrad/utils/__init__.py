"""Utilities under PyTorch's paths: `deepgrad.utils.checkpoint.checkpoint`."""

from __future__ import annotations

from . import checkpoint

__all__ = ["checkpoint"]
