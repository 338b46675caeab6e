"""scatter_reduce / index_reduce / scatter(reduce=) against PyTorch in float64: values and
gradients for every reduction, with ties (amax/amin share the gradient evenly) and zeros
(prod's masked rule), in place and out of place, and the refusals."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import deepgrad as dg

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch installed")

REDUCES = ["sum", "prod", "mean", "amax", "amin"]
INDEX = np.array([[0, 2], [2, 2], [0, 1], [2, 0]])


def _values(kind: str, shape, rng) -> np.ndarray:
    if kind == "ties":  # few distinct values: amax/amin ties, repeated products
        return rng.integers(-1, 2, size=shape).astype(np.float64)
    if kind == "zeros":  # single and repeated zeros (prod's special cases)
        x = rng.uniform(0.5, 2, size=shape)
        return np.where(rng.uniform(size=shape) < 0.35, 0.0, x)
    return rng.uniform(-2, 2, size=shape)


def _run(lib, fn, arrays, cot):
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *xs)
    (out * lib.tensor(cot)).sum().backward()
    grads = [x.grad for x in xs]
    return np.asarray(out.detach().numpy()), [np.asarray(g.numpy()) for g in grads]


def _compare(fn, arrays, seed=0):
    out_shape = tuple(fn(torch, *[torch.tensor(a) for a in arrays]).shape)
    cot = np.random.default_rng(seed + 7).standard_normal(out_shape)
    ours, our_grads = _run(dg, fn, arrays, cot)
    theirs, their_grads = _run(torch, fn, arrays, cot)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["random", "ties", "zeros"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_values_and_gradients_match_pytorch(reduce, include_self, kind):
    for seed in range(2):
        rng = np.random.default_rng(seed)
        x, src = _values(kind, (3, 2), rng), _values(kind, (4, 2), rng)

        def fn(L, x, s):
            return L.scatter_reduce(x, 0, L.tensor(INDEX), s, reduce, include_self=include_self)

        _compare(fn, [x, src], seed)


@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_along_the_last_dim_and_as_a_method(reduce):
    rng = np.random.default_rng(3)
    index = np.array([[3, 3, 0], [1, 2, 1]])
    _compare(
        lambda L, x, s: x.scatter_reduce(-1, L.tensor(index), s, reduce),
        [_values("ties", (2, 4), rng), _values("ties", (2, 3), rng)],
    )


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES[1:])
def test_index_reduce_matches_pytorch(reduce, include_self):
    rng = np.random.default_rng(4)
    index = np.array([0, 2, 0, 0])

    def fn(L, x, s):
        return L.index_reduce(x, 1, L.tensor(index), s, reduce, include_self=include_self)

    with _quiet():
        _compare(fn, [_values("ties", (2, 3), rng), _values("ties", (2, 4), rng)])


@contextlib.contextmanager
def _quiet():
    """torch warns that index_reduce is beta and scatter(reduce=) deprecated: not under test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_integer_scatter_reduce_and_scatter_multiply_match_pytorch():
    x = np.array([[1, 2], [3, 4], [5, 6]])
    src = np.array([[7, 8], [9, 11]])
    index = np.array([[0, 0], [0, 2]])
    for reduce in REDUCES:
        for inc in (True, False):
            ours = dg.scatter_reduce(
                dg.tensor(x), 0, index, dg.tensor(src), reduce, include_self=inc
            )
            theirs = torch.tensor(x).scatter_reduce(
                0, torch.tensor(index), torch.tensor(src), reduce, include_self=inc
            )
            assert ours.dtype == dg.int64
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=f"{reduce} {inc}")
    with _quiet():
        for reduce in ("add", "multiply"):
            ours = dg.tensor(x).scatter(0, index, dg.tensor(src), reduce=reduce)
            theirs = torch.tensor(x).scatter(
                0, torch.tensor(index), torch.tensor(src), reduce=reduce
            )
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
            ours = dg.tensor(x).scatter(0, index, 3, reduce=reduce)
            theirs = torch.tensor(x).scatter(0, torch.tensor(index), 3, reduce=reduce)
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_in_place_forms_update_the_tensor_and_record_the_gradient():
    rng = np.random.default_rng(5)
    x0, src0 = rng.uniform(0.5, 2, (3, 2)), rng.uniform(0.5, 2, (4, 2))
    index = np.array([[0, 2], [2, 2], [0, 1], [2, 0]])
    out = {}
    for L in (dg, torch):
        x, s = L.tensor(x0, requires_grad=True), L.tensor(src0, requires_grad=True)
        h = x * 1.0
        same = h.scatter_reduce_(0, L.tensor(index), s, "prod", include_self=False)
        assert same is h
        h2 = h * 1.0  # torch saves h for prod's backward: modifying it would raise there
        with _quiet():
            assert h2.index_reduce_(0, L.tensor([1, 1]), s[:2] * 2, "amax") is h2
        h2.sum().backward()
        out[L.__name__] = [h2.detach().numpy(), x.grad.numpy(), s.grad.numpy()]
    for a, b in zip(out["deepgrad"], out["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
