"""LeNet-5 (LeCun et al. 1998) and AlexNet (Krizhevsky et al. 2012)."""

from __future__ import annotations

from .. import nn
from ..core.tensor import Tensor
from ..ops.shape import flatten

__all__ = ["AlexNet", "LeNet5", "alexnet", "lenet5"]


class LeNet5(nn.Module):
    """LeNet-5: conv 6@5x5 - pool - conv 16@5x5 - pool - FC 120 - 84 - classes (LeCun et al. 1998).

    On 28x28 input the first conv pads by 2 (the paper's 32x32); 61,706 parameters for
    10 classes.  `activation` ReLU (modern) or Tanh (classic); `pool` "max" or "avg".
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, activation: str = "relu",
                 pool: str = "max", padding: int = 2) -> None:  # fmt: skip
        super().__init__()
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        pool_cls = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=padding), act(), pool_cls(2),
            nn.Conv2d(6, 16, 5), act(), pool_cls(2),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = self.features(x)
        if h.shape[-2:] != (5, 5):
            raise self.input_error("(N, C, 28, 28) with padding=2 or (N, C, 32, 32) with padding=0",
                                   x.shape)  # fmt: skip
        return self.classifier(flatten(h, 1))


def lenet5(num_classes: int = 10, in_channels: int = 1, **kwargs) -> LeNet5:
    """LeNet-5 for 28x28 inputs (LeCun et al. 1998)."""
    return LeNet5(num_classes, in_channels, **kwargs)


class AlexNet(nn.Module):
    """AlexNet as in torchvision (Krizhevsky et al. 2012, single-GPU variant): five convs
    (11x11/4, 5x5, 3x3 x3) with overlapping 3x3/2 max pools, adaptive 6x6 average pool,
    dropout and FC 4096-4096-classes; 61,100,840 parameters at 1000 classes."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> AlexNet:
    """AlexNet (Krizhevsky et al. 2012), torchvision layout."""
    return AlexNet(num_classes, in_channels, **kwargs)
