"""`deepgrad.io`: weights to and from other frameworks (PyTorch state dicts)."""

from .torch_pickle import ALLOWED_GLOBALS, UnsafePickleError, read_torch_zip
from .torch_weights import load_torch_state_dict, read_torch_state_dict, save_torch_state_dict

__all__ = [
    "ALLOWED_GLOBALS",
    "UnsafePickleError",
    "load_torch_state_dict",
    "read_torch_state_dict",
    "read_torch_zip",
    "save_torch_state_dict",
]
