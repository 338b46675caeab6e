"""char-lm: character language models, an LSTM and a small causal transformer.

Each model reads a window of characters and predicts the next one at every position
(Karpathy's char-rnn; a GPT-style decoder-only transformer, Radford et al. 2018).
The run plots validation perplexity $\\exp(\\text{mean NLL})$ for both and samples
text at two temperatures: $p_i \\propto \\exp(z_i / \\tau)$, where $\\tau < 1$ sharpens
the distribution (safer, more repetitive) and $\\tau = 1$ samples the model as is.
Train on any file with `--text FILE`; the default is a small built-in corpus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.train.progress import Progress

from ._corpus import CORPUS
from ._experiment import Experiment
from ._sequence import train_step

NAME = "char-lm"
DESCRIPTION = "character language models (LSTM and a small transformer): perplexity, samples"
QUICK = {"steps": 6, "eval_every": 3, "seq_len": 16, "hidden": 16, "d_model": 16,
         "sample_len": 40}  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"text": "", "steps": 300, "batch_size": 32, "seq_len": 64, "hidden": 128,
            "d_model": 64, "heads": 4, "layers": 2, "lr": 0.003, "clip": 1.0,
            "eval_every": 25, "sample_len": 300, "prompt": "The ", "seed": 0}  # fmt: skip


class CharLSTM(nn.Module):
    """Embedding -> LSTM -> linear: next-character logits at every position."""

    def __init__(self, vocab: int, hidden: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 32, generator=rng)
        self.rnn = nn.LSTM(32, hidden, batch_first=True, generator=rng)
        self.head = nn.Linear(hidden, vocab, generator=rng)

    def forward(self, idx: np.ndarray) -> Tensor:
        out, _ = self.rnn(self.embed(idx))
        return self.head(out)


class CharTransformer(nn.Module):
    """Embedding + learned positions -> pre-norm causal transformer encoder -> linear."""

    def __init__(self, vocab: int, cfg: dict[str, Any], rng: np.random.Generator) -> None:
        super().__init__()
        d = cfg["d_model"]
        self.embed = nn.Embedding(vocab, d, generator=rng)
        self.embed.weight._data *= 0.1
        self.pos = nn.LearnedPositionalEncoding(cfg["seq_len"], d, batch_first=True, generator=rng)
        layer = nn.TransformerEncoderLayer(d, cfg["heads"], 4 * d, 0.0, "gelu", batch_first=True,
                                           norm_first=True, generator=rng)  # fmt: skip
        self.body = nn.TransformerEncoder(layer, cfg["layers"], nn.LayerNorm(d))
        self.head = nn.Linear(d, vocab, generator=rng)

    def forward(self, idx: np.ndarray) -> Tensor:
        return self.head(self.body(self.pos(self.embed(idx)), is_causal=True))


def windows(data: np.ndarray, n: int, length: int, rng: np.random.Generator):
    """n random windows: inputs (n, length) and next-character targets (n, length)."""
    starts = rng.integers(0, len(data) - length - 1, n)
    idx = starts[:, None] + np.arange(length + 1)
    return data[idx[:, :-1]], data[idx[:, 1:]]


def perplexity(model: nn.Module, data: np.ndarray, length: int) -> float:
    """exp of the mean next-character NLL over consecutive windows of `data`."""
    count = max(1, (len(data) - 1) // length)
    idx = np.arange(count)[:, None] * length + np.arange(length + 1)
    idx = np.minimum(idx, len(data) - 1)
    x, y = data[idx[:, :-1]], data[idx[:, 1:]]
    with no_grad():
        logits = model(x)
        nll = nn.CrossEntropyLoss()(logits.reshape(-1, logits.shape[-1]), Tensor(y.reshape(-1)))
    return float(np.exp(nll._data))


def sample(model, chars: list[str], prompt: str, n: int, temperature: float, window: int,
           rng: np.random.Generator) -> str:  # fmt: skip
    """`prompt` continued by n characters drawn from softmax(logits / temperature)."""
    lookup = {c: i for i, c in enumerate(chars)}
    idx = [lookup[c] for c in prompt if c in lookup] or [0]
    with no_grad():
        for _ in range(n):
            logits = model(np.array([idx[-window:]]))._data[0, -1] / temperature
            p = np.exp(logits - logits.max())
            idx.append(int(rng.choice(len(chars), p=p / p.sum())))
    return "".join(chars[i] for i in idx)


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    text = Path(config["text"]).read_text(encoding="utf-8") if config["text"] else CORPUS
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text])
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    length = config["seq_len"]
    curves, samples, rows = {}, [], []
    arms = exp.arms(2)
    for name in ("LSTM", "transformer"):
        arms.start(name)
        progress = Progress(config["steps"], f"{NAME} {name}")
        rng = np.random.default_rng(config["seed"])
        if name == "LSTM":
            model = CharLSTM(len(chars), config["hidden"], rng)
        else:
            model = CharTransformer(len(chars), config, rng)
        opt = optim.Adam(model.parameters(), lr=config["lr"])
        curve = []
        for step in range(1, config["steps"] + 1):
            x, y = windows(train, config["batch_size"], length, rng)
            logits = model(x)
            loss = nn.CrossEntropyLoss()(logits.reshape(-1, len(chars)), Tensor(y.reshape(-1)))
            loss = train_step(model, loss, opt, config["clip"])
            if step % config["eval_every"] == 0 or step == config["steps"]:
                curve.append(perplexity(model, val, length))
                exp.records.append({"run": name, "step": step, "loss": loss,
                                    "val_perplexity": curve[-1]})  # fmt: skip
            progress.update(**({"val_perplexity": curve[-1]} if curve else {}))
        progress.close()
        arms.end(f"val perplexity {curve[-1]:.3g}")
        curves[name] = curve
        best = int(np.argmin(curve))
        best_step = min((best + 1) * config["eval_every"], config["steps"])
        rows.append({"model": name, "parameters": model.num_parameters(),
                     "val perplexity": curve[-1], "best val perplexity": curve[best],
                     "best at step": best_step})  # fmt: skip
        for tau in (0.5, 1.0):
            text_out = sample(
                model, chars, config["prompt"], config["sample_len"], tau, length, rng
            )
            samples += [f"### {name}, temperature {tau}", "", "```text", text_out, "```", ""]
    curves["uniform guess"] = [float(len(chars))] * len(curves["LSTM"])
    exp.plots.append(plots.curves(
        curves, exp.out / "perplexity.png",
        f"Character LM: validation perplexity every {config['eval_every']} steps",
        xlabel=f"evaluation (one every {config['eval_every']} steps)", ylabel="perplexity",
        logy=True, styles={"uniform guess": "--"}))  # fmt: skip
    exp.table("Validation perplexity", rows, f"{len(chars)} distinct characters; a uniform "
              f"guess has perplexity {len(chars)}.  On the small built-in corpus both models "
              "soon memorise the training text and the validation perplexity rises again "
              "(overfitting); give a larger file with --text.")  # fmt: skip
    exp.sections += ["## Samples", ""] + samples
    return exp.finish()
