"""MNIST end to end: an MLP 784-300-10 reaches >= 97.5% test accuracy within 5 epochs."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import MNIST, DataLoader, TensorDataset, random_split
from deepgrad.train import EarlyStopping, evaluate, fit


def _flat(ds, mean: float, std: float) -> tuple[np.ndarray, np.ndarray]:
    X = (ds.data.reshape(len(ds), -1).astype(np.float32) / 255.0 - mean) / std
    return X, ds.targets


@pytest.mark.slow
def test_mlp_reaches_97_5_percent_on_the_mnist_test_set(mnist_dir):
    train_ds, test_ds = MNIST(mnist_dir, train=True), MNIST(mnist_dir, train=False)
    pixels = train_ds.data.astype(np.float32) / 255.0
    mean, std = float(pixels.mean()), float(pixels.std())  # statistics of the training set only
    X, y = _flat(train_ds, mean, std)
    X_test, y_test = _flat(test_ds, mean, std)
    train, val = random_split(TensorDataset(X, y), [55_000, 5_000], np.random.default_rng(0))
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 10))
    opt = optim.Adam(model.parameters(), lr=1e-3)
    history = fit(
        model, nn.CrossEntropyLoss(), opt,
        DataLoader(train, batch_size=128, shuffle=True, seed=0),
        DataLoader(val, batch_size=1000), epochs=5, metrics=["accuracy"],
        callbacks=[EarlyStopping("val_accuracy", patience=2, restore_best_weights=True)],
        verbose=0,
    )  # fmt: skip
    assert len(history) <= 5
    # the test split is touched once, after training and model selection
    test = evaluate(model, DataLoader(TensorDataset(X_test, y_test), 1000), nn.CrossEntropyLoss(),
                    ["accuracy", "f1"])  # fmt: skip
    print(f"MNIST MLP: {history.best('val_accuracy')} test {test}")
    assert test["accuracy"] >= 0.975
