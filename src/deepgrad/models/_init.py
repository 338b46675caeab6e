"""Weight initialisation shared by the zoo (torchvision's choices)."""

from __future__ import annotations

from .. import nn


def kaiming_convs(model: nn.Module, zero_init_residual: bool = False) -> None:
    """Convs: He normal with fan_out (He et al. 2015); norms: weight 1, bias 0.

    With `zero_init_residual`, the last BN of each residual branch starts at 0, so each
    block starts as the identity (Goyal et al. 2017).
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.weight is not None:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            last = getattr(m, "bn3", None) or getattr(m, "bn2", None)
            if last is not None and hasattr(m, "downsample"):
                nn.init.zeros_(last.weight)
