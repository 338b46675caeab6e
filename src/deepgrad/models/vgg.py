"""VGG-11/13/16/19 with and without batch norm (Simonyan & Zisserman 2015), torchvision layout."""

from __future__ import annotations

from .. import nn
from ..core.tensor import Tensor
from ..ops.shape import flatten

__all__ = [
    "VGG",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]

# Channel counts per 3x3 conv; "M" is a 2x2 max pool (configurations A, B, D, E).
CFGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}  # fmt: skip


def make_layers(
    cfg: list[int | str], in_channels: int = 3, batch_norm: bool = False
) -> nn.Sequential:
    """Stacks of 3x3 convs (padding 1) + ReLU (+ BatchNorm2d), 2x2 max pools at "M"."""
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c, int(v), 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU())
        c = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: 3x3 conv stacks, max pools, adaptive 7x7 average pool, FC 4096-4096-classes with
    dropout (Simonyan & Zisserman 2015).  VGG-16: 138,357,544 parameters at 1000 classes;
    `hidden` shrinks the classifier for small inputs."""

    def __init__(self, features: nn.Sequential, num_classes: int = 1000, dropout: float = 0.5,
                 hidden: int = 4096, pool_size: int = 7) -> None:  # fmt: skip
        super().__init__()
        self.features = features
        out_c = [m for m in features if isinstance(m, nn.Conv2d)][-1].out_channels
        self.avgpool = nn.AdaptiveAvgPool2d((pool_size, pool_size))
        self.classifier = nn.Sequential(
            nn.Linear(out_c * pool_size * pool_size, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def _vgg(cfg: str, bn: bool, num_classes: int, in_channels: int, **kwargs) -> VGG:
    return VGG(make_layers(CFGS[cfg], in_channels, bn), num_classes, **kwargs)


def vgg11(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters at 1000 classes."""
    return _vgg("A", False, num_classes, in_channels, **kw)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-11 with batch norm after every conv."""
    return _vgg("A", True, num_classes, in_channels, **kw)


def vgg13(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("B", False, num_classes, in_channels, **kw)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-13 with batch norm."""
    return _vgg("B", True, num_classes, in_channels, **kw)


def vgg16(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters at 1000 classes."""
    return _vgg("D", False, num_classes, in_channels, **kw)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-16 with batch norm."""
    return _vgg("D", True, num_classes, in_channels, **kw)


def vgg19(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("E", False, num_classes, in_channels, **kw)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-19 with batch norm."""
    return _vgg("E", True, num_classes, in_channels, **kw)
