"""Transfer learning: freeze a backbone, swap the head, per-group learning rates, and load
a backbone's weights while the new head keeps its fresh initialisation (Yosinski et al. 2014;
the fine-tuning recipe of Krizhevsky et al. 2012 / Simonyan & Zisserman 2015 features).

    model = dg.models.resnet18(num_classes=1000)
    load_backbone(model_state, ...)                    # or load_backbone(model, state_dict)
    replace_head(model, 10)                            # fresh Linear(512, 10)
    freeze(model, "*"); unfreeze(model, "fc")          # train the head only
    opt = dg.optim.SGD(param_groups(model, 1e-4, 1e-2), lr=1e-2, momentum=0.9)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

import numpy as np

from .. import nn
from ..core.tensor import Tensor

__all__ = ["find_head", "freeze", "load_backbone", "param_groups", "replace_head", "unfreeze"]


def _matches(name: str, patterns: Iterable[str]) -> bool:
    """fnmatch glob, or a plain module prefix ("layer4" matches "layer4.0.conv1.weight")."""
    for p in patterns:
        if fnmatch.fnmatchcase(name, p) or name == p or name.startswith(p + "."):
            return True
    return False


def _patterns(pattern) -> list[str]:
    return [pattern] if isinstance(pattern, str) else list(pattern)


def _set_requires_grad(model: nn.Module, pattern, flag: bool) -> list[str]:
    names = []
    for name, p in model.named_parameters():
        if _matches(name, _patterns(pattern)):
            p.requires_grad_(flag)
            if not flag:
                p.grad = None
            names.append(name)
    if not names:
        raise ValueError(f"no parameter name matches {pattern!r} in {type(model).__name__}")
    return names


def freeze(model: nn.Module, pattern="*") -> list[str]:
    """Stop training the parameters whose names match `pattern` (glob or module prefix,
    or a list of them); returns the frozen names."""
    return _set_requires_grad(model, pattern, False)


def unfreeze(model: nn.Module, pattern="*") -> list[str]:
    """Train again the parameters matching `pattern`; returns their names."""
    return _set_requires_grad(model, pattern, True)


def find_head(model: nn.Module) -> str:
    """Dotted name of the classifier head: the last Linear (else the last Conv2d) registered."""
    last_linear = last_conv = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last_linear = name
        elif isinstance(m, nn.Conv2d):
            last_conv = name
    head = last_linear if last_linear is not None else last_conv
    if head is None:
        raise ValueError(f"{type(model).__name__} has no Linear or Conv2d layer to use as the head")
    return head


def replace_head(model: nn.Module, num_classes: int, head: str | None = None,
                 generator: np.random.Generator | None = None) -> nn.Module:  # fmt: skip
    """Swap the head (default `find_head`) for a freshly initialised layer with `num_classes`
    outputs and the same inputs; returns the new layer (trainable)."""
    head = head or find_head(model)
    old = model.get_submodule(head)
    dtype = old.weight.dtype
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=dtype,
                        generator=generator)  # fmt: skip
    elif isinstance(old, nn.Conv2d):
        new = nn.Conv2d(old.in_channels, num_classes, old.kernel_size, old.stride, old.padding,
                        old.dilation, bias=old.bias is not None, dtype=dtype, generator=generator)  # fmt: skip
    else:
        raise TypeError(f"replace_head: {head!r} is a {type(old).__name__}, not Linear or Conv2d")
    parent_name, _, attr = head.rpartition(".")
    parent = model.get_submodule(parent_name)
    parent._modules[attr] = new  # in place: keeps a Sequential's order
    parent.__dict__[attr] = new
    new._adopt(parent, attr)
    return new


def param_groups(model: nn.Module, backbone_lr: float, head_lr: float, head: str | None = None,
                 **group_options) -> list[dict]:  # fmt: skip
    """Two optimizer groups: the backbone at `backbone_lr` (usually ~10x lower) and the head at
    `head_lr`; frozen parameters are left out."""
    head = head or find_head(model)
    backbone, top = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (top if _matches(name, [head]) else backbone).append(p)
    groups = [{"params": backbone, "lr": backbone_lr, **group_options},
              {"params": top, "lr": head_lr, **group_options}]  # fmt: skip
    return [g for g in groups if g["params"]]


def load_backbone(model: nn.Module, state_dict, head: str | None = None) -> dict[str, list[str]]:
    """Load every tensor of `state_dict` except the head's (strict=False); entries whose shape
    differs from the model's are skipped too.  The head keeps its fresh initialisation.
    Returns {"loaded", "skipped", "missing"} key lists."""
    head = head or find_head(model)
    own = dict(model.named_parameters())
    own.update(dict(model.named_buffers()))
    keep, skipped = {}, []
    for k, v in state_dict.items():
        arr = v._data if isinstance(v, Tensor) else np.asarray(getattr(v, "data", v))
        if _matches(k, [head]) or k not in own or tuple(np.shape(arr)) != own[k].shape:
            skipped.append(k)
        else:
            keep[k] = arr
    result = model.load_state_dict(keep, strict=False)
    return {"loaded": sorted(keep), "skipped": skipped, "missing": list(result.missing_keys)}
