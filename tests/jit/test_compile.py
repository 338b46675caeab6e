"""dg.compile replays a training step bitwise as eager runs it (issue 20).

Each case trains the same tiny model from the same seed for five steps, once eagerly
and once compiled (two traced calls, then three replays), and compares losses,
parameters and buffers, gradients, optimizer state and the default generator's state.
"""

from __future__ import annotations

import numpy as np
import pytest
from jit_helpers import bitwise, run, same_state

import deepgrad as dg

CASES = [
    ("mlp", "adam"),
    ("mlp", "sgd"),
    ("cnn", "adam"),  # conv, batch norm (running stats, num_batches_tracked), max pool
    ("lstm", "sgd"),
    ("dropout", "adam"),  # the mask is a host call: the generator advances as in eager
    ("transformer", "adam"),  # attention, layer norm, dropout inside the layer
    pytest.param("resnet", "sgd", marks=pytest.mark.slow),  # CIFAR ResNet-20, ~6 s
]


@pytest.mark.parametrize(("kind", "opt"), CASES)
def test_compiled_training_is_bitwise_eager(kind, opt):
    eager = run(kind, opt, compiled=False)
    comp = run(kind, opt, compiled=True)
    step = comp[5]
    assert step.stats == {"traced": 2, "replayed": 3, "eager": 0}, step.explain()
    assert all(bitwise(a, b) for a, b in zip(eager[0], comp[0]))
    assert eager[1].keys() == comp[1].keys()
    assert all(bitwise(eager[1][k], comp[1][k]) for k in eager[1])
    assert all(bitwise(a, b) for a, b in zip(eager[2], comp[2]))
    assert same_state(eager[3], comp[3])
    assert eager[4] == comp[4]


def test_batch_norm_buffers_move_in_replays():
    comp = run("cnn", "sgd", compiled=True, steps=4)
    assert int(comp[1]["1.num_batches_tracked"]) == 4  # two traced calls + two replays
    assert not np.allclose(comp[1]["1.running_mean"], 0.0)


# primitives whose VJP is itself one NumPy kernel over saved forward values: it runs whole
FUSED_RULES = ("lstm_sequence.vjp[", "batch_norm_affine.vjp[", "channel_moments.vjp[")


def test_no_rule_runs_on_tensors_in_the_hot_models():
    """relu and max_pool rules read masks from the arrays: jit/kernels.py covers them.  The
    fused LSTM and batch-norm rules are one kernel each over saved values: they run whole."""
    text = run("mlp", "sgd", compiled=True, steps=3)[5].explain()
    assert "0 rule calls" in text, text
    for kind in ("cnn", "lstm"):
        text = run(kind, "sgd", compiled=True, steps=3)[5].explain()
        rules = text.split("VJP rules run on tensors:")[1].split("\n")[0].split(",")
        assert all(r.strip().startswith(FUSED_RULES) for r in rules), text


def test_decorator_returns_tuples_and_accumulates_like_eager():
    def build():
        dg.manual_seed(0)
        w = dg.randn(3, 2, requires_grad=True)

        def step(x):  # no zero_grad: gradients accumulate across calls
            y = x @ w
            loss = (y * y).mean()
            loss.backward()
            return loss, y

        return w, step

    w1, eager = build()
    w2, step = build()
    step = dg.compile(max_plans=2)(step)
    xs = [dg.tensor(np.full((4, 3), i + 1.0, np.float32)) for i in range(4)]
    for x in xs:
        (l1, y1), (l2, y2) = eager(x), step(x)
        assert bitwise(l1.numpy(), l2.numpy()) and bitwise(y1.numpy(), y2.numpy())
    assert step.stats["replayed"] == 2
    assert bitwise(w1.grad.numpy(), w2.grad.numpy())


def test_scheduler_inside_the_step_is_replayed():
    def build():
        dg.manual_seed(0)
        w = dg.randn(3, requires_grad=True)
        opt = dg.optim.SGD([w], lr=0.5)
        sched = dg.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

        def step(x):
            opt.zero_grad()
            loss = ((w - x) ** 2).sum()
            loss.backward()
            opt.step()
            sched.step()
            return loss

        return w, opt, step

    w1, o1, eager = build()
    w2, o2, step = build()
    step = dg.compile(step)
    x = dg.tensor(np.ones(3, np.float32))
    for _ in range(5):
        assert bitwise(eager(x).numpy(), step(x).numpy())
    assert o1.param_groups[0]["lr"] == o2.param_groups[0]["lr"] == 0.5**6
    assert bitwise(w1.numpy(), w2.numpy())


def test_a_grad_kept_by_the_user_is_not_overwritten():
    dg.manual_seed(0)
    w = dg.randn(4, 4, requires_grad=True)
    opt = dg.optim.SGD([w], lr=0.1)

    @dg.compile
    def step(x):
        opt.zero_grad()
        loss = (x @ w.T).sum()  # w's gradient arrives as a view: copied into a buffer
        loss.backward()
        opt.step()
        return loss

    kept = []
    for i in range(5):
        step(dg.tensor(np.full((2, 4), float(i), np.float32)))
        kept.append((w.grad, w.grad.numpy().copy()))
    assert step.stats["replayed"] == 3
    assert all(bitwise(g.numpy(), snapshot) for g, snapshot in kept)


def test_clipping_and_weight_averaging_are_replayed():
    """clip_grad_norm_ and AveragedModel.update_parameters work on arrays: host calls."""

    def build():
        dg.manual_seed(0)
        m = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.Tanh(), dg.nn.Linear(4, 1))
        avg = dg.optim.swa_utils.AveragedModel(m)
        opt = dg.optim.SGD(m.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (m(x) * 100.0).pow(2).mean()
            loss.backward()
            norm = dg.nn.utils.clip_grad_norm_(m.parameters(), 1.0)  # a generator, clipped
            opt.step()
            avg.update_parameters(m)
            return loss, norm

        return m, avg, step

    m1, a1, eager = build()
    m2, a2, step = build()
    step = dg.compile(step)
    for i in range(5):
        x = dg.tensor(np.full((2, 3), 0.1 * i + 0.5, np.float32))
        (l1, n1), (l2, n2) = eager(x), step(x)
        assert bitwise(l1.numpy(), l2.numpy()) and bitwise(n1.numpy(), n2.numpy())
        assert float(n2) > 1.0  # clipping is active
    assert step.stats["replayed"] == 3
    assert all(bitwise(p.numpy(), q.numpy()) for p, q in zip(m1.parameters(), m2.parameters()))
    assert all(bitwise(p.numpy(), q.numpy()) for p, q in zip(a1.parameters(), a2.parameters()))
    assert int(a2.n_averaged.numpy()) == 5


def test_in_place_kernels_change_nothing_but_memory():
    """The transformer's backward writes elementwise results into dead buffers."""
    on = run("transformer", "adam", compiled=True, steps=4)
    plan = next(iter(on[5].plans.values()))[0]
    assert plan.counts["in place"] >= 20, on[5].explain()
    eager = run("transformer", "adam", compiled=False, steps=4)
    assert all(bitwise(a, b) for a, b in zip(on[0], eager[0]))
    assert all(bitwise(a, b) for a, b in zip(on[2], eager[2]))


def test_embedding_gru_clip_rmsprop_and_index_checks():
    """Integer inputs, an embedding (its index check runs again in each replay), a GRU."""

    class Tagger(dg.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = dg.nn.Embedding(20, 6)
            self.gru = dg.nn.GRU(6, 8, batch_first=True)
            self.head = dg.nn.Linear(8, 20)

        def forward(self, x):
            out, _ = self.gru(self.emb(x))
            return self.head(out).reshape(-1, 20)

    def build():
        dg.manual_seed(0)
        m = Tagger()
        opt = dg.optim.RMSprop(m.parameters(), lr=1e-2)

        def step(x, y):
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            dg.nn.utils.clip_grad_norm_(m.parameters(), 0.5)
            opt.step()
            return loss

        return m, step

    (m1, eager), (m2, step) = build(), build()
    step = dg.compile(step)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x, y = dg.tensor(rng.integers(0, 20, (3, 5))), dg.tensor(rng.integers(0, 20, 15))
        assert bitwise(eager(x, y).numpy(), step(x, y).numpy())
    assert step.stats["replayed"] == 2
    assert all(bitwise(p.numpy(), q.numpy()) for p, q in zip(m1.parameters(), m2.parameters()))
    with pytest.raises(IndexError, match=r"embedding: index 20 is out of range \[0, 20\)"):
        step(dg.tensor(np.full((3, 5), 20)), y)


def test_alpha_and_feature_dropout_draw_as_eager():
    def build():
        dg.manual_seed(0)
        m = dg.nn.Sequential(
            dg.nn.Conv2d(2, 4, 3), dg.nn.Dropout2d(0.3), dg.nn.Flatten(), dg.nn.Linear(16, 6)
        )
        m.append(dg.nn.Tanh()).append(dg.nn.AlphaDropout(0.2)).append(dg.nn.Linear(6, 3))
        opt = dg.optim.SGD(m.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss

        return m, step

    rng = np.random.default_rng(0)
    data = [
        (dg.tensor(rng.standard_normal((3, 2, 4, 4)).astype(np.float32)), dg.tensor([0, 1, 2]))
        for _ in range(4)
    ]
    runs = []
    for compiled in (False, True):
        m, step = build()
        fn = dg.compile(step) if compiled else step
        runs.append(([fn(x, y).numpy().copy() for x, y in data], m, fn, dg.get_rng_state()))
    assert all(bitwise(a, b) for a, b in zip(runs[0][0], runs[1][0]))
    assert all(
        bitwise(p.numpy(), q.numpy())
        for p, q in zip(runs[0][1].parameters(), runs[1][1].parameters())
    )
    assert runs[1][2].stats["replayed"] == 2 and runs[0][3] == runs[1][3]


@pytest.mark.parametrize(
    "make",
    [
        lambda: dg.nn.LeakyReLU(0.1),
        dg.nn.ELU,
        dg.nn.SELU,
        dg.nn.CELU,
        dg.nn.PReLU,
        lambda: dg.nn.Softplus(beta=2.0),
    ],
    ids=["leaky_relu", "elu", "selu", "celu", "prelu", "softplus"],
)
def test_piecewise_activations_replay_their_masks(make):
    """Their `x > 0` masks come from a pure host call, recomputed in each replay."""
    runs = []
    for compiled in (False, True):
        dg.manual_seed(0)
        m = dg.nn.Sequential(dg.nn.Linear(3, 5), make(), dg.nn.Linear(5, 2))
        opt = dg.optim.SGD(m.parameters(), lr=0.5)

        def step(x, y, m=m, opt=opt):
            opt.zero_grad()
            loss = dg.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss

        fn = dg.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        xs = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
        runs.append([fn(dg.tensor(x), dg.tensor(np.array([0, 1, 1, 0]))).numpy() for x in xs])
    assert fn.stats["replayed"] == 3
    assert all(bitwise(a, b) for a, b in zip(*runs))


def test_a_replayed_fused_lstm_runs_its_backward_once_per_step(monkeypatch):
    """The fused rule serves all its inputs from one backward; a replay wraps the cotangent
    anew for each rule, so the cache must key on the array (it ran four times)."""
    from deepgrad.ops import _rnn_kernels

    calls = []
    real = _rnn_kernels.lstm_backward

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(_rnn_kernels, "lstm_backward", counted)
    steps = 5
    run("lstm", "sgd", compiled=True, steps=steps)
    assert len(calls) == steps
