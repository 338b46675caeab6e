"""vae: a variational autoencoder on binarised MNIST (Kingma & Welling 2014).

Trains a 784-400-z Gaussian-encoder / Bernoulli-decoder VAE on dynamically binarised
digits (a fresh Bernoulli draw of every image each epoch), reports the negative ELBO per
epoch on train and test and, at the end, the importance-weighted estimate of the test
negative log-likelihood (Burda et al. 2016; k samples per image).  Plots: prior samples,
reconstructions, latent traversals, the ELBO curve, and a second VAE with a 2-D code
whose posterior means are drawn coloured by digit, next to the digits it decodes across
that plane; and a conditional VAE (Sohn et al. 2015) asked for each digit with shared codes
(a 2-D code, so that the class has to come from the label).  Needs the MNIST files (`--data DIR`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import optim, plots
from deepgrad.core.state import no_grad
from deepgrad.models.generative import VAE, ConditionalVAE
from deepgrad.models.generative._layers import minibatches
from deepgrad.train.progress import Progress

from ._experiment import Experiment
from ._generative import as_grid, data_config, latent_scatter, load_digits, mosaic

NAME = "vae"
DESCRIPTION = "VAE on binarised MNIST: ELBO, IWAE log-likelihood, samples, 2-D latent map"
QUICK = {"epochs": 1, "map_epochs": 1, "cvae_epochs": 1, "subset": 600, "test_subset": 100, "hidden": 64,
         "iw_samples": 5}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"epochs": 10, "map_epochs": 5, "cvae_epochs": 5,
            "cvae_latent_dim": 2, "latent_dim": 20, "hidden": 400, "lr": 1e-3,
            "batch_size": 128, "beta": 1.0, "kl": "analytic", "iw_samples": 100, "seed": 0,
            **data_config()}  # fmt: skip


def _binarize(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(X.shape) < X).astype(np.float32)


def _neg_elbo(model: VAE, X: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
    out = {"neg_elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    with no_grad():
        for i in range(0, len(X), 500):
            e = model.elbo(X[i : i + 500], generator=rng)
            out["neg_elbo"] -= float(e["elbo"]._data.sum())
            out["reconstruction"] -= float(e["reconstruction"]._data.sum())
            out["kl"] += float(e["kl"]._data.sum())
    return {k: v / len(X) for k, v in out.items()}


def train_vae(config: dict[str, Any], latent_dim: int, epochs: int, train: np.ndarray,
              test: np.ndarray, rng: np.random.Generator,
              labels: np.ndarray | None = None) -> tuple[VAE, list[dict[str, Any]]]:  # fmt: skip
    """Adam on the negative ELBO; one record per epoch (train and test nats per image).
    With `labels` the model is a `ConditionalVAE` (test ELBO then left out)."""
    if labels is None:
        model = VAE(784, config["hidden"], latent_dim, generator=rng)
    else:
        model = ConditionalVAE(10, hidden=config["hidden"], latent_dim=latent_dim, generator=rng)
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    records = []
    what = "conditional VAE" if labels is not None else f"VAE, {latent_dim}-d latent"
    progress = Progress(epochs, f"vae ({what})", unit="epoch")
    for epoch in range(epochs):
        Xb, total = _binarize(train, rng), 0.0
        for idx in minibatches(len(Xb), config["batch_size"], rng):
            y = None if labels is None else labels[idx]
            loss = model.loss(Xb[idx], y, generator=rng, beta=config["beta"], kl=config["kl"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        progress.update(train_neg_elbo=total / len(Xb))
        if labels is not None:
            records.append({"model": "cvae", "epoch": epoch, "train_neg_elbo": total / len(Xb)})
            continue
        ev = _neg_elbo(model, test, rng)
        records.append({"latent_dim": latent_dim, "epoch": epoch, "train_neg_elbo": total / len(Xb),
                        "test_neg_elbo": ev["neg_elbo"], "test_kl": ev["kl"],
                        "test_reconstruction": ev["reconstruction"]})  # fmt: skip
    progress.close()
    return model, records


def _plots(exp: Experiment, model: VAE, test: np.ndarray, rng: np.random.Generator) -> None:
    with no_grad():
        samples = model.sample(64, rng)._data
        recon = model(test[:32], generator=rng)[0]._data
        mu = model.posterior(test[:1]).mean._data[0]
    exp.plots.append(mosaic(as_grid(samples, 8), exp.out / "samples.png",
                            "VAE: decoder means of 64 prior draws z ~ N(0, I)"))  # fmt: skip
    pairs = np.stack([test[:32].reshape(4, 8, 784), recon.reshape(4, 8, 784)], 1).reshape(8, 8, 784)
    rows = ["input", "recon."] * 4
    exp.plots.append(mosaic(pairs.reshape(8, 8, 28, 28), exp.out / "reconstructions.png",
                            "Test digits and their VAE reconstructions", rows))  # fmt: skip
    dims, values = min(8, model.latent_dim), np.linspace(-3, 3, 9)
    z = np.repeat(mu[None, None], dims, 0).repeat(len(values), 1)
    for d in range(dims):
        z[d, :, d] = values
    with no_grad():
        trav = model.decode_mean(z.reshape(-1, model.latent_dim).astype(np.float32))._data
    exp.plots.append(mosaic(trav.reshape(dims, len(values), 28, 28), exp.out / "latent_traversals.png",
                            "Latent traversals: one code dimension swept over [-3, 3]",
                            [f"z{d + 1}" for d in range(dims)], [f"{v:+.1f}" for v in values]))  # fmt: skip


def _map_plots(exp: Experiment, model: VAE, test: np.ndarray, labels: np.ndarray) -> None:
    with no_grad():
        z = model.posterior(test).mean._data
        grid = np.linspace(-2.5, 2.5, 12)
        zz = np.stack(np.meshgrid(grid, grid[::-1]), -1).reshape(-1, 2).astype(np.float32)
        dec = model.decode_mean(zz)._data
    exp.plots.append(latent_scatter(z, labels, exp.out / "latent_map.png",
                                    "2-D VAE: posterior means of test digits"))  # fmt: skip
    exp.plots.append(mosaic(dec.reshape(12, 12, 28, 28), exp.out / "latent_manifold.png",
                            "2-D VAE: digits decoded across the code plane (z in [-2.5, 2.5]^2)"))  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    X, y, Xt, yt = load_digits(config)
    test = _binarize(Xt, np.random.default_rng(12345))  # one fixed binarisation for evaluation
    model, records = train_vae(config, config["latent_dim"], config["epochs"], X, test, rng)
    with no_grad():
        iw = model.log_likelihood(test, k=config["iw_samples"], generator=rng)._data
    exp.records += records
    _plots(exp, model, test, rng)
    curves = {"train -ELBO": [r["train_neg_elbo"] for r in records],
              "test -ELBO": [r["test_neg_elbo"] for r in records]}  # fmt: skip
    exp.plots.append(plots.curves(curves, exp.out / "elbo_curve.png",
                                  f"Negative ELBO (nats per image), z = {config['latent_dim']}",
                                  ylabel="-ELBO (nats)"))  # fmt: skip
    small, small_records = train_vae(config, 2, config["map_epochs"], X, test, rng)
    exp.records += small_records
    _map_plots(exp, small, test, yt)
    k = config["cvae_latent_dim"]
    cvae, cvae_records = train_vae(config, k, config["cvae_epochs"], X, test, rng, labels=y)
    exp.records += cvae_records
    z = np.tile(rng.standard_normal((8, k)), (10, 1)).astype(np.float32)
    with no_grad():
        digits = cvae.decode_mean(z, np.repeat(np.arange(10), 8))._data
    exp.plots.append(mosaic(digits.reshape(10, 8, 28, 28), exp.out / "cvae_digits_by_class.png",
                            "Conditional VAE: row = requested digit, column = shared z",
                            [str(d) for d in range(10)]))  # fmt: skip
    last = records[-1]
    rows = [{"model": f"VAE z={config['latent_dim']}", "test -ELBO": last["test_neg_elbo"],
             "test KL": last["test_kl"], f"test -log p(x) (IWAE k={config['iw_samples']})":
             float(-iw.mean())},
            {"model": "VAE z=2", "test -ELBO": small_records[-1]["test_neg_elbo"],
             "test KL": small_records[-1]["test_kl"]}]  # fmt: skip
    exp.table(
        "Test set (nats per image)",
        rows,
        "The importance-weighted estimate is a tighter bound on -log p(x) than the ELBO.",
    )
    return exp.finish()
