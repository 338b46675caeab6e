"""Data: datasets, the seeded loader, splits, synthetic sets, MNIST files and transforms.

Names follow `torch.utils.data` and torchvision where they overlap.
"""

from . import graph
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset
from .loader import DataLoader, default_collate, default_convert
from .mnist import MIRRORS, MNIST, FashionMNIST, default_root, parse_idx, read_idx, write_idx
from .samplers import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
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
from .workers import WorkerInfo, get_worker_info

__all__ = [
    "MIRRORS",
    "MNIST",
    "BatchSampler",
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
    "RandomSampler",
    "RandomVerticalFlip",
    "Sampler",
    "SequentialSampler",
    "StratifiedKFold",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "ToFloat",
    "Transform",
    "WeightedRandomSampler",
    "WorkerInfo",
    "augment_offline",
    "blobs",
    "circles",
    "default_collate",
    "default_convert",
    "default_root",
    "get_worker_info",
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
