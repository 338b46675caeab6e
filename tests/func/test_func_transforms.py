"""dg.func's torch-named transforms and module helpers: values, structure, errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import func

RNG = np.random.default_rng(4)


def _t(*shape):
    return dg.tensor(RNG.standard_normal(shape))


def test_grad_and_value_returns_gradient_first_and_handles_aux():
    x = _t(3)
    g, v = func.grad_and_value(lambda x: (x**2).sum())(x)
    np.testing.assert_allclose(g.data, 2 * x.data)
    np.testing.assert_allclose(float(v), (x.data**2).sum())
    g, (v, aux) = func.grad_and_value(lambda x: ((x**2).sum(), x * 3), has_aux=True)(x)
    np.testing.assert_allclose(aux.data, 3 * x.data)


def test_grad_over_a_dict_and_a_tuple_of_tensors():
    p = {"a": _t(2), "b": (_t(3), _t(1))}
    g = func.grad(lambda p: (p["a"] ** 2).sum() + (p["b"][0] * p["b"][1]).sum())(p)
    np.testing.assert_allclose(g["a"].data, 2 * p["a"].data)
    np.testing.assert_allclose(g["b"][0].data, np.broadcast_to(p["b"][1].data, (3,)))
    np.testing.assert_allclose(g["b"][1].data, [p["b"][0].data.sum()])


def test_vjp_and_jvp_with_aux():
    x = _t(3)
    out, fn, aux = func.vjp(lambda x: (dg.sin(x), x.sum()), x, has_aux=True)
    (gx,) = fn(dg.ones(3, dtype=np.float64))
    np.testing.assert_allclose(out.data, np.sin(x.data))
    np.testing.assert_allclose(gx.data, np.cos(x.data))
    assert float(aux) == pytest.approx(x.data.sum())
    out2, t, aux = func.jvp(lambda x: (dg.exp(x), 7.0), (x,), (dg.ones_like(x),), has_aux=True)
    np.testing.assert_allclose(t.data, np.exp(x.data))
    np.testing.assert_allclose(out2.data, np.exp(x.data))
    assert aux == 7.0


def test_jacrev_and_jacfwd_over_several_argnums():
    x, y = _t(2), _t(2)
    f = lambda x, y: x * dg.sin(y)
    jr = func.jacrev(f, argnums=(0, 1))(x, y)
    jf = func.jacfwd(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(jr[0].data, np.diag(np.sin(y.data)))
    np.testing.assert_allclose(jr[1].data, np.diag(x.data * np.cos(y.data)))
    for a, b in zip(jr, jf):
        np.testing.assert_allclose(a.data, b.data)


def test_functional_call_swaps_state_and_restores_it():
    net = dg.nn.Linear(2, 1).to(dg.float64)
    w0 = net.weight
    out = func.functional_call(net, {"weight": dg.ones(1, 2, dtype=np.float64)}, (_t(3, 2),))
    assert out.shape == (3, 1)
    assert net.weight is w0
    with pytest.raises(KeyError, match="no parameter or buffer 'wieght'"):
        func.functional_call(net, {"wieght": dg.ones(1, 2)}, (_t(3, 2),))
    with pytest.raises(KeyError, match="strict=True.*bias"):
        func.functional_call(net, {"weight": dg.ones(1, 2)}, (_t(3, 2),), strict=True)
    with pytest.raises(ValueError, match="input"):
        func.functional_call(net, {"weight": dg.ones(1, 2, dtype=np.float64)}, (_t(3, 5),))
    assert net.weight is w0  # restored after an error too


def test_stack_module_state_runs_an_ensemble_in_one_vmap():
    dg.manual_seed(1)
    models = [dg.nn.Linear(3, 2).to(dg.float64) for _ in range(4)]
    params, buffers = func.stack_module_state(models)
    assert params["weight"].shape == (4, 2, 3) and params["weight"].requires_grad
    x = _t(6, 3)

    def one(p, b, x):
        return func.functional_call(models[0], (p, b), (x,))

    out = func.vmap(one, in_dims=(0, 0, None))(params, buffers, x)
    for i, m in enumerate(models):
        np.testing.assert_allclose(out.data[i], m(x).data, rtol=1e-12)
    with pytest.raises(ValueError, match="model 1 has parameters"):
        func.stack_module_state([dg.nn.Linear(3, 2), dg.nn.Linear(3, 2, bias=False)])
