"""Graph layers: equal to dense adjacency-matrix formulas, permutation equivariant, batchable.

The references below are written with dense matrices in NumPy (float64), the way
the papers state the layers; the layers themselves gather, scatter and reduce
per edge.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad import nn
from deepgrad.data.graph import (
    Graph,
    batch_graphs,
    cycles_and_trees,
    karate_club,
    stochastic_block_model,
    tracking_graph,
    undirected,
)
from deepgrad.ops.segment import segment_max


def _random_graph(rng, n=7, p=0.35, directed=True):
    adj = rng.random((n, n)) < p
    np.fill_diagonal(adj, False)
    if not directed:
        adj = adj | adj.T
    src, dst = np.nonzero(adj)
    return np.stack([src, dst]).astype(np.int64), adj


def _double(layer):
    layer.double()
    return layer


def test_gcn_equals_dense_formula():
    rng = np.random.default_rng(0)
    ei, adj = _random_graph(rng, directed=False)
    x = rng.normal(size=(7, 3))
    layer = _double(nn.GCNConv(3, 4))
    layer.bias.data[:] = rng.normal(size=4)
    a_hat = adj.T.astype(float) + np.eye(7)  # row i: the sources j -> i, plus i itself
    d = a_hat.sum(axis=1)
    ref = np.diag(d**-0.5) @ a_hat @ np.diag(d**-0.5) @ x @ layer.lin.weight.data.T
    ref = ref + layer.bias.data
    assert np.allclose(layer(dg.tensor(x), ei).numpy(), ref, atol=1e-12)


def test_sage_mean_equals_dense_formula():
    rng = np.random.default_rng(1)
    ei, adj = _random_graph(rng)
    x = rng.normal(size=(7, 3))
    layer = _double(nn.SAGEConv(3, 2))
    incoming = adj.T.astype(float)  # incoming[i, j] = 1 when j -> i
    deg = np.maximum(incoming.sum(axis=1, keepdims=True), 1)
    ref = (incoming @ x / deg) @ layer.lin_l.weight.data.T + layer.lin_l.bias.data
    ref = ref + x @ layer.lin_r.weight.data.T
    assert np.allclose(layer(dg.tensor(x), ei).numpy(), ref, atol=1e-12)


def test_gat_equals_dense_masked_attention():
    rng = np.random.default_rng(2)
    ei, adj = _random_graph(rng)
    x = rng.normal(size=(7, 3))
    layer = _double(nn.GATConv(3, 2, heads=2))
    z = (x @ layer.lin.weight.data.T).reshape(7, 2, 2)
    mask = adj.T | np.eye(7, dtype=bool)  # mask[i, j]: j -> i (self-loops added)
    out = np.zeros((7, 2, 2))
    for h in range(2):
        s = z[:, h] @ layer.att_src.data[h]
        t = z[:, h] @ layer.att_dst.data[h]
        e = t[:, None] + s[None, :]
        e = np.where(e > 0, e, 0.2 * e)
        e = np.where(mask, e, -np.inf)
        alpha = np.exp(e - e.max(axis=1, keepdims=True))
        alpha /= alpha.sum(axis=1, keepdims=True)
        out[:, h] = alpha @ z[:, h]
    ref = out.reshape(7, 4) + layer.bias.data
    assert np.allclose(layer(dg.tensor(x), ei).numpy(), ref, atol=1e-12)


def test_graph_net_block_sums_edge_updates_per_target():
    rng = np.random.default_rng(3)
    ei, _ = _random_graph(rng)
    x, e = rng.normal(size=(7, 3)), rng.normal(size=(ei.shape[1], 2))
    block = _double(nn.GraphNetBlock(3, 2, 4, 5, hidden=6))
    nodes, edges = block(dg.tensor(x), ei, dg.tensor(e))
    phi_e = edges.data
    for k, (j, i) in enumerate(ei.T):
        inp = np.concatenate([x[i], x[j], e[k]])[None]
        assert np.allclose(block.phi_e(dg.tensor(inp)).numpy()[0], phi_e[k], atol=1e-12)
    for i in range(7):
        m = phi_e[ei[1] == i].sum(axis=0)
        inp = np.concatenate([x[i], m])[None]
        assert np.allclose(block.phi_v(dg.tensor(inp)).numpy()[0], nodes.numpy()[i], atol=1e-12)


LAYERS = {
    "gcn": lambda: nn.GCNConv(3, 4),
    "sage-mean": lambda: nn.SAGEConv(3, 4),
    "sage-max": lambda: nn.SAGEConv(3, 4, aggr="max"),
    "gat": lambda: nn.GATConv(3, 2, heads=2),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(seed=st.integers(0, 10_000))
def test_node_outputs_are_permutation_equivariant(name, seed):
    rng = np.random.default_rng(seed)
    ei, _ = _random_graph(rng, n=6)
    x = rng.normal(size=(6, 3))
    perm = rng.permutation(6)  # new node k is old node perm[k]
    relabel = np.argsort(perm)  # old node i is new node relabel[i]
    layer = _double(LAYERS[name]())
    out = layer(dg.tensor(x), ei).data
    out_perm = layer(dg.tensor(x[perm]), relabel[ei]).data
    assert np.allclose(out_perm, out[perm], atol=1e-10)
    pooled = nn.global_mean_pool(dg.tensor(out), np.zeros(6, dtype=np.int64)).data
    pooled_perm = nn.global_mean_pool(dg.tensor(out_perm), np.zeros(6, dtype=np.int64)).data
    assert np.allclose(pooled, pooled_perm, atol=1e-10)


@given(seed=st.integers(0, 10_000))
def test_graph_readout_is_invariant_to_edge_order(seed):
    rng = np.random.default_rng(seed)
    ei, _ = _random_graph(rng, n=6)
    x, e = rng.normal(size=(6, 3)), rng.normal(size=(ei.shape[1], 2))
    block = _double(nn.GraphNetBlock(3, 2, 4, 5, hidden=6, aggr="max"))
    order = rng.permutation(ei.shape[1])
    a, _ = block(dg.tensor(x), ei, dg.tensor(e))
    b, _ = block(dg.tensor(x), ei[:, order], dg.tensor(e[order]))
    assert np.allclose(a.numpy(), b.numpy(), atol=1e-12)
    batch = np.zeros(6, dtype=np.int64)
    for pool in (nn.global_add_pool, nn.global_max_pool):
        assert np.allclose(pool(a, batch).numpy(), pool(b, batch).numpy(), atol=1e-12)


def test_batched_graphs_give_the_per_graph_outputs():
    graphs = cycles_and_trees(5, seed=1)
    layer = nn.GCNConv(1, 3)
    batch = batch_graphs(graphs)
    out = layer(dg.tensor(batch.x), batch.edge_index)
    pooled = nn.global_add_pool(out, batch.batch).data
    for k, g in enumerate(graphs):
        alone = layer(dg.tensor(g.x), g.edge_index).data
        assert np.allclose(out.numpy()[batch.batch == k], alone, atol=1e-6)
        assert np.allclose(pooled[k], alone.sum(axis=0), atol=1e-5)
    assert batch.num_graphs == 5 and batch.edge_index.max() == len(batch.x) - 1


def test_segment_max_splits_the_gradient_among_ties():
    x = dg.tensor([[1.0], [3.0], [3.0], [2.0]], requires_grad=True)
    out = segment_max(x, np.array([0, 0, 0, 1]), 3)
    assert out.numpy().ravel().tolist() == [3.0, 2.0, 0.0]  # the empty segment is 0
    out.sum().backward()
    assert x.grad.numpy().ravel().tolist() == [0.0, 0.5, 0.5, 1.0]


def test_graph_validates_edges():
    with pytest.raises(ValueError, match=r"Graph: edge_index values must lie in \[0, 2\)"):
        Graph(np.zeros((2, 1)), undirected([(0, 2)]))
    with pytest.raises(ValueError, match="global_mean_pool: batch must be a 1-d integer array"):
        nn.global_mean_pool(dg.ones(3, 2), np.zeros(2, dtype=np.int64))


def _train_nodes(model, x, ei, y, train_mask, steps, lr=0.01):
    opt = dg.optim.Adam(model.parameters(), lr=lr, weight_decay=5e-4)
    X, Y = dg.tensor(x), dg.tensor(y[train_mask])
    for _ in range(steps):
        opt.zero_grad()
        out = model(X, ei)
        nn.functional.cross_entropy(out[train_mask], Y).backward()
        opt.step()
    model.eval()
    return (model(X, ei).data.argmax(axis=1) == y)[~train_mask].mean()


class _TwoLayer(nn.Module):
    def __init__(self, conv, d_in, hidden, d_out):
        super().__init__()
        self.c1, self.c2 = conv(d_in, hidden), conv(hidden, d_out)

    def forward(self, x, ei):
        return self.c2(dg.relu(self.c1(x, ei)), ei)


def test_gcn_classifies_stochastic_block_model_nodes_better_than_features_alone():
    g = stochastic_block_model(sizes=(30, 30, 30), p_in=0.25, p_out=0.02, feature_noise=2.0)
    mask = np.zeros(90, dtype=bool)
    mask[np.random.default_rng(0).permutation(90)[:30]] = True
    dg.manual_seed(0)
    gcn = _train_nodes(_TwoLayer(nn.GCNConv, 8, 16, 3), g.x, g.edge_index, g.y, mask, 100)
    no_edges = np.zeros((2, 0), dtype=np.int64)  # same model, no graph: features only
    dg.manual_seed(0)
    mlp = _train_nodes(_TwoLayer(nn.GCNConv, 8, 16, 3), g.x, no_edges, g.y, mask, 100)
    assert gcn > 0.9 and gcn > mlp + 0.15, (gcn, mlp)


def test_karate_club_from_two_labelled_members():
    g = karate_club()
    mask = np.zeros(34, dtype=bool)
    mask[[0, 33]] = True  # Mr. Hi and the officer
    dg.manual_seed(0)
    acc = _train_nodes(_TwoLayer(nn.GCNConv, 34, 16, 2), g.x, g.edge_index, g.y, mask, 60)
    assert acc > 0.85, acc


def test_gin_style_sum_readout_tells_cycles_from_trees():
    graphs = cycles_and_trees(120, seed=0)
    train, test = batch_graphs(graphs[:80]), batch_graphs(graphs[80:])
    dg.manual_seed(0)
    conv1, conv2 = nn.SAGEConv(1, 16, aggr="sum"), nn.SAGEConv(16, 16, aggr="sum")
    head = nn.Linear(16, 2)
    params = [*conv1.parameters(), *conv2.parameters(), *head.parameters()]
    opt = dg.optim.Adam(params, lr=0.01)

    def logits(b):
        h = dg.relu(conv2(dg.relu(conv1(dg.tensor(b.x), b.edge_index)), b.edge_index))
        return head(nn.global_max_pool(h, b.batch))

    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(logits(train), dg.tensor(train.y)).backward()
        opt.step()
    acc = (logits(test).data.argmax(axis=1) == test.y).mean()
    assert acc > 0.9, acc


def test_tracking_edges_are_classified_from_displacements():
    train = batch_graphs([tracking_graph(seed=s) for s in range(6)])
    test = tracking_graph(seed=100)
    dg.manual_seed(0)
    block = nn.GraphNetBlock(5, 3, 8, 8, hidden=32)
    head = nn.Linear(8, 2)
    opt = dg.optim.Adam([*block.parameters(), *head.parameters()], lr=0.01)

    def edge_logits(g):
        _, e = block(dg.tensor(g.x), g.edge_index, dg.tensor(g.edge_attr))
        return head(e)

    weight = dg.tensor(np.array([1.0, 5.0], dtype=np.float32))  # true links are 1 in 6
    for _ in range(200):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(edge_logits(train), dg.tensor(train.y), weight=weight)
        loss.backward()
        opt.step()
    pred = edge_logits(test).data.argmax(axis=1)
    recall = (pred[test.y == 1] == 1).mean()
    precision = (test.y[pred == 1] == 1).mean()
    assert recall > 0.8 and precision > 0.6, (recall, precision)
