"""The workloads `bench/suite.py` measures: issue 20's list, each for deepgrad and PyTorch.

A workload builds a step closure for each framework (the step builders of
bench/overhead.py, bench/cnn.py and bench/sequence.py, so the suite times exactly
what those scripts time), its matrix products for the FLOP count (bench/flops.py),
and its target ratio where the issue sets one.  Training steps are: zero_grad,
forward, loss, backward, SGD momentum 0.9 update; float32 throughout.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import flops
from _timing import train_step
from cnn import _torch_resnet18, lenet_deepgrad, lenet_torch
from overhead import mlp_deepgrad, mlp_torch, overhead_deepgrad, overhead_torch
from sequence import recurrent_step, transformer_step

import deepgrad as dg

Step = Callable[[], object]
SWEEP_BATCHES = (1, 4, 16, 64, 256, 512)
SEQ_STEPS, SEQ_BATCH, SEQ_IN, SEQ_HIDDEN = 35, 32, 64, 256
TR_BATCH, TR_LEN, TR_D, TR_HEADS, TR_FF = 16, 64, 256, 4, 1024


@dataclass(frozen=True)
class Workload:
    """One benchmark: builders of its step for deepgrad (`ours()`) and PyTorch
    (`theirs(torch)`), its matrix products (None where FLOPs mean nothing), and
    whether its FLOPs are a training step's or a forward pass's."""

    name: str
    label: str
    group: str  # "main" (the table) or "sweep" (the batch-size sweep)
    ours: Callable[[], Step]
    theirs: Callable[[object], Step]
    products: Callable[[], list[flops.Product]] | None = None
    training: bool = True
    target: float | None = None
    memory: bool = True  # measure the peak memory of its process
    batch: int | None = None
    sweep: bool = False  # a column of the batch-size sweep (main workloads may be one too)

    def flops(self) -> int | None:
        """Operations per step (bench/flops.py), None for the per-op overhead."""
        if self.products is None:
            return None
        return flops.total(self.products(), training=self.training)


def _rng() -> np.random.Generator:
    dg.manual_seed(0)
    return np.random.default_rng(0)


def _mlp_data(batch: int):
    rng = _rng()
    xb = rng.standard_normal((batch, 784)).astype(np.float32)
    return xb, rng.integers(0, 10, batch).astype(np.int64)


def _lenet_data(batch: int):
    rng = _rng()
    xb = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    return xb, rng.integers(0, 10, batch).astype(np.int64)


def _image_data(batch: int, side: int):
    rng = _rng()
    xb = rng.standard_normal((batch, 3, side, side)).astype(np.float32)
    return xb, rng.integers(0, 10, batch).astype(np.int64)


def resnet_ours(batch: int, side: int, train: bool = True) -> Step:
    """deepgrad's ResNet-18 (10 classes): a training step, or eval-mode inference."""
    import deepgrad.models

    xb, yb = _image_data(batch, side)
    model = deepgrad.models.resnet18(10)
    if train:
        opt = dg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        return train_step(model, dg.nn.CrossEntropyLoss(), opt, dg.tensor(xb), dg.tensor(yb))
    model.eval()
    x = dg.tensor(xb)

    def infer():
        with dg.no_grad():
            return model(x)

    return infer


def resnet_theirs(torch, batch: int, side: int, train: bool = True) -> Step:
    """torchvision's ResNet-18 layout (bench/cnn.py), the same step as `resnet_ours`."""
    xb, yb = _image_data(batch, side)
    torch.manual_seed(0)
    model = _torch_resnet18(torch, torch.nn)
    x = torch.from_numpy(xb)
    if train:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        return train_step(model, torch.nn.CrossEntropyLoss(), opt, x, torch.from_numpy(yb))
    model.eval()

    def infer():
        with torch.no_grad():
            return model(x)

    return infer


def recurrent(kind: str, lib) -> Step:
    """An LSTM or GRU training step (bench/sequence.py) on (steps, batch, inputs)."""
    rng = _rng()
    xb = rng.standard_normal((SEQ_STEPS, SEQ_BATCH, SEQ_IN)).astype(np.float32)
    yb = rng.standard_normal((SEQ_BATCH, 1)).astype(np.float32)
    if lib is dg:
        return recurrent_step(dg, kind, dg.tensor(xb), dg.tensor(yb))
    lib.manual_seed(0)
    return recurrent_step(lib, kind, lib.from_numpy(xb), lib.from_numpy(yb))


def transformer(lib) -> Step:
    """A TransformerEncoderLayer training step (bench/sequence.py) on (batch, length, d)."""
    rng = _rng()
    xb = rng.standard_normal((TR_BATCH, TR_LEN, TR_D)).astype(np.float32)
    yb = rng.standard_normal((TR_BATCH, 1)).astype(np.float32)
    if lib is dg:
        return transformer_step(dg, dg.tensor(xb), dg.tensor(yb))
    lib.manual_seed(0)
    return transformer_step(lib, lib.from_numpy(xb), lib.from_numpy(yb))


# the two batch-swept models: key prefix, label, data, deepgrad and torch steps, FLOPs
_SWEPT = {
    "mlp": ("MLP 784-512-256-10", _mlp_data, mlp_deepgrad, mlp_torch, flops.mlp),
    "lenet": ("LeNet-5", _lenet_data, lenet_deepgrad, lenet_torch, flops.lenet5),
}


def _swept(model: str, batch: int, group: str, target: float | None = None) -> Workload:
    label, data, ours, theirs, count = _SWEPT[model]
    return Workload(
        f"{model}-b{batch}",
        f"{label}, batch {batch}",
        group,
        lambda: ours(*data(batch)),
        lambda torch: theirs(torch, *data(batch)),
        partial(count, batch),
        target=target,
        memory=group == "main",
        batch=batch,
        sweep=batch in SWEEP_BATCHES,
    )


def _resnet(batch: int, side: int, train: bool, target: float | None = None) -> Workload:
    what = "" if train else " inference (forward, eval mode)"
    return Workload(
        f"resnet18-b{batch}-{side}{'' if train else '-infer'}",
        f"ResNet-18{what}, batch {batch}, 3x{side}x{side}",
        "main",
        lambda: resnet_ours(batch, side, train),
        lambda torch: resnet_theirs(torch, batch, side, train),
        partial(flops.resnet18, batch, side, side),
        training=train,
        target=target,
        batch=batch,
    )


def main_workloads() -> list[Workload]:
    """The issue's table, in its order."""
    seq = (SEQ_STEPS, SEQ_BATCH, SEQ_IN, SEQ_HIDDEN)
    tr = (TR_BATCH, TR_LEN, TR_D, TR_HEADS, TR_FF)
    return [
        _swept("mlp", 128, "main", target=0.7),
        Workload(
            "overhead",
            "1,000 chained adds + backward (per-op overhead)",
            "main",
            overhead_deepgrad,
            overhead_torch,
            target=0.8,
            memory=False,
        ),
        _swept("lenet", 64, "main", target=1.0),
        _resnet(8, 64, True, target=1.0),
        _resnet(32, 32, True),
        _resnet(8, 64, False),
        Workload(
            "lstm",
            f"LSTM {SEQ_IN}-{SEQ_HIDDEN}, {SEQ_STEPS} steps, batch {SEQ_BATCH}",
            "main",
            lambda: recurrent("LSTM", dg),
            lambda torch: recurrent("LSTM", torch),
            partial(flops.lstm, *seq),
            target=1.0,
        ),
        Workload(
            "gru",
            f"GRU {SEQ_IN}-{SEQ_HIDDEN}, {SEQ_STEPS} steps, batch {SEQ_BATCH}",
            "main",
            lambda: recurrent("GRU", dg),
            lambda torch: recurrent("GRU", torch),
            partial(flops.gru, *seq),
            target=1.0,
        ),
        Workload(
            "transformer",
            f"TransformerEncoderLayer({TR_D}, {TR_HEADS}, {TR_FF}), batch {TR_BATCH}, "
            f"length {TR_LEN}",
            "main",
            lambda: transformer(dg),
            transformer,
            partial(flops.transformer_encoder_layer, *tr),
            target=1.0,
        ),
    ]


def sweep_workloads() -> list[Workload]:
    """Training steps of the MLP and LeNet-5 at batch 1 to 512, except the sizes the
    main table measures already (LeNet-5 at 64): those are the sweep's column too."""
    main = {w.name for w in main_workloads()}
    every = [_swept(m, b, "sweep") for m in _SWEPT for b in SWEEP_BATCHES]
    return [w for w in every if w.name not in main]


def all_workloads() -> list[Workload]:
    """Every workload, the issue's table first."""
    return main_workloads() + sweep_workloads()
