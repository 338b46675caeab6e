"""Graph neural networks: message passing, GCN, GraphSAGE, GAT, and global pooling.

Every layer takes node features `x` (N, F) and `edge_index` (2, E), row 0 the
source j and row 1 the target i of each edge (messages flow j -> i, PyTorch
Geometric's convention).  A layer gathers per-edge messages from the nodes
(`x[j]`), reduces them per target node with an order-invariant aggregation
(`deepgrad.ops.segment`: sum, mean or max, each with its VJP) and updates the
nodes.  Because the aggregation ignores the order of the edges, relabelling the
nodes relabels the outputs the same way (permutation equivariance), and
graph-level readouts (`global_*_pool`) are invariant.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor
from ..ops import cat, mean, mul, reshape, sum
from ..ops.index import getitem
from ..ops.segment import segment_max, segment_mean, segment_softmax, segment_sum
from . import init
from .activation import ReLU
from .activation_functional import leaky_relu
from .container import Sequential
from .linear import Linear
from .module import Module, Parameter
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

_AGGREGATIONS = {"sum": segment_sum, "add": segment_sum, "mean": segment_mean, "max": segment_max}


def _edge_index(op: str, edge_index, num_nodes: int) -> np.ndarray:
    """`edge_index` as a (2, E) int64 array, checked against the number of nodes."""
    ei = np.asarray(edge_index._data if isinstance(edge_index, Tensor) else edge_index)
    if ei.ndim != 2 or ei.shape[0] != 2 or ei.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: edge_index must be an integer array of shape (2, E), got {ei.dtype} "
            f"array of shape {ei.shape}"
        )
    if ei.size and (ei.min() < 0 or ei.max() >= num_nodes):
        raise IndexError(
            f"{op}: edge_index values must lie in [0, {num_nodes}) for {num_nodes} nodes; got "
            f"min {ei.min()}, max {ei.max()}"
        )
    return ei.astype(np.int64, copy=False)


def _nodes(op: str, x: Tensor, features: int) -> None:
    if x.ndim != 2 or x.shape[1] != features:
        raise ValueError(f"{op} expects node features (N, {features}), got {tuple(x.shape)}")


def aggregate(messages: Tensor, target: np.ndarray, num_nodes: int, aggr: str = "sum") -> Tensor:
    """$m_i = \\bigoplus_{e: target_e = i} messages_e$ with $\\bigoplus$ in sum, mean or max."""
    if aggr not in _AGGREGATIONS:
        raise ValueError(f"aggregate: aggr must be one of sum, mean, max; got {aggr!r}")
    return _AGGREGATIONS[aggr](messages, target, num_nodes)


def add_self_loops(edge_index: np.ndarray, num_nodes: int) -> np.ndarray:
    """`edge_index` with an edge i -> i appended for every node."""
    loops = np.arange(num_nodes, dtype=np.int64)
    return np.concatenate([edge_index, np.stack([loops, loops])], axis=1)


def gcn_norm(edge_index: np.ndarray, num_nodes: int, self_loops: bool = True):
    """Edges (with self-loops) and their weights $1/\\sqrt{\\hat d_j \\hat d_i}$ (Kipf & Welling 2017)."""
    if self_loops:
        edge_index = add_self_loops(edge_index, num_nodes)
    deg = np.bincount(edge_index[1], minlength=num_nodes).astype(np.float64)
    inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1)), 0.0)
    return edge_index, inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]


def _mlp(d_in: int, hidden: int, d_out: int) -> Sequential:
    return Sequential(Linear(d_in, hidden), ReLU(), Linear(hidden, d_out))


class _EdgeAttrLast(Module):
    """Test adapter: calls a GraphNetBlock as (x, edge_attr, edge_index), one output tensor."""

    def __init__(self, block: Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: Tensor, edge_attr: Tensor, edge_index) -> Tensor:
        nodes, edges = self.block(x, edge_index, edge_attr)
        return cat([reshape(nodes, (-1,)), reshape(edges, (-1,))])


_RING = np.array([[0, 1, 2, 3, 1, 2, 3, 0, 0], [1, 2, 3, 0, 0, 1, 2, 3, 2]])


def _ring(rng):
    return [_RING]


@layer_cases(
    LayerCase(
        lambda: _EdgeAttrLast(GraphNetBlock(3, 2, 4, 3, hidden=5)), [(4, 3), (9, 2)],
        targets=_ring,
    ),
    LayerCase(
        lambda: _EdgeAttrLast(GraphNetBlock(3, 2, 4, 3, hidden=5, aggr="max")), [(4, 3), (9, 2)],
        targets=_ring,
    ),
)  # fmt: skip
@layer_errors(
    ErrorCase(
        lambda: GraphNetBlock(3, 2, 4, 3)(Tensor(np.ones((4, 3))), _RING, Tensor(np.ones((8, 2)))),
        ValueError,
        r"GraphNetBlock 3 -> 4 expects edge_attr \(9, 2\), got \(8, 2\)",
    ),
    ErrorCase(lambda: GraphNetBlock(3, 2, 4, 3, aggr="median"), ValueError, r"aggr must be one"),
)
class GraphNetBlock(Module):
    """A message-passing block with explicit edge and node updates (Battaglia et al. 2018).

    $e'_{ji} = \\phi_e([h_i, h_j, e_{ji}])$ for each edge j -> i;
    $m_i = \\bigoplus_{j \\to i} e'_{ji}$ (sum, mean or max: order-invariant);
    $h'_i = \\phi_v([h_i, m_i])$.
    $\\phi_e$ and $\\phi_v$ are two-layer ReLU MLPs.  Returns `(h', e')`, so blocks
    stack and an edge classifier can read $e'$ (multi-object tracking as edge
    classification, Brasó & Leal-Taixé 2020).
    """

    def __init__(
        self,
        node_dim: int,
        edge_dim: int,
        out_node_dim: int,
        out_edge_dim: int,
        hidden: int = 64,
        aggr: str = "sum",
    ) -> None:
        super().__init__()
        if aggr not in _AGGREGATIONS:
            raise ValueError(f"GraphNetBlock: aggr must be one of sum, mean, max; got {aggr!r}")
        self.node_dim, self.edge_dim, self.out_node_dim, self.aggr = (
            node_dim,
            edge_dim,
            out_node_dim,
            aggr,
        )
        self.phi_e = _mlp(2 * node_dim + edge_dim, hidden, out_edge_dim)
        self.phi_v = _mlp(node_dim + out_edge_dim, hidden, out_node_dim)

    def forward(self, x: Tensor, edge_index, edge_attr: Tensor) -> tuple[Tensor, Tensor]:
        name = f"GraphNetBlock {self.node_dim} -> {self.out_node_dim}"
        _nodes(name, x, self.node_dim)
        ei = _edge_index(name, edge_index, x.shape[0])
        if tuple(edge_attr.shape) != (ei.shape[1], self.edge_dim):
            raise ValueError(
                f"{name} expects edge_attr ({ei.shape[1]}, {self.edge_dim}), got "
                f"{tuple(edge_attr.shape)}"
            )
        src, dst = ei
        edges = self.phi_e(cat([getitem(x, (dst,)), getitem(x, (src,)), edge_attr], dim=1))
        messages = aggregate(edges, dst, x.shape[0], self.aggr)
        return self.phi_v(cat([x, messages], dim=1)), edges


@layer_cases(
    LayerCase(lambda: GCNConv(3, 2), [(4, 3)], targets=_ring),
    LayerCase(lambda: GCNConv(3, 2, add_self_loops=False, bias=False), [(4, 3)], targets=_ring),
)
@layer_errors(
    ErrorCase(
        lambda: GCNConv(3, 2)(Tensor(np.ones((4, 5))), _RING),
        ValueError,
        r"GCNConv 3 -> 2 expects node features \(N, 3\), got \(4, 5\)",
    ),
    ErrorCase(
        lambda: GCNConv(3, 2)(Tensor(np.ones((2, 3))), _RING),
        IndexError,
        r"GCNConv 3 -> 2: edge_index values must lie in \[0, 2\) for 2 nodes; got min 0, max 3",
    ),
)
class GCNConv(Module):
    """Graph convolution (Kipf & Welling 2017): $H' = \\hat D^{-1/2} \\hat A \\hat D^{-1/2} H W + b$.

    $\\hat A = A + I$ adds self-loops (`add_self_loops`), $\\hat D$ its degrees
    (counted on the target side), so each node averages itself and its
    neighbours with symmetric weights $1/\\sqrt{\\hat d_i \\hat d_j}$.
    """

    def __init__(self, in_channels: int, out_channels: int, add_self_loops: bool = True,
                 bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.in_channels, self.out_channels, self.self_loops = (
            in_channels,
            out_channels,
            add_self_loops,
        )
        self.lin = Linear(in_channels, out_channels, bias=False)
        self.bias = Parameter(np.zeros(out_channels, dtype=np.float32)) if bias else None

    def forward(self, x: Tensor, edge_index) -> Tensor:
        name = f"GCNConv {self.in_channels} -> {self.out_channels}"
        _nodes(name, x, self.in_channels)
        ei, w = gcn_norm(_edge_index(name, edge_index, x.shape[0]), x.shape[0], self.self_loops)
        h = self.lin(x)
        coeff = Tensor(w.astype(h.dtype)[:, None])
        out = segment_sum(mul(getitem(h, (ei[0],)), coeff), ei[1], x.shape[0])
        return out if self.bias is None else out + self.bias


@layer_cases(
    LayerCase(lambda: SAGEConv(3, 2), [(4, 3)], targets=_ring),
    LayerCase(lambda: SAGEConv(3, 2, aggr="max", normalize=True), [(4, 3)], targets=_ring),
)
@layer_errors(
    ErrorCase(
        lambda: SAGEConv(3, 2)(Tensor(np.ones((4, 3))), np.zeros((3, 2), dtype=np.int64)),
        ValueError,
        r"SAGEConv 3 -> 2: edge_index must be an integer array of shape \(2, E\)",
    ),
)
class SAGEConv(Module):
    """GraphSAGE (Hamilton et al. 2017): $h'_i = W_1 h_i + W_2 \\bigoplus_{j \\to i} h_j$.

    $\\bigoplus$ is mean (default), sum or max; `normalize=True` rescales each
    output row to unit L2 norm.
    """

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        if aggr not in _AGGREGATIONS:
            raise ValueError(f"SAGEConv: aggr must be one of sum, mean, max; got {aggr!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.aggr, self.normalize = aggr, normalize
        self.lin_l = Linear(in_channels, out_channels, bias=bias)  # neighbours
        self.lin_r = Linear(in_channels, out_channels, bias=False)  # the node itself

    def forward(self, x: Tensor, edge_index) -> Tensor:
        name = f"SAGEConv {self.in_channels} -> {self.out_channels}"
        _nodes(name, x, self.in_channels)
        src, dst = _edge_index(name, edge_index, x.shape[0])
        neigh = aggregate(getitem(x, (src,)), dst, x.shape[0], self.aggr)
        out = self.lin_l(neigh) + self.lin_r(x)
        if self.normalize:
            out = out / ((out * out).sum(axis=1, keepdims=True) + 1e-12) ** 0.5
        return out


@layer_cases(
    LayerCase(lambda: GATConv(3, 2, heads=2), [(4, 3)], targets=_ring),
    LayerCase(lambda: GATConv(3, 2, heads=2, concat=False), [(4, 3)], targets=_ring),
)
@layer_errors(
    ErrorCase(lambda: GATConv(3, 2, heads=0), ValueError, r"GATConv: heads must be >= 1, got 0"),
)
class GATConv(Module):
    """Graph attention (Veličković et al. 2018), with `heads` independent heads.

    $z = W h$; $e_{ji} = \\mathrm{LeakyReLU}(a_s^\\top z_j + a_t^\\top z_i)$;
    $\\alpha_{ji} = \\mathrm{softmax}_{j \\to i}(e_{ji})$ over the edges into i;
    $h'_i = \\sum_{j \\to i} \\alpha_{ji} z_j$, heads concatenated (or averaged
    with `concat=False`), plus a bias.  Self-loops are added so a node attends
    to itself.
    """

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, add_self_loops: bool = True,
                 bias: bool = True) -> None:  # fmt: skip
        super().__init__()
        if heads < 1:
            raise ValueError(f"GATConv: heads must be >= 1, got {heads}")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.self_loops = concat, negative_slope, add_self_loops
        self.lin = Linear(in_channels, heads * out_channels, bias=False)
        bound = math.sqrt(6.0 / (heads + out_channels))
        self.att_src = Parameter(np.zeros((heads, out_channels), dtype=np.float32))
        self.att_dst = Parameter(np.zeros((heads, out_channels), dtype=np.float32))
        init.uniform_(self.att_src, -bound, bound)
        init.uniform_(self.att_dst, -bound, bound)
        width = heads * out_channels if concat else out_channels
        self.bias = Parameter(np.zeros(width, dtype=np.float32)) if bias else None

    def forward(self, x: Tensor, edge_index) -> Tensor:
        name = f"GATConv {self.in_channels} -> {self.out_channels}"
        _nodes(name, x, self.in_channels)
        n = x.shape[0]
        ei = _edge_index(name, edge_index, n)
        if self.self_loops:
            ei = add_self_loops(ei, n)
        src, dst = ei
        z = reshape(self.lin(x), (n, self.heads, self.out_channels))
        a_src = sum(mul(z, self.att_src), axis=-1)  # (N, heads)
        a_dst = sum(mul(z, self.att_dst), axis=-1)
        scores = leaky_relu(getitem(a_src, (src,)) + getitem(a_dst, (dst,)), self.negative_slope)
        alpha = segment_softmax(scores, dst, n)  # (E, heads)
        msg = mul(getitem(z, (src,)), reshape(alpha, (-1, self.heads, 1)))
        out = segment_sum(msg, dst, n)  # (N, heads, out)
        out = reshape(out, (n, -1)) if self.concat else mean(out, axis=1)
        return out if self.bias is None else out + self.bias


def _check_batch(op: str, x: Tensor, batch, size: int | None) -> tuple[np.ndarray, int]:
    b = np.asarray(batch._data if isinstance(batch, Tensor) else batch)
    if b.ndim != 1 or b.shape[0] != x.shape[0] or b.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: batch must be a 1-d integer array with one entry per node; got {b.dtype} "
            f"array of shape {b.shape} for x of shape {tuple(x.shape)}"
        )
    return b.astype(np.int64), int(size if size is not None else (b.max() + 1 if b.size else 0))


def global_add_pool(x: Tensor, batch, size: int | None = None) -> Tensor:
    """$r_g = \\sum_{n \\in g} x_n$ per graph g of the batch (invariant to node order)."""
    b, size = _check_batch("global_add_pool", x, batch, size)
    return segment_sum(x, b, size)


def global_mean_pool(x: Tensor, batch, size: int | None = None) -> Tensor:
    """$r_g = \\frac{1}{|g|}\\sum_{n \\in g} x_n$ per graph g of the batch."""
    b, size = _check_batch("global_mean_pool", x, batch, size)
    return segment_mean(x, b, size)


def global_max_pool(x: Tensor, batch, size: int | None = None) -> Tensor:
    """$r_g = \\max_{n \\in g} x_n$ per graph g of the batch (feature-wise)."""
    b, size = _check_batch("global_max_pool", x, batch, size)
    return segment_max(x, b, size)


__all__ = [
    "GATConv", "GCNConv", "GraphNetBlock", "SAGEConv", "add_self_loops", "aggregate", "gcn_norm",
    "global_add_pool", "global_max_pool", "global_mean_pool",
]  # fmt: skip
