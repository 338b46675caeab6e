"""DenseNet-121 and DenseNet-BC (Huang et al. 2017), torchvision layout."""

from __future__ import annotations

from .. import nn
from ..core.tensor import Tensor
from ..ops.elementwise import relu
from ..ops.shape import concatenate, flatten
from . import _init

__all__ = ["DenseBlock", "DenseLayer", "DenseNet", "Transition", "densenet121", "densenet_bc"]


class DenseLayer(nn.Module):
    """BN-ReLU-conv1x1 (bn_size * k) - BN-ReLU-conv3x3 (k): the bottleneck "-B" layer whose
    k new feature maps are concatenated to its input (Huang et al. 2017)."""

    def __init__(
        self, cin: int, growth_rate: int, bn_size: int = 4, drop_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(drop_rate) if drop_rate > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(relu(self.norm1(x)))
        h = self.conv2(relu(self.norm2(h)))
        return h if self.dropout is None else self.dropout(h)


class DenseBlock(nn.Module):
    """Each layer sees the concatenation of all earlier feature maps: $x_l = H_l([x_0, ...,
    x_{l-1}])$; output channels c_in + L k (Huang et al. 2017)."""

    def __init__(self, num_layers: int, cin: int, growth_rate: int, bn_size: int = 4,
                 drop_rate: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(cin + i * growth_rate, growth_rate, bn_size, drop_rate)
            for i in range(num_layers)
        )
        self.out_channels = cin + num_layers * growth_rate

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(concatenate(feats, axis=1) if len(feats) > 1 else feats[0]))
        return concatenate(feats, axis=1)


class Transition(nn.Module):
    """BN-ReLU-conv1x1 (compression) - 2x2 average pool between dense blocks."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.conv(relu(self.norm(x))))


class DenseNet(nn.Module):
    """DenseNet-BC: stem, dense blocks joined by compressing transitions, BN-ReLU, global
    average pool, FC (Huang et al. 2017).  `small_inputs` uses a 3x3 stem without max pool
    (CIFAR); DenseNet-121 has 7,978,856 parameters at 1000 classes."""

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, compression: float = 0.5, drop_rate: float = 0.0,
                 num_classes: int = 1000, in_channels: int = 3, small_inputs: bool = False) -> None:  # fmt: skip
        super().__init__()
        if small_inputs:
            stem = [nn.Conv2d(in_channels, num_init_features, 3, padding=1, bias=False)]
        else:
            stem = [nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False),
                    nn.BatchNorm2d(num_init_features), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1)]  # fmt: skip
        self.features = nn.Sequential(*stem)
        c = num_init_features
        for i, n in enumerate(block_config):
            block = DenseBlock(n, c, growth_rate, bn_size, drop_rate)
            self.features.append(block)
            c = block.out_channels
            if i != len(block_config) - 1:
                self.features.append(Transition(c, int(c * compression)))
                c = int(c * compression)
        self.features.append(nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        _init.kaiming_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        h = relu(self.features(x))
        return self.classifier(flatten(h.mean(axis=(2, 3), keepdims=True), 1))


def densenet121(num_classes: int = 1000, in_channels: int = 3, **kw) -> DenseNet:
    """DenseNet-121: k = 32, blocks (6, 12, 24, 16); 7,978,856 parameters at 1000 classes."""
    return DenseNet(32, (6, 12, 24, 16), 64, num_classes=num_classes, in_channels=in_channels, **kw)


def densenet_bc(depth: int = 100, growth_rate: int = 12, num_classes: int = 10, in_channels: int = 3,
                **kw) -> DenseNet:  # fmt: skip
    """CIFAR DenseNet-BC-`depth`: three blocks of (depth - 4) / 6 bottleneck layers, 2k stem."""
    if (depth - 4) % 6:
        raise ValueError(f"densenet_bc: depth - 4 must be divisible by 6, got depth {depth}")
    n = (depth - 4) // 6
    return DenseNet(growth_rate, (n, n, n), 2 * growth_rate, num_classes=num_classes,
                    in_channels=in_channels, small_inputs=True, **kw)  # fmt: skip
