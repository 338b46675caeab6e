"""PyTorch weights in and out: `load_torch_state_dict` and `save_torch_state_dict`.

deepgrad's layers use PyTorch's parameter names and layouts (Linear weight
(out, in), conv weight OIHW / (Cin, Cout/groups, k...) for transposed convs,
batch norm `weight`, `bias`, `running_mean`, `running_var`,
`num_batches_tracked`), so a state dict moves across by name with no renaming
or transposing.  Zoo models that mirror a torchvision architecture (ResNet,
VGG, AlexNet, DenseNet) share its module names too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .torch_pickle import read_torch_zip

SAFETENSORS_SUFFIXES = (".safetensors",)


def _require_safetensors():
    try:
        from safetensors import numpy as st
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "safetensors files need the optional 'safetensors' package: pip install 'deepgrad[io]'"
        ) from e
    return st


def _flatten(obj: Any, path: Path) -> dict[str, np.ndarray]:
    """A state dict: a flat name -> array mapping (a nested 'state_dict' is unwrapped)."""
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(  # noqa: TRY004  (a file problem, reported like the others)
            f"load_torch_state_dict: {path} holds a {type(obj).__name__}, not a state dict"
        )
    bad = [str(k) for k, v in obj.items() if not isinstance(v, np.ndarray)]
    if bad:
        raise ValueError(
            f"load_torch_state_dict: {path} entries {bad[:5]} are not tensors (a whole "
            "checkpoint? pass the file holding model.state_dict())"
        )
    return {str(k): v for k, v in obj.items()}


def read_torch_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The name -> ndarray state dict in a safetensors or `torch.save` (.pt/.pth) file.

    `.pt`/`.pth`/`.bin` zips are read by a restricted reader that never unpickles
    (see `deepgrad.io.torch_pickle`); anything but tensors and plain containers is
    refused, naming the global it would have imported.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_torch_state_dict: no file {path}")
    if path.suffix in SAFETENSORS_SUFFIXES:
        return dict(_require_safetensors().load_file(str(path)))
    return _flatten(read_torch_zip(path), path)


def load_torch_state_dict(model, path: str | os.PathLike, strict: bool = True):
    """Load a PyTorch state dict file into `model` by name, all-or-nothing.

    $\\theta_{name} \\leftarrow$ file[name], cast to the parameter's dtype.  Formats:
    safetensors, and `torch.save` zip files (.pt, .pth) read without unpickling.  As
    `model.load_state_dict(torch.load(path))` in PyTorch, but no pickled code can run.
    Returns `(missing_keys, unexpected_keys)`; with `strict`, either one (or any shape
    mismatch) raises before a single weight changes.
    """
    return model.load_state_dict(read_torch_state_dict(path), strict=strict)


def save_torch_state_dict(model, path: str | os.PathLike) -> Path:
    """Write `model.state_dict()` as safetensors under PyTorch's names, for
    `model.load_state_dict(safetensors.torch.load_file(path))` in PyTorch."""
    path = Path(path)
    if path.suffix not in SAFETENSORS_SUFFIXES:
        raise ValueError(
            f"save_torch_state_dict: write a .safetensors file (no pickle), got {path.name!r}"
        )
    st = _require_safetensors()
    tensors = {k: np.array(v, order="C") for k, v in model.state_dict().items()}  # keeps 0-d
    tmp = path.with_name(path.name + ".tmp")
    st.save_file(tensors, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, path)
    return path
