"""Fully convolutional segmentation networks: FCN-8s (Long et al. 2015) and U-Net
(Ronneberger et al. 2015).  Both return per-pixel class scores (N, classes, H, W) with the
input's spatial size, odd sizes included."""

from __future__ import annotations

import numpy as np

from .. import nn
from ..core.tensor import Tensor
from ..nn.conv_functional import pad
from ..ops.shape import concatenate
from . import _init

__all__ = ["FCN8s", "UNet", "bilinear_kernel", "fcn8s", "unet"]


def bilinear_kernel(channels: int, kernel_size: int) -> np.ndarray:
    """(C, C, k, k) weights making a stride-k/2 ConvTranspose2d bilinear upsampling per channel
    (Long et al. 2015 initialise their deconvolutions this way)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.arange(kernel_size)
    filt = 1 - np.abs(og - center) / factor
    w = np.zeros((channels, channels, kernel_size, kernel_size))
    w[np.arange(channels), np.arange(channels)] = np.outer(filt, filt)
    return w


def _stage(cin: int, cout: int, n: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), nn.ReLU()]
    layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class FCN8s(nn.Module):
    """FCN-8s: a VGG-style encoder, 1x1 score layers on pool3, pool4 and the final features,
    fused coarse-to-fine by learned 2x, 2x and 8x transposed convolutions initialised to
    bilinear upsampling (Long et al. 2015).  `widths` / `depths` size the encoder (VGG-16:
    (64, 128, 256, 512, 512) / (2, 2, 3, 3, 3)); inputs need H, W >= 32."""

    def __init__(self, num_classes: int = 21, in_channels: int = 3, widths=(32, 64, 128, 256, 256),
                 depths=(2, 2, 3, 3, 3), fc_channels: int = 512) -> None:  # fmt: skip
        super().__init__()
        c = [in_channels, *widths]
        self.stage1, self.stage2, self.stage3, self.stage4, self.stage5 = (
            _stage(c[i], c[i + 1], depths[i]) for i in range(5)
        )
        self.fc = nn.Sequential(nn.Conv2d(widths[4], fc_channels, 3, padding=1), nn.ReLU(),
                                nn.Dropout2d(0.5), nn.Conv2d(fc_channels, fc_channels, 1), nn.ReLU(),
                                nn.Dropout2d(0.5))  # fmt: skip
        self.score_fr = nn.Conv2d(fc_channels, num_classes, 1)
        self.score_pool4 = nn.Conv2d(widths[3], num_classes, 1)
        self.score_pool3 = nn.Conv2d(widths[2], num_classes, 1)
        self.upscore2 = nn.ConvTranspose2d(
            num_classes, num_classes, 4, stride=2, padding=1, bias=False
        )
        self.upscore_pool4 = nn.ConvTranspose2d(num_classes, num_classes, 4, stride=2, padding=1,
                                                bias=False)  # fmt: skip
        self.upscore8 = nn.ConvTranspose2d(
            num_classes, num_classes, 16, stride=8, padding=4, bias=False
        )
        _init.kaiming_convs(self)
        for up in (self.upscore2, self.upscore_pool4, self.upscore8):
            up.weight._data[...] = bilinear_kernel(num_classes, up.kernel_size[0])

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or min(x.shape[2:]) < 32:
            raise self.input_error("(N, C, H, W) with H, W >= 32 (five 2x2 pools)", x.shape)
        p3 = self.stage3(self.stage2(self.stage1(x)))
        p4 = self.stage4(p3)
        s = self.score_fr(self.fc(self.stage5(p4)))
        s = self.upscore2(s, output_size=p4.shape[2:]) + self.score_pool4(p4)
        s = self.upscore_pool4(s, output_size=p3.shape[2:]) + self.score_pool3(p3)
        return self.upscore8(s, output_size=x.shape[2:])


def fcn8s(num_classes: int = 21, in_channels: int = 3, **kw) -> FCN8s:
    """FCN-8s semantic segmentation network (Long et al. 2015)."""
    return FCN8s(num_classes, in_channels, **kw)


class DoubleConv(nn.Module):
    """(3x3 conv, padding 1 - [BatchNorm2d] - ReLU) x 2; spatial size kept."""

    def __init__(self, cin: int, cout: int, batch_norm: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(2):
            layers.append(
                nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=not batch_norm)
            )
            if batch_norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU())
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class UNet(nn.Module):
    """U-Net: a contracting path of DoubleConv + 2x2 max pool (channels doubling from `width`),
    an expanding path of 2x2 transposed convs whose output is padded to the skip's size,
    concatenated with it and fused by a DoubleConv, then a 1x1 classifier (Ronneberger et al.
    2015; padded convs, so the output has the input's size, odd sizes included)."""

    def __init__(self, num_classes: int = 2, in_channels: int = 1, depth: int = 4, width: int = 64,
                 batch_norm: bool = True) -> None:  # fmt: skip
        super().__init__()
        if depth < 1:
            raise ValueError(f"UNet: depth must be >= 1, got {depth}")
        chans = [width * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(in_channels, chans[0], batch_norm)] + [
            DoubleConv(chans[i], chans[i + 1], batch_norm) for i in range(depth)])  # fmt: skip
        self.pool = nn.MaxPool2d(2, 2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(chans[i + 1], chans[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.fuse = nn.ModuleList(
            DoubleConv(2 * chans[i], chans[i], batch_norm) for i in reversed(range(depth))
        )
        self.head = nn.Conv2d(chans[0], num_classes, 1)
        self.depth = depth
        _init.kaiming_convs(self)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or min(x.shape[2:]) < 2**self.depth:
            raise self.input_error(f"(N, C, H, W) with H, W >= {2**self.depth}", x.shape)
        skips = []
        h = x
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else self.pool(h))
            skips.append(h)
        skips.pop()
        for up, fuse in zip(self.up, self.fuse):
            skip = skips.pop()
            h = up(h)
            dh, dw = skip.shape[2] - h.shape[2], skip.shape[3] - h.shape[3]
            if dh or dw:  # odd sizes: the pool floored, so pad the upsampled map back
                h = pad(h, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))
            h = fuse(concatenate([skip, h], axis=1))
        return self.head(h)


def unet(num_classes: int = 2, in_channels: int = 1, **kw) -> UNet:
    """U-Net (Ronneberger et al. 2015) with configurable depth and width."""
    return UNet(num_classes, in_channels, **kw)
