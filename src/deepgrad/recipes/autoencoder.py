"""autoencoder: undercomplete, sparse, denoising and convolutional autoencoders on MNIST, and
greedy layer-wise pretraining versus training from scratch.

Each variant is trained to reconstruct digits (pixels in [0, 1], Bernoulli cross-entropy);
the table gives its test reconstruction loss and, for sparse codes, the mean |code|.
A 2-unit autoencoder draws its codes coloured by digit.  Then (Bengio et al. 2007; Erhan
et al. 2010) a 784-256-64 sigmoid net is pretrained layer by layer as denoising
autoencoders on all training images, and fine-tuned on only `labels` labelled ones, next
to the same net trained from scratch on those labels.  Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.models.generative import (
    Autoencoder,
    ConvAutoencoder,
    gaussian_noise,
    greedy_layerwise_pretrain,
    kl_sparsity_penalty,
    l1_code_penalty,
    masking_noise,
    reconstruction_loss,
    train_autoencoder,
)

from ._experiment import Experiment, fit_quietly, last, tag
from ._generative import data_config, latent_scatter, load_digits, mosaic

NAME = "autoencoder"
DESCRIPTION = "Autoencoders on MNIST (undercomplete, sparse, denoising, conv) and pretraining"
QUICK = {"epochs": 1, "finetune_epochs": 2, "subset": 600, "test_subset": 100, "hidden": 64,
         "labels": 100}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"epochs": 5, "finetune_epochs": 30, "hidden": 256, "code_dim": 32, "lr": 1e-3,
            "batch_size": 128, "noise_std": 0.5, "mask_fraction": 0.3, "l1_weight": 1e-3,
            "sparsity_target": 0.05, "sparsity_weight": 0.5, "labels": 500, "seed": 0,
            **data_config(), "subset": 20000}  # fmt: skip


def _variants(c: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "undercomplete": {},
        "sparse (L1)": {"penalty": lambda h: l1_code_penalty(h, c["l1_weight"])},
        "sparse (KL)": {"act": "sigmoid", "penalty": lambda h: kl_sparsity_penalty(
            h, c["sparsity_target"], c["sparsity_weight"])},
        "denoising (Gaussian)": {"corrupt": lambda x, r: gaussian_noise(x, c["noise_std"], r)},
        "denoising (masking)": {"corrupt": lambda x, r: masking_noise(x, c["mask_fraction"], r)},
        "convolutional": {"conv": True},
    }  # fmt: skip


def _test_loss(model: Any, X: np.ndarray, conv: bool) -> tuple[float, float]:
    with no_grad():
        x = Tensor(X.reshape(-1, 1, 28, 28) if conv else X)
        code = model.encode(x)
        return float(reconstruction_loss(model.decode(code), x)), float(abs(code).mean())


def _train_variants(exp: Experiment, c: dict[str, Any], X, Xt, rng) -> dict[str, Any]:
    models, rows = {}, []
    arms = exp.arms(len(_variants(c)))
    for name, v in _variants(c).items():
        arms.start(name)
        if v.get("conv"):
            model = ConvAutoencoder(1, 16, c["code_dim"], generator=rng)
            data = X.reshape(-1, 1, 28, 28)
        else:
            sizes = (784, c["hidden"], c["code_dim"])
            model, data = Autoencoder(sizes, code_activation=v.get("act"), generator=rng), X
        hist = train_autoencoder(model, data, c["epochs"], rng, c["lr"], c["batch_size"],
                                 corrupt=v.get("corrupt"), penalty=v.get("penalty"))  # fmt: skip
        exp.records += [{"run": name, "epoch": e, "train_loss": h} for e, h in enumerate(hist)]
        loss, code = _test_loss(model, Xt, bool(v.get("conv")))
        rows.append({"autoencoder": name, "test reconstruction (nats/image)": loss,
                     "mean |code|": code})  # fmt: skip
        models[name] = model
        arms.end(f"test reconstruction {loss:.4g} nats/image")
    exp.table(
        "Reconstruction on the test set",
        rows,
        "Sparse codes trade a little reconstruction for small mean activations.",
    )
    return models


def _recon_plot(exp: Experiment, models: dict[str, Any], c: dict[str, Any], Xt, rng) -> None:
    x = Tensor(Xt[:8])
    noisy_g, noisy_m = (
        gaussian_noise(x, c["noise_std"], rng),
        masking_noise(x, c["mask_fraction"], rng),
    )
    sig = lambda t: 1 / (1 + np.exp(-t._data))
    with no_grad():
        rows = [x._data, sig(models["undercomplete"](x)), np.clip(noisy_g._data, 0, 1),
                sig(models["denoising (Gaussian)"](noisy_g)), noisy_m._data,
                sig(models["denoising (masking)"](noisy_m))]  # fmt: skip
    labels = ["input", "AE", "+ noise", "DAE", "masked", "DAE"]
    exp.plots.append(mosaic(np.stack(rows).reshape(6, 8, 28, 28), exp.out / "reconstructions.png",
                            "Reconstructions; denoising AEs clean corrupted inputs", labels))  # fmt: skip


def _code_map(exp: Experiment, c: dict[str, Any], X, Xt, yt, rng) -> None:
    model = Autoencoder((784, c["hidden"], 2), generator=rng)
    train_autoencoder(model, X, c["epochs"], rng, c["lr"], c["batch_size"])
    with no_grad():
        z = model.encode(Tensor(Xt))._data
    exp.plots.append(latent_scatter(z, yt, exp.out / "code_map.png",
                                    "2-unit autoencoder: codes of test digits"))  # fmt: skip


def _pretraining(exp: Experiment, c: dict[str, Any], X, y, Xt, yt, rng) -> None:
    sizes = [784, c["hidden"], 64]
    corrupt = lambda x, r: masking_noise(x, c["mask_fraction"], r)
    layers = greedy_layerwise_pretrain(
        sizes, X, c["epochs"], rng, c["lr"], c["batch_size"], corrupt
    )
    fresh = [nn.Linear(a, b, generator=rng) for a, b in itertools.pairwise(sizes)]
    labelled = (X[: c["labels"]], y[: c["labels"]])
    curves, rows = {}, []
    for name, (l1, l2) in {"pretrained + fine-tuned": layers, "from scratch": fresh}.items():
        model = nn.Sequential(l1, nn.Sigmoid(), l2, nn.Sigmoid(), nn.Linear(64, 10, generator=rng))
        opt = optim.Adam(model.parameters(), lr=c["lr"])
        records = fit_quietly(model, nn.CrossEntropyLoss(), opt, labelled, (Xt, yt),
                              c["finetune_epochs"], 32, c["seed"])  # fmt: skip
        exp.records += tag(records, run=name)
        curves[name] = [r["val_accuracy"] for r in records]
        rows.append({"classifier": name, "test accuracy": last(records, "val_accuracy")})
    exp.plots.append(plots.curves(curves, exp.out / "pretraining.png",
                                  f"Test accuracy with {c['labels']} labels (784-{c['hidden']}-64-10)",
                                  ylabel="test accuracy"))  # fmt: skip
    exp.table(
        "Greedy layer-wise pretraining vs from scratch",
        rows,
        "Unsupervised pretraining on all images helps most when labels are few.",
    )


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    X, y, Xt, yt = load_digits(config)
    models = _train_variants(exp, config, X, Xt, rng)
    _recon_plot(exp, models, config, Xt, rng)
    _code_map(exp, config, X, Xt, yt, rng)
    _pretraining(exp, config, X, y, Xt, yt, rng)
    return exp.finish()
