"""sine-forecast: a temporal convolution network (TCN) and an LSTM forecast a noisy signal.

The signal is $\\sin(2\\pi t / 40) + 0.5 \\sin(2\\pi t / 13)$ plus Gaussian noise.  From a
window of past values each model predicts the next one.  The TCN (Bai et al. 2018)
stacks residual causal convolutions with dilations 1, 2, 4, ... (receptive field
$1 + (k - 1)\\sum_l d_l$); all its time steps are computed in parallel, while the
LSTM steps through the window.  The run plots validation MSE for both and a
100-step autoregressive forecast (each prediction fed back as the next input).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.ops import elementwise as E
from deepgrad.train.progress import Progress

from ._experiment import Experiment
from ._sequence import train_step

NAME = "sine-forecast"
DESCRIPTION = "TCN (dilated causal convolutions) vs LSTM forecasting a noisy signal"
QUICK = {"length": 400, "window": 16, "steps": 6, "eval_every": 3, "channels": 4,
         "hidden": 8, "levels": 2, "horizon": 20}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"length": 3000, "noise": 0.1, "window": 64, "steps": 800, "batch_size": 32,
            "channels": 16, "levels": 5, "kernel": 2, "hidden": 32, "lr": 0.003,
            "eval_every": 50, "horizon": 100, "seed": 0}  # fmt: skip


def signal(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy observations and the clean signal, both (n,)."""
    t = np.arange(n)
    clean = np.sin(2 * np.pi * t / 40) + 0.5 * np.sin(2 * np.pi * t / 13)
    return (clean + noise * rng.standard_normal(n)).astype(np.float32), clean


class TCN(nn.Module):
    """Residual blocks of CausalConv1d (dilation 2^l) + ReLU, then a linear read-out of the
    last time step: (N, T) -> (N, 1)."""

    def __init__(self, cfg: dict[str, Any], rng: np.random.Generator) -> None:
        super().__init__()
        c, k = cfg["channels"], cfg["kernel"]
        self.inp = nn.Conv1d(1, c, 1, generator=rng)
        self.convs = nn.ModuleList([nn.CausalConv1d(c, c, k, dilation=2**lvl, generator=rng)
                                    for lvl in range(cfg["levels"])])  # fmt: skip
        self.out = nn.Linear(c, 1, generator=rng)

    def forward(self, x: Tensor) -> Tensor:
        h = self.inp(x.reshape(x.shape[0], 1, x.shape[1]))
        for conv in self.convs:
            h = E.add(h, E.relu(conv(h)))
        return self.out(h[:, :, -1])


class LSTMForecaster(nn.Module):
    """LSTM over the window, linear read-out of the last state: (N, T) -> (N, 1)."""

    def __init__(self, cfg: dict[str, Any], rng: np.random.Generator) -> None:
        super().__init__()
        self.rnn = nn.LSTM(1, cfg["hidden"], batch_first=True, generator=rng)
        self.out = nn.Linear(cfg["hidden"], 1, generator=rng)

    def forward(self, x: Tensor) -> Tensor:
        _, (h, _) = self.rnn(x.reshape(x.shape[0], x.shape[1], 1))
        return self.out(h[-1])


def windows(series: np.ndarray, starts: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    idx = starts[:, None] + np.arange(w)
    return series[idx], series[starts + w][:, None]


def rollout(model: nn.Module, history: np.ndarray, steps: int) -> np.ndarray:
    """Autoregressive forecast: each prediction becomes the newest input."""
    buf = list(history)
    w = len(history)
    with no_grad():
        for _ in range(steps):
            buf.append(float(model(Tensor(np.array([buf[-w:]])))._data[0, 0]))
    return np.array(buf[w:])


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    obs, clean = signal(config["length"], config["noise"], rng)
    w, split = config["window"], int(0.8 * config["length"])
    val_starts = np.arange(split, config["length"] - w - 1)
    vx, vy = windows(obs, val_starts, w)
    curves, rows, forecasts = {}, [], {}
    h = config["horizon"]
    arms = exp.arms(2)
    for name in ("TCN", "LSTM"):
        arms.start(name)
        progress = Progress(config["steps"], f"{NAME} {name}")
        mrng = np.random.default_rng(config["seed"])
        model = TCN(config, mrng) if name == "TCN" else LSTMForecaster(config, mrng)
        opt = optim.Adam(model.parameters(), lr=config["lr"])
        curve = []
        for step in range(1, config["steps"] + 1):
            x, y = windows(obs, mrng.integers(0, split - w - 1, config["batch_size"]), w)
            loss = nn.MSELoss()(model(Tensor(x)), Tensor(y))
            train_step(model, loss, opt, 1.0)
            if step % config["eval_every"] == 0 or step == config["steps"]:
                with no_grad():
                    curve.append(float(np.mean((model(Tensor(vx))._data - vy) ** 2)))
                exp.records.append({"run": name, "step": step, "val_mse": curve[-1]})
            progress.update(**({"val_mse": curve[-1]} if curve else {}))
        progress.close()
        curves[name] = curve
        forecasts[f"{name} forecast"] = rollout(model, obs[split - w : split], h)
        err = forecasts[f"{name} forecast"] - clean[split : split + h]
        rows.append({"model": name, "parameters": model.num_parameters(),
                     "val MSE (one step)": curve[-1],
                     f"MSE vs clean signal, {h}-step rollout": float(np.mean(err**2))})  # fmt: skip
        arms.end(f"val MSE {curve[-1]:.3g}")
    noise_key = f"noise variance {config['noise'] ** 2:g}"
    curves[noise_key] = [config["noise"] ** 2] * len(curve)
    exp.plots.append(plots.curves(
        curves, exp.out / "learning_curves.png",
        f"One-step forecast: validation MSE every {config['eval_every']} steps",
        xlabel=f"evaluation (one every {config['eval_every']} steps)", ylabel="validation MSE",
        logy=True, styles={noise_key: "--"}))  # fmt: skip
    series = {"observed": obs[split : split + h], "clean signal": clean[split : split + h],
              **forecasts}  # fmt: skip
    exp.plots.append(plots.curves(
        series, exp.out / "forecast.png", f"{h}-step autoregressive forecast after the training "
        "part", xlabel="time step after the split", ylabel="value",
        styles={"observed": ".", "clean signal": "-"}))  # fmt: skip
    exp.table("Results", rows, "The validation MSE cannot go below the noise variance.")
    return exp.finish()
