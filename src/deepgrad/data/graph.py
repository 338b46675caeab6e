"""Graphs as arrays, batching many graphs into one, and the generated graph data sets.

A graph is node features `x` (N, F), `edge_index` (2, E) of int64 with row 0 the
source and row 1 the target of each directed edge (messages flow source ->
target, PyTorch Geometric's convention), optional `edge_attr` (E, D) and a
target `y` (per node, per edge or per graph).  An undirected edge is two
directed ones.

`batch_graphs` puts many graphs into one block-diagonal graph: node indices of
graph k are offset by the number of nodes before it, and `batch[n]` names the
graph of node n, which is what the global pooling layers reduce over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Graph:
    """One graph (or a batch of graphs, when `batch` is set)."""

    x: np.ndarray
    edge_index: np.ndarray
    edge_attr: np.ndarray | None = None
    y: np.ndarray | None = None
    batch: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.edge_index = np.asarray(self.edge_index, dtype=np.int64).reshape(2, -1)
        n = len(self.x)
        if self.edge_index.size and (self.edge_index.min() < 0 or self.edge_index.max() >= n):
            raise ValueError(
                f"Graph: edge_index values must lie in [0, {n}) for {n} nodes; got min "
                f"{self.edge_index.min()}, max {self.edge_index.max()}"
            )
        if self.edge_attr is not None and len(self.edge_attr) != self.edge_index.shape[1]:
            raise ValueError(
                f"Graph: edge_attr has {len(self.edge_attr)} rows for "
                f"{self.edge_index.shape[1]} edges"
            )

    @property
    def num_nodes(self) -> int:
        return len(self.x)

    @property
    def num_edges(self) -> int:
        return self.edge_index.shape[1]

    @property
    def num_graphs(self) -> int:
        return 1 if self.batch is None else int(self.batch.max()) + 1 if self.batch.size else 0


def undirected(edges: Sequence[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """(2, 2E) edge_index with both directions of each undirected edge (i, j)."""
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return np.concatenate([e.T, e[:, ::-1].T], axis=1)


def batch_graphs(graphs: Sequence[Graph]) -> Graph:
    """One block-diagonal graph holding `graphs`, with `batch` naming each node's graph."""
    if not graphs:
        raise ValueError("batch_graphs: needs at least one graph")
    offsets = np.cumsum([0] + [g.num_nodes for g in graphs[:-1]])
    edge_index = np.concatenate([g.edge_index + o for g, o in zip(graphs, offsets)], axis=1)
    has_attr = [g.edge_attr is not None for g in graphs]
    if any(has_attr) and not all(has_attr):
        raise ValueError("batch_graphs: some graphs have edge_attr and some do not")
    edge_attr = np.concatenate([g.edge_attr for g in graphs]) if all(has_attr) else None
    ys = [g.y for g in graphs]
    y = None if any(v is None for v in ys) else np.concatenate([np.atleast_1d(v) for v in ys])
    batch = np.concatenate([np.full(g.num_nodes, k, dtype=np.int64) for k, g in enumerate(graphs)])
    x = np.concatenate([g.x for g in graphs])
    return Graph(x, edge_index, edge_attr, y, batch)


def stochastic_block_model(
    sizes: Sequence[int] = (40, 40, 40),
    p_in: float = 0.2,
    p_out: float = 0.02,
    feature_dim: int = 8,
    feature_noise: float = 1.0,
    seed: int = 0,
) -> Graph:
    """A stochastic block model: edges with probability p_in inside a block, p_out across.

    Node features are a noisy block signature (class mean plus N(0, feature_noise^2)),
    so the graph structure carries information the features alone blur; `y` is
    the block of each node.
    """
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(s, k) for k, s in enumerate(sizes)]).astype(np.int64)
    n = len(y)
    prob = np.where(y[:, None] == y[None, :], p_in, p_out)
    upper = np.triu(rng.random((n, n)) < prob, k=1)
    edges = np.argwhere(upper)
    means = rng.normal(0, 1, size=(len(sizes), feature_dim))
    x = (means[y] + rng.normal(0, feature_noise, size=(n, feature_dim))).astype(np.float32)
    return Graph(x, undirected(edges), y=y)


# Zachary's karate club (1977): 34 members, 78 friendships; y = the club each member joined.
_KARATE_EDGES = [
    (0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (0, 6), (0, 7), (0, 8), (0, 10), (0, 11), (0, 12),
    (0, 13), (0, 17), (0, 19), (0, 21), (0, 31), (1, 2), (1, 3), (1, 7), (1, 13), (1, 17),
    (1, 19), (1, 21), (1, 30), (2, 3), (2, 7), (2, 8), (2, 9), (2, 13), (2, 27), (2, 28),
    (2, 32), (3, 7), (3, 12), (3, 13), (4, 6), (4, 10), (5, 6), (5, 10), (5, 16), (6, 16),
    (8, 30), (8, 32), (8, 33), (9, 33), (13, 33), (14, 32), (14, 33), (15, 32), (15, 33),
    (18, 32), (18, 33), (19, 33), (20, 32), (20, 33), (22, 32), (22, 33), (23, 25), (23, 27),
    (23, 29), (23, 32), (23, 33), (24, 25), (24, 27), (24, 31), (25, 31), (26, 29), (26, 33),
    (27, 33), (28, 31), (28, 33), (29, 32), (29, 33), (30, 32), (30, 33), (31, 32), (31, 33),
    (32, 33),
]  # fmt: skip
_KARATE_CLUB_1 = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 16, 17, 19, 21}


def karate_club() -> Graph:
    """Zachary's karate club: one-hot node identities as features, `y` = 0 (Mr. Hi) or 1."""
    y = np.array([0 if v in _KARATE_CLUB_1 else 1 for v in range(34)], dtype=np.int64)
    return Graph(np.eye(34, dtype=np.float32), undirected(_KARATE_EDGES), y=y)


def _cycle(n: int) -> np.ndarray:
    return undirected([(i, (i + 1) % n) for i in range(n)])


def _random_tree(n: int, rng: np.random.Generator) -> np.ndarray:
    return undirected([(int(rng.integers(0, i)), i) for i in range(1, n)])


def cycles_and_trees(
    n_graphs: int = 200, min_nodes: int = 6, max_nodes: int = 12, seed: int = 0
) -> list[Graph]:
    """Graph classification: a cycle (y = 1) or a random tree (y = 0) of the same size.

    Every node has the same feature (a constant 1), so only the structure tells
    them apart: a cycle has every degree 2, a tree has leaves.
    """
    rng = np.random.default_rng(seed)
    graphs = []
    for k in range(n_graphs):
        n = int(rng.integers(min_nodes, max_nodes + 1))
        is_cycle = k % 2
        edges = _cycle(n) if is_cycle else _random_tree(n, rng)
        x = np.ones((n, 1), dtype=np.float32)
        graphs.append(Graph(x, edges, y=np.array([is_cycle], dtype=np.int64)))
    order = rng.permutation(n_graphs)
    return [graphs[i] for i in order]


def tracking_graph(
    n_objects: int = 6, n_frames: int = 5, noise: float = 0.05, seed: int = 0
) -> Graph:
    """Multi-object tracking as edge classification (as in I2DL's tracking lecture).

    Objects move with constant velocity in the unit square; each frame gives one
    noisy detection per object (position and velocity estimate, the frame index).
    Candidate edges link every detection of frame t to every one of frame t+1;
    `y[e] = 1` when both ends are the same object.  Edge features are the
    displacement and the frame gap.
    """
    rng = np.random.default_rng(seed)
    start = rng.random((n_objects, 2))
    vel = rng.normal(0, 0.05, size=(n_objects, 2))
    feats, ids = [], []
    for t in range(n_frames):
        pos = start + t * vel + rng.normal(0, noise, size=(n_objects, 2))
        v = vel + rng.normal(0, noise / 2, size=(n_objects, 2))
        perm = rng.permutation(n_objects)  # detections arrive in no particular order
        feats.append(np.concatenate([pos[perm], v[perm], np.full((n_objects, 1), t / n_frames)], 1))
        ids.append(perm)
    x = np.concatenate(feats).astype(np.float32)
    obj = np.concatenate(ids)
    src, dst = [], []
    for t in range(n_frames - 1):
        a = np.arange(t * n_objects, (t + 1) * n_objects)
        b = a + n_objects
        src.append(np.repeat(a, n_objects))
        dst.append(np.tile(b, n_objects))
    s, d = np.concatenate(src), np.concatenate(dst)
    edge_index = np.stack([s, d])
    edge_attr = np.concatenate([x[d, :2] - x[s, :2], x[d, 4:5] - x[s, 4:5]], 1).astype(np.float32)
    y = (obj[s] == obj[d]).astype(np.int64)
    return Graph(x, edge_index, edge_attr, y)


__all__ = [
    "Graph", "batch_graphs", "cycles_and_trees", "karate_club", "stochastic_block_model",
    "tracking_graph", "undirected",
]  # fmt: skip
