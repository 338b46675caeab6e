"""Inception modules and a small GoogLeNet (Szegedy et al. 2015); Xception-style depthwise
separable convolutions (Chollet 2017)."""

from __future__ import annotations

from .. import nn
from ..core.tensor import Tensor
from ..ops.elementwise import relu
from ..ops.shape import concatenate, flatten
from . import _init

__all__ = [
    "BasicConv2d", "GoogLeNet", "InceptionModule", "MiniXception", "SeparableConv2d",
    "XceptionBlock", "googlenet_small", "xception_small",
]  # fmt: skip


class BasicConv2d(nn.Module):
    """conv (no bias) - BatchNorm2d - ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, **kw) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return relu(self.bn(self.conv(x)))


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1-3x3; 1x1-5x5; 3x3 max pool
    - 1x1 (Szegedy et al. 2015).  Output channels c1 + c3 + c5 + pool_proj."""

    def __init__(self, cin: int, c1: int, c3_reduce: int, c3: int, c5_reduce: int, c5: int,
                 pool_proj: int) -> None:  # fmt: skip
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(
            BasicConv2d(cin, c3_reduce, 1), BasicConv2d(c3_reduce, c3, 3, padding=1)
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(cin, c5_reduce, 1), BasicConv2d(c5_reduce, c5, 5, padding=2)
        )
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, padding=1), BasicConv2d(cin, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1, self.branch2, self.branch3, self.branch4]
        return concatenate([b(x) for b in branches], axis=1)


class GoogLeNet(nn.Module):
    """A small GoogLeNet for 32x32-ish inputs: 3x3 stem, inception 3a, 3b, max pool, 4a, 4b,
    global average pool, dropout, FC (Szegedy et al. 2015's modules, CIFAR-sized stem).
    `width` scales every channel count."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, width: float = 1.0,
                 dropout: float = 0.2) -> None:  # fmt: skip
        super().__init__()

        def c(v: int) -> int:
            return max(1, round(v * width))

        self.stem = BasicConv2d(in_channels, c(192), 3, padding=1)
        self.inception3a = InceptionModule(c(192), c(64), c(96), c(128), c(16), c(32), c(32))
        self.inception3b = InceptionModule(self.inception3a.out_channels, c(128), c(128), c(192),
                                           c(32), c(96), c(64))  # fmt: skip
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        self.inception4a = InceptionModule(self.inception3b.out_channels, c(192), c(96), c(208),
                                           c(16), c(48), c(64))  # fmt: skip
        self.inception4b = InceptionModule(self.inception4a.out_channels, c(160), c(112), c(224),
                                           c(24), c(64), c(64))  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.inception4b.out_channels, num_classes)
        _init.kaiming_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.inception3b(self.inception3a(self.stem(x)))
        x = self.inception4b(self.inception4a(self.maxpool(x)))
        return self.fc(self.dropout(flatten(self.avgpool(x), 1)))


def googlenet_small(num_classes: int = 10, in_channels: int = 3, **kw) -> GoogLeNet:
    """Small GoogLeNet (Szegedy et al. 2015) for CIFAR-sized inputs."""
    return GoogLeNet(num_classes, in_channels, **kw)


class SeparableConv2d(nn.Module):
    """Depthwise k x k conv (groups = C_in) then pointwise 1x1: $C_{in} k^2 + C_{in} C_{out}$
    weights instead of $C_{in} C_{out} k^2$ (Chollet 2017)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=1,
                 dilation=1, bias: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.depthwise = nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, dilation,
                                   groups=in_channels, bias=bias)  # fmt: skip
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))


class XceptionBlock(nn.Module):
    """`reps` x (ReLU - SeparableConv2d - BN), then a 3x3/`stride` max pool, plus a 1x1
    strided conv + BN shortcut when the shape changes (Chollet 2017's middle/entry flow)."""

    def __init__(self, in_channels: int, out_channels: int, reps: int = 2, stride: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.skip = None
        if out_channels != in_channels or stride != 1:
            self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(out_channels))  # fmt: skip
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(reps):
            cout = (
                out_channels if (grow_first and i == 0) or (not grow_first and i == reps - 1) else c
            )
            if i > 0 or start_with_relu:
                layers.append(nn.ReLU())
            layers += [SeparableConv2d(c, cout, 3, padding=1), nn.BatchNorm2d(cout)]
            c = cout
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, padding=1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.rep(x) + (x if self.skip is None else self.skip(x))


class MiniXception(nn.Module):
    """A small Xception: conv stem, entry-flow XceptionBlocks (stride 2), middle-flow blocks,
    separable conv, global average pool, FC (Chollet 2017)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 3, widths=(32, 64, 128),
                 middle: int = 2) -> None:  # fmt: skip
        super().__init__()
        w0 = widths[0]
        self.stem = nn.Sequential(nn.Conv2d(in_channels, w0, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(w0), nn.ReLU())  # fmt: skip
        blocks, c = [], w0
        for i, w in enumerate(widths[1:]):
            blocks.append(XceptionBlock(c, w, 2, stride=2, start_with_relu=i > 0))
            c = w
        blocks += [XceptionBlock(c, c, 3) for _ in range(middle)]
        self.blocks = nn.Sequential(*blocks)
        self.exit = nn.Sequential(SeparableConv2d(c, 2 * c), nn.BatchNorm2d(2 * c), nn.ReLU())
        self.fc = nn.Linear(2 * c, num_classes)
        _init.kaiming_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.exit(self.blocks(self.stem(x)))
        return self.fc(x.mean(axis=(2, 3)))


def xception_small(num_classes: int = 10, in_channels: int = 3, **kw) -> MiniXception:
    """A small Xception of depthwise separable blocks (Chollet 2017)."""
    return MiniXception(num_classes, in_channels, **kw)
