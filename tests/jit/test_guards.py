"""dg.compile's guards (re-trace) and fallbacks (eager, with the reason stated)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from jit_helpers import bitwise

import deepgrad as dg
from deepgrad.jit import CompileWarning

nn = dg.nn


def _setup():
    dg.manual_seed(0)
    drop = nn.Dropout(0.5, generator=np.random.default_rng(7))  # its own stream of masks
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), drop, nn.Linear(4, 2))
    opt = dg.optim.SGD(m.parameters(), lr=0.1)
    return m, opt


def _x(n: int = 5, value: float = 1.0) -> dg.Tensor:
    rng = np.random.default_rng(int(value * 10) + n)
    return dg.tensor(rng.standard_normal((n, 3)).astype(np.float32))


def _eager_fallback(body, match: str) -> dg.jit.CompiledStep:
    """Compile `body`, call it three times, check it warned once and stays eager."""
    step = dg.compile(body)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            step(_x(value=float(i)))
    mine = [w for w in caught if issubclass(w.category, CompileWarning)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    assert step.reason is not None and step.stats["replayed"] == 0
    assert match in step.explain(), step.explain()
    return step


def test_reading_a_value_falls_back_to_eager():
    m, _ = _setup()

    def step(x):
        loss = m(x).pow(2).mean()
        if loss.item() > 1e9:  # a branch on a value: cannot be traced
            return None
        loss.backward()
        return loss

    _eager_fallback(step, "Tensor.item()")


def test_random_numbers_outside_a_host_call_fall_back():
    m, _ = _setup()

    def step(x):
        noise = dg.randn(*x.shape)  # drawn with NumPy outside the primitives
        loss = m(x + noise).sum()
        loss.backward()
        return loss

    _eager_fallback(step, "changed between two calls")


def test_in_place_ops_fall_back():
    m, _ = _setup()

    def step(x):
        h = m(x)
        h.mul_(2.0)
        return h.sum()

    with dg.no_grad():
        _eager_fallback(step, "in-place")


def test_autograd_grad_falls_back():
    m, _ = _setup()
    w = m[0].weight

    def step(x):
        (g,) = dg.autograd.grad(m(x).sum(), [w])
        return g

    _eager_fallback(step, "autograd.grad")


def test_eager_results_are_kept_when_falling_back():
    def build():
        dg.manual_seed(0)
        w = dg.randn(3, requires_grad=True)

        def step(x):
            loss = (w * x).sum()
            loss.backward()
            return loss * float(loss)  # float(): the step reads a value

        return w, step

    w1, eager = build()
    w2, step = build()
    step = dg.compile(step)
    xs = [dg.tensor(np.full(3, i + 0.5, np.float32)) for i in range(4)]
    with pytest.warns(CompileWarning, match="Tensor.float"):
        pairs = [(eager(x), step(x)) for x in xs]
    assert all(bitwise(a.numpy(), b.numpy()) for a, b in pairs)
    assert bitwise(w1.grad.numpy(), w2.grad.numpy())


def test_new_shapes_and_modes_trace_again():
    m, opt = _setup()

    def step(x):
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss

    compiled = dg.compile(step)
    for _ in range(3):
        compiled(_x(5))
    assert compiled.stats == {"traced": 2, "replayed": 1, "eager": 0}
    for _ in range(3):  # a new batch size: its own plan
        compiled(_x(7))
    m.eval()  # the dropout layer changes what the step does: a new plan
    for _ in range(3):
        compiled(_x(5))
    m[0].weight.requires_grad_(False)  # frozen: the backward changes
    for _ in range(3):
        compiled(_x(5))
    assert compiled.stats == {"traced": 8, "replayed": 4, "eager": 0}
    assert m[0].weight.grad is None  # frozen: zero_grad cleared it, backward skips it
    text = compiled.explain()
    assert text.count("plan for") == 4 and "(5, 3) float32" in text and "(7, 3)" in text


def test_replays_match_eager_after_a_retrace():
    def build():
        m, opt = _setup()

        def step(x):
            opt.zero_grad()
            loss = m(x).pow(2).mean()
            loss.backward()
            opt.step()
            return loss

        return m, step

    m1, eager = build()
    m2, step = build()
    step = dg.compile(step)
    for i, n in enumerate([5, 5, 5, 5, 2, 2, 2, 5]):
        x = _x(n, float(i))
        assert bitwise(eager(x).numpy(), step(x).numpy())
    assert step.stats == {"traced": 4, "replayed": 4, "eager": 0}
    assert all(bitwise(p.numpy(), q.numpy()) for p, q in zip(m1.parameters(), m2.parameters()))


def test_too_many_shapes_give_up():
    w = dg.ones(3, requires_grad=True)
    step = dg.compile(lambda x: (w * x).sum(), max_plans=1)
    with pytest.warns(CompileWarning, match="traced 4 times"):
        [step(dg.ones(n, 3)) for n in range(1, 7)]
    assert step.reason is not None


def test_inputs_that_require_grad_run_eagerly():
    step = dg.compile(lambda x: (x * x).sum())
    x = dg.ones(3, requires_grad=True)
    with pytest.warns(CompileWarning, match="argument 0 requires grad"):
        assert float(step(x)) == 3.0


def test_forward_only_under_no_grad_compiles():
    m, _ = _setup()
    m.eval()
    step = dg.compile(m)
    with dg.no_grad():
        outs = [step(_x(4, 0.5)) for _ in range(3)]
        ref = m(_x(4, 0.5))
    assert step.stats["replayed"] == 1 and "under no_grad" in step.explain()
    assert all(bitwise(o.numpy(), ref.numpy()) for o in outs)


def test_compile_refuses_bad_arguments():
    with pytest.raises(TypeError, match=r"deepgrad.compile: expected a callable step, got int"):
        dg.compile(3)
    with pytest.raises(ValueError, match=r"deepgrad.compile: max_plans must be an int >= 1"):
        dg.compile(lambda: None, max_plans=0)


def _ce_step(ignore_index: int = 0):
    dg.manual_seed(0)
    m = nn.Linear(3, 4)
    opt = dg.optim.SGD(m.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y, ignore_index=ignore_index)
        loss.backward()
        opt.step()
        return loss

    return m, step


def test_targets_taking_another_path_trace_again_before_anything_changes():
    """ignore_index in a later batch: the target check runs first and re-traces."""
    (m1, eager), (m2, step) = _ce_step(), _ce_step()
    step = dg.compile(step)
    plain, masked = [1, 2, 3, 1, 2], [0, 1, 0, 2, 3]  # class 0 is ignore_index: a masked loss
    ys = [plain, plain, plain, masked, plain, masked, masked, plain]
    for i, y in enumerate(ys):
        x, t = _x(5, float(i)), dg.tensor(np.array(y))
        assert bitwise(eager(x, t).numpy(), step(x, t).numpy())
    assert step.stats == {"traced": 4, "replayed": 4, "eager": 0}  # a plan for each path
    assert "re-traced: _class_targets returned" in step.explain()
    assert step.explain().count("plan for") == 2
    assert all(bitwise(p.numpy(), q.numpy()) for p, q in zip(m1.parameters(), m2.parameters()))


def test_targets_are_still_validated_in_a_replay():
    _, step = _ce_step(ignore_index=-100)
    step = dg.compile(step)
    for i in range(3):
        step(_x(5, float(i)), dg.tensor(np.array([1, 2, 3, 1, 2])))
    assert step.stats["replayed"] == 1
    with pytest.raises(IndexError, match=r"cross_entropy: target class 7 at position \(2,\)"):
        step(_x(5), dg.tensor(np.array([1, 2, 7, 1, 2])))


def test_keyword_arguments_in_any_order():
    w = dg.full((3,), 2.0, requires_grad=True)
    step = dg.compile(lambda *, x, y: ((w * x - y) ** 2).sum())
    a, b = dg.tensor(np.ones(3, np.float32)), dg.tensor(np.array([0.0, 2.0, 4.0], np.float32))
    outs = [float(step(x=a, y=b)), float(step(y=b, x=a)), float(step(y=b, x=a))]
    assert step.stats["replayed"] == 1
    assert outs == [8.0, 8.0, 8.0]  # (2-0)^2 + (2-2)^2 + (2-4)^2; swapped it would be 59


@pytest.mark.parametrize("where", ["start", "end"])
def test_setting_grad_in_python_falls_back(where):
    w = dg.ones(3, requires_grad=True)

    def step(x):
        if where == "start":
            w.grad = None  # not a host call: a replay would not run it
        loss = (w * x).sum()
        loss.backward()
        if where == "end":
            w.grad = None
        return loss

    step = dg.compile(step)
    with pytest.warns(CompileWarning, match=r"sets .grad in Python"):
        [step(dg.ones(3)) for _ in range(3)]
    assert step.stats["replayed"] == 0


def test_module_zero_grad_is_replayed():
    dg.manual_seed(0)
    m = nn.Linear(3, 1)

    @dg.compile
    def step(x):
        m.zero_grad()
        m(x).sum().backward()

    for _ in range(4):
        step(dg.ones(2, 3))
    assert step.stats["replayed"] == 2
    assert bitwise(m.weight.grad.numpy(), np.full((1, 3), 2.0, np.float32))  # not accumulated


def test_setting_grad_in_python_is_seen_past_host_calls():
    """Host calls (dropout's mask, the target check) run between the change and backward."""
    m, _ = _setup()

    def step(x, y):
        m[0].weight.grad = None  # Python: not replayed
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        return loss

    step = dg.compile(step)
    y = dg.tensor(np.array([0, 1, 1, 0, 1]))
    with pytest.warns(CompileWarning, match=r"sets .grad in Python"):
        [step(_x(5), y) for _ in range(3)]


def test_compiled_method_binds_its_instance():
    class Trainer:
        def __init__(self, scale: float) -> None:
            self.w = dg.full((3,), scale, requires_grad=True)

        @dg.compile
        def step(self, x):
            loss = (self.w * x).sum()
            return loss

    a, b = Trainer(1.0), Trainer(2.0)
    x = dg.ones(3)
    outs = [(float(a.step(x)), float(b.step(x))) for _ in range(3)]
    assert outs == [(3.0, 6.0)] * 3
    assert Trainer.step.stats["replayed"] == 2  # one plan per instance


def test_fullgraph_raises_where_the_step_would_run_eagerly_and_disable_returns_the_step():
    w = dg.tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        loss = (w * x).sum()
        loss.backward()
        return float(loss.item())  # reads a value back: cannot be replayed

    assert dg.compile(step, disable=True) is step
    strict = dg.compile(step, fullgraph=True)
    with pytest.raises(RuntimeError, match=r"fullgraph=True.*cannot be replayed.*item"):
        for _ in range(3):
            strict(dg.tensor([1.0, 1.0]))
