"""One property test walks the whole primitive registry (minitorch + chainer style).

For every registered primitive, in float64, on drawn shapes from its declared
domain (0-d, size-1, empty and broadcast pairs included), it checks:
  * the VJP and the JVP against central finite differences,
  * the transpose identity <J v, u> == <v, J^T u> between forward and reverse mode,
  * second order: the VJP differentiated again, against finite differences.
A primitive without a VJP, a JVP, a domain or error cases fails the suite; every declared
error case must raise its exception with a matching message.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.core.primitive import REGISTRY, apply
from deepgrad.testing import check_jvp, gradcheck, gradgradcheck

NAMES = sorted(REGISTRY)


def test_registry_is_populated():
    for name in ["add", "mul", "matmul", "exp", "sum", "reshape", "getitem", "softmax", "einsum"]:
        assert name in REGISTRY, f"primitive {name} is not registered"


@pytest.mark.parametrize("name", NAMES)
def test_primitive_declares_rules_and_domain(name):
    prim = REGISTRY[name]
    assert prim.domain is not None, f"{name} has no input domain"
    assert prim.domain.cases, f"{name} declares an empty domain"
    assert len(prim.vjp) >= 1 and len(prim.vjp) == len(prim.jvp), f"{name}: rule count"
    for i, (v, j) in enumerate(zip(prim.vjp, prim.jvp)):
        assert callable(v), f"{name}: input {i} has no VJP rule"
        assert callable(j), f"{name}: input {i} has no JVP rule"
    assert prim.doc and prim.doc.strip(), f"{name}: forward has no docstring with its math"
    assert prim.domain.errors, (
        f"{name}: declares no error cases; add Domain(errors=[ErrorCase(lambda: bad_call(), "
        "ExcType, r'message naming the public function')]) (see core/primitive.py ErrorCase)"
    )


def _case(prim, data):
    dom = prim.domain
    case = dom.cases[data.draw(st.integers(0, len(dom.cases) - 1), label="case")]
    seed = data.draw(st.integers(0, 2**16), label="seed")
    rng = np.random.default_rng(seed)
    params = case.params(rng) if callable(case.params) else dict(case.params)
    inputs = [dg.Tensor(dom.sample(rng, s), requires_grad=True) for s in case.shapes]
    fn = dom.fn if dom.fn is not None else (lambda *xs, **p: apply(prim, *xs, **p))
    return (lambda *xs: fn(*xs, **params)), inputs


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_primitive_derivatives(name, data):
    prim = REGISTRY[name]
    f, inputs = _case(prim, data)
    eps = prim.domain.fd_eps
    assert gradcheck(f, inputs, eps=eps, atol=1e-5, rtol=1e-4)
    check_jvp(f, inputs)
    if prim.domain.second_order:
        assert gradgradcheck(f, inputs, eps=eps, atol=1e-4, rtol=1e-3)


ERROR_CASES = [
    pytest.param(REGISTRY[n].domain.errors[k], id=f"{n}-{k}")
    for n in NAMES
    if REGISTRY[n].domain is not None
    for k in range(len(REGISTRY[n].domain.errors))
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_primitive_error_cases(case):
    """Each declared invalid call raises the declared exception with a clear message."""
    with pytest.raises(case.exc, match=case.match):
        case.call()
