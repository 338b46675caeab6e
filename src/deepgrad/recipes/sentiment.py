"""sentiment: negation needs word order; a bag of words cannot see it.

A generated corpus of short reviews: "the film was good", "the acting was not good",
"i did not expect much , but the plot was great".  The label is the polarity of
the final adjective, flipped when "not" (or "never") stands right before it; a
"not" elsewhere (a distractor clause) changes nothing.  A bag of words sees the
same counts in "not good" and "did not ... good", and it cannot express the XOR of
"negated" and "positive word" with one linear layer; a stacked bidirectional GRU
reads the order and solves it.  Sentences have different lengths and are fed to
the GRU as a `PackedSequence`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.nn.utils.rnn import pack_padded_sequence
from deepgrad.ops.shape import concatenate
from deepgrad.train.progress import Progress

from ._experiment import Experiment
from ._sequence import train_step

NAME = "sentiment"
DESCRIPTION = "stacked bidirectional GRU vs bag of words on reviews with negation"
QUICK = {"train_size": 64, "test_size": 64, "steps": 6, "eval_every": 3, "hidden": 8}
POSITIVE = ["good", "great", "excellent", "wonderful", "fine", "pleasant"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "dull", "poor"]
NOUNS = ["film", "movie", "plot", "acting", "music", "ending", "story", "cast"]
OPENERS = [[], ["honestly", ","], ["i", "did", "not", "expect", "much", ",", "but"],
           ["it", "was", "not", "cheap", ",", "and"], ["i", "think"]]  # fmt: skip


def default_config() -> dict[str, Any]:
    return {"train_size": 4000, "test_size": 1000, "steps": 800, "batch_size": 64,
            "embed": 16, "hidden": 32, "layers": 2, "lr": 0.005, "eval_every": 50,
            "seed": 0}  # fmt: skip


def make_corpus(n: int, rng: np.random.Generator) -> tuple[list[list[str]], np.ndarray]:
    """n tokenised reviews and labels (1 positive, 0 negative)."""
    sents, labels = [], []
    for _ in range(n):
        positive, negated = rng.random() < 0.5, rng.random() < 0.5
        adj = rng.choice(POSITIVE if positive else NEGATIVE)
        neg = [str(rng.choice(["not", "never"]))] if negated else []
        very = ["very"] if rng.random() < 0.3 else []
        opener = OPENERS[rng.integers(len(OPENERS))]
        body = ["the", str(rng.choice(NOUNS)), "was", *neg, *very, str(adj)]
        sents.append([*opener, *body])
        labels.append(int(positive != negated))
    return sents, np.array(labels)


class BiGRUClassifier(nn.Module):
    """Embedding -> stacked bidirectional GRU over packed sequences -> linear on [h_fwd; h_bwd]."""

    def __init__(self, vocab: int, cfg: dict[str, Any], rng: np.random.Generator) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, cfg["embed"], padding_idx=0, generator=rng)
        self.gru = nn.GRU(cfg["embed"], cfg["hidden"], cfg["layers"], batch_first=True,
                          bidirectional=True, generator=rng)  # fmt: skip
        self.head = nn.Linear(2 * cfg["hidden"], 2, generator=rng)

    def forward(self, ids: np.ndarray, lengths: np.ndarray) -> Tensor:
        packed = pack_padded_sequence(self.embed(ids), lengths, True, enforce_sorted=False)
        _, h = self.gru(packed)
        return self.head(concatenate([h[-2], h[-1]], -1))  # last layer, both directions


def encode(sents, vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded ids (N, L), lengths (N,) and bag-of-words counts (N, V)."""
    lengths = np.array([len(s) for s in sents])
    ids = np.zeros((len(sents), lengths.max()), np.int64)
    bow = np.zeros((len(sents), len(vocab) + 1))
    for k, s in enumerate(sents):
        ids[k, : len(s)] = [vocab[w] for w in s]
        np.add.at(bow[k], ids[k, : len(s)], 1.0)
    return ids, lengths, bow


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    rng = np.random.default_rng(config["seed"])
    train_s, train_y = make_corpus(config["train_size"], rng)
    test_s, test_y = make_corpus(config["test_size"], np.random.default_rng(config["seed"] + 1))
    words = sorted({w for s in train_s + test_s for w in s})
    vocab = {w: i + 1 for i, w in enumerate(words)}
    tr, te = encode(train_s, vocab), encode(test_s, vocab)
    models = {"bag of words (logistic regression)": nn.Linear(len(vocab) + 1, 2, generator=rng),
              "2-layer bidirectional GRU":
                  BiGRUClassifier(len(vocab) + 1, config, rng)}  # fmt: skip
    curves, rows = {}, []
    arms = exp.arms(len(models))
    for name, model in models.items():
        arms.start(name)
        progress = Progress(config["steps"], f"{NAME} {name}")
        gru = isinstance(model, BiGRUClassifier)
        predict = (
            (lambda d, m=model: m(d[0], d[1])) if gru else (lambda d, m=model: m(Tensor(d[2])))
        )
        opt = optim.Adam(model.parameters(), lr=config["lr"])
        curve = []
        for step in range(1, config["steps"] + 1):
            b = rng.integers(0, len(train_y), config["batch_size"])
            batch = (tr[0][b][:, : tr[1][b].max()], tr[1][b], tr[2][b])
            loss = nn.CrossEntropyLoss()(predict(batch), Tensor(train_y[b]))
            train_step(model, loss, opt, 1.0)
            if step % config["eval_every"] == 0 or step == config["steps"]:
                with no_grad():
                    curve.append(float((predict(te)._data.argmax(1) == test_y).mean()))
                exp.records.append({"run": name, "step": step, "test_accuracy": curve[-1]})
            progress.update(**({"test_accuracy": curve[-1]} if curve else {}))
        progress.close()
        curves[name] = curve
        rows.append({"model": name, "test accuracy": curve[-1]})
        arms.end(f"test accuracy {curve[-1]:.3f}")
    exp.plots.append(plots.curves(
        curves, exp.out / "accuracy.png",
        f"Sentiment with negation: test accuracy every {config['eval_every']} steps",
        xlabel=f"evaluation (one every {config['eval_every']} steps)",
        ylabel="test accuracy"))  # fmt: skip
    exp.table("Test accuracy", rows, "The bag of words cannot tell 'was not good' from 'did "
              "not expect much , but ... was good'; the GRU reads the order.")  # fmt: skip
    exp.sections += ["Example reviews:", ""] + [
        f"- {' '.join(s)} -> {'positive' if y else 'negative'}"
        for s, y in zip(test_s[:6], test_y[:6])
    ] + [""]  # fmt: skip
    return exp.finish()
