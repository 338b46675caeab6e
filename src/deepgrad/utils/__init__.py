"""PyTorch's `torch.utils` paths: `deepgrad.utils.data` is `deepgrad.data` under that name."""

from . import data

__all__ = ["data"]
