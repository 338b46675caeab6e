"""vmap: axes, composition with grad/jvp/jacobian/hessian, per-sample gradients, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import func

RNG = np.random.default_rng(0)


def _t(*shape):
    return dg.tensor(RNG.standard_normal(shape))


def test_in_dims_and_out_dims_move_the_batch_axis():
    x, y = _t(3, 4), _t(4)
    out = dg.vmap(lambda a, b: a * b, in_dims=(1, None), out_dims=1)(x.T, y)
    np.testing.assert_allclose(out.data, (x.data * y.data).T)


def test_nested_vmap_equals_outer_product_loop():
    a, b = _t(3, 2), _t(4, 2)
    f = dg.vmap(dg.vmap(lambda u, v: (u * v).sum(), in_dims=(None, 0)), in_dims=(0, None))
    np.testing.assert_allclose(f(a, b).data, a.data @ b.data.T, atol=1e-12)


def test_dict_and_tuple_arguments_are_mapped_leafwise():
    d = {"w": _t(5, 3), "b": _t(5)}
    out = dg.vmap(lambda p, x: (p["w"] * x).sum() + p["b"], in_dims=({"w": 0, "b": 0}, None))(
        d, _t(3)
    )
    assert out.shape == (5,)


def test_unbatched_output_is_broadcast_over_the_batch():
    out = dg.vmap(lambda x: dg.tensor(2.0), in_dims=0)(_t(4, 2))
    np.testing.assert_allclose(out.data, np.full(4, 2.0))


def _loss(w, x, y):
    return ((dg.tanh(x @ w) - y) ** 2).sum()


def test_per_sample_gradients_equal_a_loop():
    w, xs, ys = _t(3, 2), _t(6, 3), _t(6, 2)
    per = dg.vmap(dg.grad(_loss), in_dims=(None, 0, 0))(w, xs, ys)
    loop = np.stack([dg.grad(_loss)(w, xs[i], ys[i]).data for i in range(6)])
    assert per.shape == (6, 3, 2)
    np.testing.assert_allclose(per.data, loop, rtol=1e-12, atol=1e-12)


def test_per_sample_gradients_of_a_module_through_functional_call():
    net = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.Tanh(), dg.nn.Linear(4, 1)).to(dg.float64)
    params = {k: v.detach() for k, v in net.named_parameters()}
    xs, ys = _t(5, 3), _t(5, 1)

    def loss(p, x, y):
        return ((func.functional_call(net, p, (x.reshape(1, 3),)) - y) ** 2).sum()

    per = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, xs, ys)
    for i in range(5):
        one = func.grad(loss)(params, xs[i], ys[i])
        for k in params:
            np.testing.assert_allclose(per[k].data[i], one[k].data, rtol=1e-10, atol=1e-12)


def test_grad_of_vmap_differentiates_through_the_batch():
    w, xs = _t(3), _t(4, 3)
    g = dg.grad(lambda w: dg.vmap(lambda x: dg.sin(x @ w), in_dims=0)(xs).sum())(w)
    want = (np.cos(xs.data @ w.data)[:, None] * xs.data).sum(0)
    np.testing.assert_allclose(g.data, want, atol=1e-12)


def test_vmap_of_jvp_jacobian_hessian():
    xs = _t(4, 3)
    f = lambda x: (x**3).sum()
    hs = dg.vmap(dg.hessian(f))(xs)
    np.testing.assert_allclose(hs.data, np.stack([np.diag(6 * x) for x in xs.data]))
    js = dg.vmap(func.jacrev(lambda x: dg.exp(x)))(xs)
    np.testing.assert_allclose(js.data, np.stack([np.diag(np.exp(x)) for x in xs.data]))
    jf = dg.vmap(func.jacfwd(lambda x: dg.exp(x)))(xs)
    np.testing.assert_allclose(jf.data, js.data)
    v = dg.ones(3, dtype=np.float64)
    ts = dg.vmap(lambda x: dg.jvp(lambda u: dg.sin(u), (x,), (v,))[1])(xs)
    np.testing.assert_allclose(ts.data, np.cos(xs.data))


def test_jacrev_of_vmap_is_block_diagonal():
    xs = _t(2, 3)
    j = func.jacrev(dg.vmap(dg.tanh))(xs)
    d = 1 - np.tanh(xs.data) ** 2
    want = np.zeros((2, 3, 2, 3))
    for b in range(2):
        want[b, :, b, :] = np.diag(d[b])
    np.testing.assert_allclose(j.data, want, atol=1e-12)


def test_batched_masks_and_casts_inside_rules_stay_per_sample():
    xs = _t(5, 4)
    g = dg.vmap(dg.grad(lambda x: (dg.relu(x) * (x > 0.3).float()).sum()))(xs)
    np.testing.assert_allclose(g.data, (xs.data > 0.3).astype(float))


def test_where_with_a_batched_condition():
    xs = _t(4, 3)
    got = dg.vmap(lambda x: dg.where(x > 0, x, 0.1 * x))(xs)
    np.testing.assert_allclose(got.data, np.where(xs.data > 0, xs.data, 0.1 * xs.data))
    g = dg.vmap(dg.grad(lambda x: dg.where(x > 0, x, 0.1 * x).sum()))(xs)
    np.testing.assert_allclose(g.data, np.where(xs.data > 0, 1.0, 0.1))


def test_randomness_modes():
    xs = dg.zeros(4, 3)
    with pytest.raises(dg.func.VmapError, match="randomness='error'"):
        dg.vmap(lambda x: x + dg.randn(3))(xs)
    same = dg.vmap(lambda x: x + dg.randn(3), randomness="same")(xs)
    assert np.allclose(same.numpy(), same.numpy()[0])
    diff = dg.vmap(lambda x: x + dg.randn(3), randomness="different")(xs)
    assert not np.allclose(diff.numpy(), diff.numpy()[0])
    assert dg.randn(2).shape == (2,)  # the default generator is restored


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: dg.vmap(lambda x: x)(dg.ones(3), in_dims=0), "unexpected keyword"),
        (lambda: dg.vmap(lambda x, y: x, in_dims=(0,))(dg.ones(3), dg.ones(3)), "in_dims has 1"),
        (lambda: dg.vmap(lambda x, y: x + y)(dg.ones(3), dg.ones(4)), "differ in size"),
        (lambda: dg.vmap(lambda x: x, in_dims=2)(dg.ones(3, 2)), "out of range"),
        (lambda: dg.vmap(lambda x: x, in_dims=None)(dg.ones(3)), "at least one"),
        (lambda: dg.vmap(lambda x: x.item())(dg.ones(3)), "values of a batched"),
        (lambda: dg.vmap(lambda x: float(x.sum()))(dg.ones(3, 2)), "values of a batched"),
        (lambda: dg.vmap(lambda x: x, randomness="maybe")(dg.ones(3)), "randomness must"),
        (lambda: dg.vmap(lambda x: x.sum().backward())(dg.ones(3, 2)), "backward"),
    ],
)
def test_vmap_refuses_bad_use_clearly(call, match):
    with pytest.raises((ValueError, TypeError, RuntimeError), match=match):
        call()


def test_batched_static_index_is_refused():
    idx = dg.tensor(np.array([[0, 1], [1, 0]]))
    with pytest.raises(dg.func.VmapError, match="values of a batched|static parameter"):
        dg.vmap(lambda x, i: dg.gather(x, 0, i))(_t(2, 3), idx)


def test_no_warning_on_a_typical_model():
    net = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.ReLU(), dg.nn.Linear(4, 2)).to(dg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dg.vmap(lambda x: net(x.reshape(1, 3)).sum())(_t(6, 3))
    assert out.shape == (6,)


def test_per_sample_cross_entropy_with_one_hot_targets():
    net = dg.nn.Sequential(dg.nn.Linear(3, 4), dg.nn.ReLU(), dg.nn.Linear(4, 3)).to(dg.float64)
    params = {k: v.detach() for k, v in net.named_parameters()}
    xs = _t(5, 3)
    onehot = dg.tensor(np.eye(3)[[0, 2, 1, 1, 0]])

    def loss(p, x, t):
        logits = func.functional_call(net, p, (x.reshape(1, 3),))
        return dg.nn.functional.cross_entropy(logits, t.reshape(1, 3))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every primitive on this path has a batching rule
        per = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, xs, onehot)
    for i in range(5):
        one = func.grad(loss)(params, xs[i], onehot[i])
        for k in params:
            np.testing.assert_allclose(per[k].data[i], one[k].data, rtol=1e-10, atol=1e-13)


def test_deeper_compositions_equal_loops():
    w, xs = _t(3), _t(2, 4, 3)

    def f(w, x):
        return dg.tanh((w * x).sum()) ** 2

    got = dg.vmap(dg.vmap(dg.grad(f), in_dims=(None, 0)), in_dims=(None, 0))(w, xs)
    want = [[dg.grad(f)(w, xs[i][j]).data for j in range(4)] for i in range(2)]
    np.testing.assert_allclose(got.data, np.array(want), atol=1e-12)
    outer = dg.grad(lambda w: dg.vmap(dg.grad(f), in_dims=(None, 0))(w, xs[0]).sum())(w)
    loop = sum(dg.grad(lambda w, j=j: dg.grad(f)(w, xs[0][j]).sum())(w).data for j in range(4))
    np.testing.assert_allclose(outer.data, loop, atol=1e-12)
