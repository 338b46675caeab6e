"""gnn-sbm: node classification on a stochastic block model, GCN vs GraphSAGE vs GAT vs an MLP.

A stochastic block model links nodes of the same block with probability p_in
and of different blocks with p_out < p_in; node features are a noisy block
signature.  Only a few nodes per block are labelled (semi-supervised, as in
Kipf & Welling 2017).  An MLP sees each node's features alone; the graph
layers average them over neighbours, which mostly share the node's block, so
the noise cancels and accuracy on the unlabelled nodes rises.  Zachary's karate
club (two labelled members) is reported too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import nn, optim, plots, plots_vision
from deepgrad.core.random import manual_seed
from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.data.graph import Graph, karate_club, stochastic_block_model
from deepgrad.ops import relu

from ._experiment import Experiment, tag

NAME = "gnn-sbm"
DESCRIPTION = "graph networks (GCN, GraphSAGE, GAT) vs an MLP on a stochastic block model"
QUICK = {"epochs": 20, "n_per_block": 20}
MODELS = ["MLP (features only)", "GCN", "GraphSAGE", "GAT"]


def default_config() -> dict[str, Any]:
    return {"epochs": 150, "lr": 0.01, "weight_decay": 5e-4, "hidden": 16, "seed": 0,
            "blocks": 3, "n_per_block": 60, "p_in": 0.15, "p_out": 0.015, "feature_dim": 8,
            "feature_noise": 2.0, "labelled_per_block": 5, "dropout": 0.5}  # fmt: skip


class NodeClassifier(nn.Module):
    """Two graph layers (or two linear layers for the MLP), ReLU and dropout between them.

    Dropout on the input and hidden features (p = 0.5) and weight decay are Kipf &
    Welling's regularisers: with a handful of labels, every model overfits without them.
    """

    def __init__(self, kind: str, d_in: int, hidden: int, d_out: int, dropout: float = 0.5,
                 generator: np.random.Generator | None = None) -> None:  # fmt: skip
        super().__init__()
        self.kind = kind
        self.drop = nn.Dropout(dropout, generator=generator)
        if kind == "GAT":
            self.c1, self.c2 = (
                nn.GATConv(d_in, hidden, heads=4, concat=False),
                nn.GATConv(hidden, d_out),
            )
        elif kind == "GraphSAGE":
            self.c1, self.c2 = nn.SAGEConv(d_in, hidden), nn.SAGEConv(hidden, d_out)
        elif kind == "GCN":
            self.c1, self.c2 = nn.GCNConv(d_in, hidden), nn.GCNConv(hidden, d_out)
        else:
            self.c1, self.c2 = nn.Linear(d_in, hidden), nn.Linear(hidden, d_out)

    def hidden(self, x: Tensor, edge_index: np.ndarray) -> Tensor:
        x = self.drop(x)
        return relu(self.c1(x) if isinstance(self.c1, nn.Linear) else self.c1(x, edge_index))

    def forward(self, x: Tensor, edge_index: np.ndarray) -> Tensor:
        h = self.drop(self.hidden(x, edge_index))
        return self.c2(h) if isinstance(self.c2, nn.Linear) else self.c2(h, edge_index)


def labelled_mask(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """True for `per_class` randomly chosen nodes of each class."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        mask[rng.choice(np.flatnonzero(y == c), size=per_class, replace=False)] = True
    return mask


def train_nodes(model: NodeClassifier, g: Graph, mask: np.ndarray, config: dict[str, Any]):
    """Full-batch training on the labelled nodes; per-epoch loss and unlabelled accuracy."""
    opt = optim.Adam(model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"])
    x, target = Tensor(g.x), Tensor(g.y[mask])
    records = []
    for epoch in range(1, config["epochs"] + 1):
        model.train()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x, g.edge_index)[mask], target)
        loss.backward()
        opt.step()
        model.eval()
        with no_grad():
            pred = model(x, g.edge_index)._data.argmax(axis=1)
        acc = float((pred == g.y)[~mask].mean())
        records.append({"epoch": epoch, "loss": float(loss._data), "test_accuracy": acc})
    return records


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = Experiment(NAME, DESCRIPTION, config, out_dir)
    g = stochastic_block_model([config["n_per_block"]] * config["blocks"], config["p_in"],
                               config["p_out"], config["feature_dim"], config["feature_noise"],
                               seed=config["seed"])  # fmt: skip
    mask = labelled_mask(g.y, config["labelled_per_block"], config["seed"])
    accuracy, rows, gcn = {}, [], None
    arms = exp.arms(len(MODELS))
    for kind in MODELS:
        arms.start(kind)
        manual_seed(config["seed"])
        model = NodeClassifier(kind, g.x.shape[1], config["hidden"], config["blocks"],
                               config["dropout"], np.random.default_rng(config["seed"]))  # fmt: skip
        records = train_nodes(model, g, mask, config)
        exp.records += tag(records, model=kind)
        accuracy[kind] = [r["test_accuracy"] for r in records]
        rows.append({"model": kind, "unlabelled accuracy": records[-1]["test_accuracy"],
                     "final training loss": records[-1]["loss"]})  # fmt: skip
        gcn = model if kind == "GCN" else gcn
        arms.end(f"unlabelled accuracy {records[-1]['test_accuracy']:.3f}")
    karate = karate_club()
    kmask = np.zeros(34, dtype=bool)
    kmask[[0, 33]] = True
    manual_seed(config["seed"])
    kmodel = NodeClassifier("GCN", 34, config["hidden"], 2, config["dropout"],
                            np.random.default_rng(config["seed"]))  # fmt: skip
    krec = train_nodes(kmodel, karate, kmask, {**config, "epochs": min(config["epochs"], 60)})
    rows.append({"model": "GCN on the karate club (2 labelled)",
                 "unlabelled accuracy": krec[-1]["test_accuracy"],
                 "final training loss": krec[-1]["loss"]})  # fmt: skip
    labelled = int(mask.sum())
    exp.plots.append(plots.curves(accuracy, exp.out / "accuracy.png",
                                  f"Stochastic block model: {labelled} of {len(g.y)} nodes labelled",
                                  ylabel="accuracy on unlabelled nodes"))  # fmt: skip
    n = len(g.y)
    adjacency = np.zeros((n, n))
    adjacency[g.edge_index[1], g.edge_index[0]] = 1
    with no_grad():
        hidden = gcn.hidden(Tensor(g.x), g.edge_index)._data
    exp.plots.append(plots_vision.graph_panels(adjacency, hidden, g.y, exp.out / "graph.png",
                                        f"SBM (p_in {config['p_in']}, p_out {config['p_out']}) "
                                        "and the trained GCN's hidden features",
                                        "GCN hidden features (first two principal components)"))  # fmt: skip
    exp.table("Node classification", rows,
              "Accuracy is on the nodes whose labels the model never saw.")  # fmt: skip
    return exp.finish()
