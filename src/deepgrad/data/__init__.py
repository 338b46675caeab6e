"""Data: datasets, the seeded loader, splits, synthetic sets, MNIST files and transforms.

Names follow `torch.utils.data` and torchvision where they overlap.
"""

from . import graph
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset
from .loader import DataLoader, default_collate
from .mnist import MIRRORS, MNIST, FashionMNIST, default_root, parse_idx, read_idx, write_idx
from .splits import KFold, StratifiedKFold, random_split, train_val_test_split
from .synthetic import blobs, circles, moons, sine_regression, spiral, xor
from .transforms import (
    ColorJitter,
    Compose,
    Cutout,
    GaussianNoise,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomVerticalFlip,
    ToFloat,
    Transform,
    augment_offline,
)

__all__ = [
    "MIRRORS",
    "MNIST",
    "ColorJitter",
    "Compose",
    "ConcatDataset",
    "Cutout",
    "DataLoader",
    "Dataset",
    "FashionMNIST",
    "GaussianNoise",
    "KFold",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "StratifiedKFold",
    "Subset",
    "TensorDataset",
    "ToFloat",
    "Transform",
    "augment_offline",
    "blobs",
    "circles",
    "default_collate",
    "default_root",
    "graph",
    "moons",
    "parse_idx",
    "random_split",
    "read_idx",
    "sine_regression",
    "spiral",
    "train_val_test_split",
    "write_idx",
    "xor",
]
