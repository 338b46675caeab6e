"""Optional: every layer and loss against PyTorch (float64 forward, input and parameter grads).

PyTorch is not a dependency; this file is skipped when it is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
tnn = torch.nn
TF = torch.nn.functional
RNG = np.random.default_rng(0)


def _probs(shape):
    p = RNG.uniform(0.1, 1.0, size=shape)
    return p / p.sum(1, keepdims=True)


W5 = np.linspace(0.5, 2.0, 5)
# (id, deepgrad module, torch module or function, input arrays, extra (non-diff) arguments)
LAYERS = [
    ("Linear", nn.Linear(4, 3), tnn.Linear(4, 3), [(5, 4)]),
    ("Linear-3d-nobias", nn.Linear(4, 3, bias=False), tnn.Linear(4, 3, bias=False), [(2, 5, 4)]),
    ("Flatten", nn.Flatten(), tnn.Flatten(), [(2, 3, 4)]),
    ("Unflatten", nn.Unflatten(1, (2, 3)), tnn.Unflatten(1, (2, 3)), [(4, 6)]),
    ("Sigmoid", nn.Sigmoid(), tnn.Sigmoid(), [(3, 4)]),
    ("Tanh", nn.Tanh(), tnn.Tanh(), [(3, 4)]),
    ("ReLU", nn.ReLU(), tnn.ReLU(), [(3, 4)]),
    ("ReLU6", nn.ReLU6(), tnn.ReLU6(), [(3, 4)]),
    ("LeakyReLU", nn.LeakyReLU(0.1), tnn.LeakyReLU(0.1), [(3, 4)]),
    ("PReLU", nn.PReLU(3, init=0.2), tnn.PReLU(3, init=0.2), [(2, 3, 4)]),
    ("ELU", nn.ELU(0.7), tnn.ELU(0.7), [(3, 4)]),
    ("SELU", nn.SELU(), tnn.SELU(), [(3, 4)]),
    ("GELU", nn.GELU(), tnn.GELU(), [(3, 4)]),
    ("GELU-tanh", nn.GELU("tanh"), tnn.GELU("tanh"), [(3, 4)]),
    ("SiLU", nn.SiLU(), tnn.SiLU(), [(3, 4)]),
    ("Swish", nn.Swish(1.7), lambda x: x * torch.sigmoid(1.7 * x), [(3, 4)]),
    ("Softplus", nn.Softplus(2.0, 1.5), tnn.Softplus(2.0, 1.5), [(3, 4)]),
    ("LogSigmoid", nn.LogSigmoid(), tnn.LogSigmoid(), [(3, 4)]),
    ("Softmax", nn.Softmax(0), tnn.Softmax(0), [(3, 4)]),
    ("LogSoftmax", nn.LogSoftmax(1), tnn.LogSoftmax(1), [(3, 4)]),
    ("Hardtanh", nn.Hardtanh(-0.5, 0.8), tnn.Hardtanh(-0.5, 0.8), [(3, 4)]),
    (
        "Step",
        nn.Step(),
        lambda x: (x > 0).to(x.dtype) + 0 * x,
        [(3, 4)],
    ),
    ("LinearActivation", nn.LinearActivation(0.5), lambda x: 0.5 * x, [(3, 4)]),
    ("Identity", nn.Identity(), tnn.Identity(), [(3, 4)]),
    ("Dropout-eval", nn.Dropout(0.3).eval(), tnn.Dropout(0.3).eval(), [(3, 4)]),
    ("AlphaDropout-eval", nn.AlphaDropout(0.3).eval(), tnn.AlphaDropout(0.3).eval(), [(3, 4)]),
    ("BatchNorm1d", nn.BatchNorm1d(3), tnn.BatchNorm1d(3), [(6, 3)]),
    (
        "BatchNorm1d-3d",
        nn.BatchNorm1d(3, momentum=None),
        tnn.BatchNorm1d(3, momentum=None),
        [(4, 3, 5)],
    ),
    ("BatchNorm1d-eval", nn.BatchNorm1d(3).eval(), tnn.BatchNorm1d(3).eval(), [(6, 3)]),
    ("LayerNorm", nn.LayerNorm((3, 4)), tnn.LayerNorm((3, 4)), [(2, 3, 4)]),
    ("GroupNorm", nn.GroupNorm(2, 4), tnn.GroupNorm(2, 4), [(3, 4, 5)]),
    (
        "InstanceNorm1d",
        nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
        tnn.InstanceNorm1d(3, affine=True, track_running_stats=True),
        [(2, 3, 6)],
    ),
    ("L1Loss", nn.L1Loss(), tnn.L1Loss(), [(3, 4), (3, 4)]),
    ("MSELoss", nn.MSELoss(reduction="sum"), tnn.MSELoss(reduction="sum"), [(3, 4), (3, 4)]),
    ("HuberLoss", nn.HuberLoss(delta=0.6), tnn.HuberLoss(delta=0.6), [(3, 4), (3, 4)]),
    ("SmoothL1Loss", nn.SmoothL1Loss(beta=0.6), tnn.SmoothL1Loss(beta=0.6), [(3, 4), (3, 4)]),
    (
        "BCELoss",
        nn.BCELoss(np.arange(1.0, 5.0)),
        tnn.BCELoss(torch.arange(1.0, 5.0).double()),
        [RNG.uniform(0.05, 0.95, (3, 4)), RNG.uniform(0, 1, (3, 4))],
    ),
    (
        "BCEWithLogitsLoss",
        nn.BCEWithLogitsLoss(pos_weight=np.array([1.0, 2, 3, 0.5])),
        tnn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2, 3, 0.5]).double()),
        [(3, 4), RNG.uniform(0, 1, (3, 4))],
    ),
    (
        "CrossEntropyLoss",
        nn.CrossEntropyLoss(),
        tnn.CrossEntropyLoss(),
        [(6, 5)],
        [RNG.integers(0, 5, 6)],
    ),
    (
        "CrossEntropyLoss-all",
        nn.CrossEntropyLoss(W5, ignore_index=1, label_smoothing=0.15),
        tnn.CrossEntropyLoss(torch.tensor(W5), ignore_index=1, label_smoothing=0.15),
        [(8, 5)],
        [RNG.integers(0, 5, 8)],
    ),
    (
        "CrossEntropyLoss-sum-smooth",
        nn.CrossEntropyLoss(W5, reduction="sum", label_smoothing=0.1),
        tnn.CrossEntropyLoss(torch.tensor(W5), reduction="sum", label_smoothing=0.1),
        [(8, 5)],
        [RNG.integers(0, 5, 8)],
    ),
    (
        "CrossEntropyLoss-2d",
        nn.CrossEntropyLoss(reduction="none"),
        tnn.CrossEntropyLoss(reduction="none"),
        [(2, 3, 4, 2)],
        [RNG.integers(0, 3, (2, 4, 2))],
    ),
    (
        "CrossEntropyLoss-probs",
        nn.CrossEntropyLoss(W5, label_smoothing=0.1),
        tnn.CrossEntropyLoss(torch.tensor(W5), label_smoothing=0.1),
        [(4, 5)],
        [_probs((4, 5))],
    ),
    (
        "NLLLoss",
        nn.NLLLoss(W5, ignore_index=0),
        tnn.NLLLoss(torch.tensor(W5), ignore_index=0),
        [(6, 5)],
        [RNG.integers(0, 5, 6)],
    ),
    (
        "MultiMarginLoss",
        nn.MultiMarginLoss(p=2, margin=0.7, weight=W5),
        tnn.MultiMarginLoss(p=2, margin=0.7, weight=torch.tensor(W5)),
        [(6, 5)],
        [RNG.integers(0, 5, 6)],
    ),
    (
        "HingeEmbeddingLoss",
        nn.HingeEmbeddingLoss(margin=0.5),
        tnn.HingeEmbeddingLoss(0.5),
        [(3, 4)],
        [RNG.choice([-1.0, 1.0], (3, 4))],
    ),
    (
        "KLDivLoss",
        nn.KLDivLoss(reduction="batchmean"),
        tnn.KLDivLoss(reduction="batchmean"),
        [(3, 4), _probs((3, 4))],
    ),
    (
        "KLDivLoss-log",
        nn.KLDivLoss(log_target=True),
        tnn.KLDivLoss(log_target=True),
        [(3, 4), (3, 4)],
    ),
    (
        "GaussianNLLLoss",
        nn.GaussianNLLLoss(full=True),
        tnn.GaussianNLLLoss(full=True),
        [(4, 3), (4, 3), RNG.uniform(0.3, 2, (4, 1))],
    ),
    (
        "CosineEmbeddingLoss",
        nn.CosineEmbeddingLoss(margin=0.1),
        tnn.CosineEmbeddingLoss(0.1),
        [(5, 3), (5, 3)],
        [RNG.choice([-1.0, 1.0], 5)],
    ),
]


def _arrays(specs):
    return [RNG.normal(size=s) if isinstance(s, tuple) else np.asarray(s) for s in specs]


def _sync(mod, tmod):
    """Copy deepgrad's parameters and buffers into the torch module (float64)."""
    if not isinstance(tmod, torch.nn.Module):
        return
    tmod.double()
    targets = {**dict(tmod.named_parameters()), **dict(tmod.named_buffers())}
    for name, t in list(mod.named_parameters()) + list(mod.named_buffers()):
        with torch.no_grad():
            targets[name].copy_(torch.from_numpy(np.array(t.numpy())))


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("case", LAYERS, ids=[c[0] for c in LAYERS])
def test_forward_and_gradients_match_pytorch(case):
    _, mod, tmod, specs, *rest = case
    extra = rest[0] if rest else []
    mod.double()
    _sync(mod, tmod)
    arrays = _arrays(specs)
    xs = [dg.Tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    txs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    textra = [
        torch.tensor(e) if e.dtype.kind != "f" else torch.tensor(e, dtype=torch.float64)
        for e in extra
    ]
    out = mod(*xs, *extra)
    tout = tmod(*txs, *textra)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    u = RNG.normal(size=out.shape)
    (out * dg.Tensor(u)).sum().backward()
    (tout * torch.tensor(u)).sum().backward()
    for i, (x, tx) in enumerate(zip(xs, txs)):
        np.testing.assert_allclose(
            x.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"input {i}"
        )
    if isinstance(tmod, torch.nn.Module):
        tparams = dict(tmod.named_parameters())
        for name, p in mod.named_parameters():
            np.testing.assert_allclose(
                p.grad.data, tparams[name].grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name
            )
        tbufs = dict(tmod.named_buffers())
        for name, b in mod.named_buffers():
            np.testing.assert_allclose(b.data, tbufs[name].numpy(), rtol=1e-12, err_msg=name)


def test_maxout_matches_a_torch_composite():
    m = nn.Maxout(4, 3, k=2).double()
    x = RNG.normal(size=(5, 4))
    tx = torch.tensor(x)
    z = TF.linear(tx, torch.tensor(m.weight.numpy()), torch.tensor(m.bias.numpy()))
    ref = z.reshape(5, 3, 2).amax(-1)
    np.testing.assert_allclose(m(dg.Tensor(x)).data, ref.numpy(), rtol=1e-12)


def test_embedding_matches_torch_including_padding_gradient():
    emb = nn.Embedding(7, 3, padding_idx=2).double()
    temb = tnn.Embedding(7, 3, padding_idx=2).double()
    with torch.no_grad():
        temb.weight.copy_(torch.tensor(emb.weight.numpy()))
    idx = np.array([[0, 2, 6], [2, 3, 3]])
    u = RNG.normal(size=(2, 3, 3))
    (emb(idx) * dg.Tensor(u)).sum().backward()
    (temb(torch.tensor(idx)) * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(emb.weight.grad.data, temb.weight.grad.numpy(), rtol=1e-12)


def test_linear_init_distribution_matches_torch():
    torch.manual_seed(0)
    t = tnn.Linear(300, 200)
    d = nn.Linear(300, 200)
    a, b = d.weight.data, t.weight.detach().numpy()
    assert abs(a.std() / b.std() - 1) < 0.02
    for name in ("weight", "bias"):
        a, b = getattr(d, name).data, getattr(t, name).detach().numpy()
        assert abs(np.abs(a).max() - np.abs(b).max()) < 2e-3  # both U(+-1/sqrt(300))


@pytest.mark.parametrize(
    "fn", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]
)
def test_init_std_matches_torch(fn):
    a = getattr(nn.init, fn)(dg.zeros(256, 384, dtype="float64")).data
    b = getattr(torch.nn.init, fn)(torch.zeros(256, 384, dtype=torch.float64)).numpy()
    assert abs(a.std() / b.std() - 1) < 0.03
