"""A PyTorch-style training script using the issue-13 part B surface end to end:
torch.utils.data (samplers, workers), new layers, optimizers and schedules, save/load.

Written as a PyTorch program would be, with `torch` spelled `dg`.
"""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F
from deepgrad.utils.data import DataLoader, TensorDataset, WeightedRandomSampler, random_split


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.norm = nn.RMSNorm(16)
        self.act = nn.Mish()
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(self.act(self.norm(self.fc1(x))))


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR of signs
    return TensorDataset(dg.tensor(x), dg.tensor(y))


def _train(model, loader, opt, sched, epochs):
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        sched.step()
    return loss.item()


def _accuracy(model, loader):
    model.eval()
    correct = total = 0
    with dg.no_grad():
        for xb, yb in loader:
            pred = model(xb).data.argmax(1)
            correct += int((pred == yb.data).sum())
            total += len(yb.data)
    return correct / total


def test_script_trains_saves_and_resumes(tmp_path):
    dg.manual_seed(0)
    train_set, val_set = random_split(_data(), [0.75, 0.25], generator=np.random.default_rng(0))
    weights = np.ones(len(train_set))
    sampler = WeightedRandomSampler(weights, len(train_set), generator=np.random.default_rng(1))
    loader = DataLoader(train_set, batch_size=30, sampler=sampler, num_workers=2)
    val_loader = DataLoader(val_set, batch_size=60)
    model = Net()
    opt = dg.optim.RAdam(model.parameters(), lr=0.03)
    sched = dg.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5)
    _train(model, loader, opt, sched, epochs=15)
    assert _accuracy(model, val_loader) > 0.85
    ckpt = tmp_path / "ckpt.pt"
    dg.save({"model": model.state_dict(), "opt": opt.state_dict(),
             "sched": sched.state_dict(), "epoch": 15}, ckpt)  # fmt: skip
    state = dg.load(ckpt)
    clone = Net()
    clone.load_state_dict(state["model"])
    opt2 = dg.optim.RAdam(clone.parameters(), lr=0.03)
    opt2.load_state_dict(state["opt"])
    sched2 = dg.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt2, T_0=5)
    sched2.load_state_dict(state["sched"])
    assert state["epoch"] == 15
    assert _accuracy(clone, val_loader) == _accuracy(model, val_loader)
    fixed = DataLoader(train_set, batch_size=30)  # same batches for both from here on
    _train(model, fixed, opt, sched, epochs=2)
    _train(clone, fixed, opt2, sched2, epochs=2)
    for a, b in zip(model.parameters(), clone.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
