"""reverse: a seq2seq model with attention learns to reverse digit sequences.

Sutskever et al. (2014) noticed that reversing the source made translation easier
for an encoder-decoder without attention: the first outputs then depend on the
last inputs read.  With attention (Bahdanau et al. 2015) the decoder looks up the
source position it needs at each step, so reversing a length-20 sequence is easy
and the attention maps show it: output step t attends to input 20 - 1 - t, an
anti-diagonal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.tensor import Tensor
from deepgrad.models import Seq2Seq

from ._experiment import Experiment
from ._sequence import heatmaps, train_step

NAME = "reverse"
DESCRIPTION = "seq2seq (GRU + additive attention) reverses length-20 digit sequences"
QUICK = {"length": 5, "steps": 10, "eval_every": 5, "test_size": 32, "hidden": 16}
BOS, EOS, FIRST = 1, 2, 3  # token 0 is unused padding; digits are tokens 3..12


def default_config() -> dict[str, Any]:
    return {"length": 20, "digits": 10, "steps": 1500, "batch_size": 64, "embed": 32,
            "hidden": 64, "lr": 0.003, "clip": 1.0, "teacher_forcing": 1.0,
            "eval_every": 100, "test_size": 500, "cell": "gru", "seed": 0}  # fmt: skip


def reverse_batch(n: int, cfg: dict[str, Any], rng: np.random.Generator):
    """Sources (n, L) of random digits and targets (n, L + 1): reversed, then eos."""
    src = rng.integers(FIRST, FIRST + cfg["digits"], (n, cfg["length"]))
    return src, np.concatenate([src[:, ::-1], np.full((n, 1), EOS)], 1)


def token_accuracy(model: Seq2Seq, src: np.ndarray, tgt: np.ndarray) -> float:
    """Fraction of target tokens (eos included) the greedy decoder gets right."""
    pred, _ = model.greedy_decode(src, tgt.shape[1])
    pred = np.pad(pred, ((0, 0), (0, tgt.shape[1] - pred.shape[1])), constant_values=EOS)
    return float((pred == tgt).mean())


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    vocab = FIRST + config["digits"]
    model = Seq2Seq(vocab, vocab, config["embed"], config["hidden"], config["cell"],
                    bos=BOS, eos=EOS, generator=rng)  # fmt: skip
    opt = optim.Adam(model.parameters(), lr=config["lr"])
    test_src, test_tgt = reverse_batch(config["test_size"], config,
                                       np.random.default_rng(config["seed"] + 1))  # fmt: skip
    losses, accs = [], []
    for step in range(1, config["steps"] + 1):
        src, tgt = reverse_batch(config["batch_size"], config, rng)
        logits = model(src, tgt, config["teacher_forcing"], generator=rng)
        loss = nn.CrossEntropyLoss()(logits.reshape(-1, vocab), Tensor(tgt.reshape(-1)))
        losses.append(train_step(model, loss, opt, config["clip"]))
        if step % config["eval_every"] == 0 or step == config["steps"]:
            accs.append(token_accuracy(model, test_src, test_tgt))
            exp.records.append({"step": step, "loss": losses[-1], "test_token_accuracy": accs[-1]})
    exp.plots.append(plots.curve_grid(
        {"training loss (per step)": {"cross-entropy": losses},
         f"test token accuracy (every {config['eval_every']} steps)": {"greedy": accs}},
        exp.out / "learning_curves.png", "Reversing digit sequences with attention",
        xlabel="step / evaluation", ylabel="value"))  # fmt: skip
    _, maps = model.greedy_decode(test_src[:2], test_tgt.shape[1])
    labels = [[str(t - FIRST) for t in s] for s in test_src[:2]]
    exp.plots.append(heatmaps(
        [m for m in maps], [f"example {k + 1}" for k in range(2)],
        exp.out / "attention_maps.png",
        "Attention of each output step over the source (anti-diagonal = reversal)",
        xlabel="source position (digit)", ylabel="output step",
        xticks=labels[0]))  # fmt: skip
    acc = accs[-1]
    exp.table("Result", [{"length": config["length"], "test token accuracy": acc,
                          ">= 99%": acc >= 0.99, "steps": config["steps"]}],
              "Greedy decoding of held-out sequences; eos counts as a token.")  # fmt: skip
    return exp.finish()
