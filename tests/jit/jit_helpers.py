"""Shared builders for the dg.compile tests: a model, its step, and eager-vs-compiled runs."""

from __future__ import annotations

import numpy as np

import deepgrad as dg

nn = dg.nn


class LastState(nn.Module):
    """An LSTM over the sequence and a linear head on the last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(5, 7, batch_first=True)
        self.head = nn.Linear(7, 3)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(h[-1])


class Encoder(nn.Module):
    """A transformer encoder layer (attention, layer norm, dropout) and a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        return self.head(self.enc(x).mean(1))


def model(kind: str) -> tuple[nn.Module, tuple[int, ...]]:
    """A tiny model of each kind the issue names, and its input shape."""
    if kind == "transformer":
        return Encoder(), (3, 5, 8)
    if kind == "resnet":
        return dg.models.resnet20(num_classes=3), (2, 3, 32, 32)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), (4, 6)
    if kind == "cnn":
        layers = [nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)]
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(36, 3)), (4, 1, 8, 8)
    if kind == "lstm":
        return LastState(), (4, 6, 5)
    layers = [nn.Linear(6, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 3)]
    return nn.Sequential(*layers), (4, 6)


def optimizer(kind: str, params):
    if kind == "adam":
        return dg.optim.Adam(params, lr=0.05)
    return dg.optim.SGD(params, lr=0.05, momentum=0.9)


def batches(shape: tuple[int, ...], n: int, seed: int = 1) -> list[tuple[dg.Tensor, dg.Tensor]]:
    rng = np.random.default_rng(seed)
    return [
        (
            dg.tensor(rng.standard_normal(shape).astype(np.float32)),
            dg.tensor(rng.integers(0, 3, shape[0])),
        )
        for _ in range(n)
    ]


def run(kind: str, opt_kind: str, compiled: bool, steps: int = 5):
    """Train from manual_seed(0); returns losses, state dict, grads, optimizer state, rng
    state and the step (compiled or not)."""
    dg.manual_seed(0)
    m, shape = model(kind)
    opt = optimizer(opt_kind, m.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss

    fn = dg.compile(step) if compiled else step
    losses = [fn(x, y).numpy().copy() for x, y in batches(shape, steps)]
    state = {k: np.array(v, copy=True) for k, v in m.state_dict().items()}
    grads = [p.grad.numpy().copy() for p in m.parameters()]
    opt_state = opt.state_dict()["state"]
    return losses, state, grads, opt_state, dg.get_rng_state(), fn


def bitwise(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def same_state(a: dict, b: dict) -> bool:
    """Optimizer states equal bitwise (arrays) or exactly (numbers)."""
    if a.keys() != b.keys():
        return False
    for k, x in a.items():
        y = b[k]
        if isinstance(x, dict):
            if not same_state(x, y):
                return False
        elif isinstance(x, np.ndarray):
            if not bitwise(x, y):
                return False
        elif x != y:
            return False
    return True
