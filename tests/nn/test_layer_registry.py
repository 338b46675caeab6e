"""Every layer and loss exported from deepgrad.nn declares gradient-check cases and error
cases, and passes them.

Each case is built in float64; the gradients with respect to the inputs and to every
parameter (reverse and forward mode) are checked against central finite differences.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn.registry import ERRORS_EXEMPT, EXEMPT, LAYER_CASES, cases_for, errors_for
from deepgrad.nn.utils import functional_call
from deepgrad.testing import gradcheck


def _exported_modules() -> list[type]:
    """Public Module subclasses reachable as deepgrad.nn.<Name> (star-imported ones included)."""
    out = []
    for name in sorted(dir(nn)):
        obj = getattr(nn, name)
        if name.startswith("_") or not inspect.isclass(obj):
            continue
        if issubclass(obj, nn.Module) and obj is not nn.Module:
            out.append(obj)
    return out


MODULES = _exported_modules()
CASES = [
    pytest.param(cls, k, id=f"{cls.__name__}-{k}")
    for cls in MODULES
    for k in range(len(cases_for(cls)))
]


def test_modules_are_found():
    names = {c.__name__ for c in MODULES}
    assert {"Linear", "BatchNorm1d", "CrossEntropyLoss", "GELU", "Sequential"} <= names


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_every_module_declares_cases_or_an_exemption(cls):
    if cls in EXEMPT:
        assert EXEMPT[cls].strip(), f"{cls.__name__} is exempt without a reason"
        assert cls not in LAYER_CASES, f"{cls.__name__} is both exempt and has cases"
        return
    assert cases_for(cls), (
        f"{cls.__name__} declares no gradient-check case: add @layer_cases(LayerCase(...)) "
        "next to the class (see deepgrad/nn/registry.py)"
    )


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_every_module_declares_error_cases_or_an_exemption(cls):
    """Contract v2: each layer and loss lists invalid constructions or calls it refuses."""
    if cls in EXEMPT:  # containers: their children declare their own
        return
    if cls in ERRORS_EXEMPT:
        assert ERRORS_EXEMPT[cls].strip(), f"{cls.__name__} is exempt without a reason"
        return
    assert errors_for(cls), (
        f"{cls.__name__} declares no error case: add @layer_errors(ErrorCase(lambda: bad_call(), "
        "ExcType, r'message naming the module')) next to the class (see deepgrad/nn/registry.py)"
    )


def test_error_exemptions_are_rare():
    exempt = {c.__name__ for c in MODULES if c in ERRORS_EXEMPT}
    assert exempt <= {"Identity"}


def test_exemptions_are_only_containers():
    exempt = {c.__name__ for c in MODULES if c in EXEMPT}
    assert exempt <= {"Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"}


def _joined(out):
    """A layer returning several tensors (an RNN's output and states) is checked on all of
    them at once: flattened and concatenated."""
    if isinstance(out, dg.Tensor):
        return out
    flat = []
    stack = [out]
    while stack:
        item = stack.pop(0)
        if isinstance(item, (tuple, list)):
            stack[:0] = list(item)
        else:
            flat.append(item.reshape(-1))
    return dg.concatenate(flat, 0)


@pytest.mark.parametrize("cls,k", CASES)
def test_layer_gradients_match_finite_differences(cls, k):
    case = cases_for(cls)[k]
    rng = np.random.default_rng(1234 + k)
    module = case.ctor()
    module.double()
    module.train(case.train)
    xs = [dg.Tensor(a, requires_grad=True) for a in case.make_inputs(rng)]
    targets = case.make_targets(rng)
    names = [n for n, p in module.named_parameters() if p.requires_grad] if case.params else []
    params = [dg.Tensor(module.get_parameter(n).numpy().copy(), requires_grad=True) for n in names]
    n_in = len(xs)

    def f(*args):
        swapped = dict(zip(names, args[n_in:]))
        return _joined(functional_call(module, swapped, (*args[:n_in], *targets)))

    out = f(*xs, *params)
    assert out.dtype == np.float64, f"{cls.__name__} output is {out.dtype} after .double()"
    assert np.all(np.isfinite(out.numpy()))
    assert xs or params, "a case must have inputs or parameters to check"
    if params:  # the swapped-in tensors must really be used, or the check would be vacuous
        u = dg.Tensor(rng.standard_normal(out.shape))
        grads = dg.autograd_grad(f(*xs, *params), params, u, allow_unused=True)
        for name, g in zip(names, grads):
            assert g is not None and np.any(g.numpy() != 0), (
                f"{cls.__name__}.{name} got no gradient"
            )
    assert gradcheck(f, xs + params, eps=1e-6, atol=1e-5, rtol=1e-3)


from deepgrad.nn.registry import LAYER_ERRORS

LAYER_ERROR_CASES = [
    pytest.param(e, id=f"{cls.__name__}-{k}")
    for cls in sorted(LAYER_ERRORS, key=lambda c: c.__name__)
    for k, e in enumerate(LAYER_ERRORS[cls])
]


@pytest.mark.parametrize("case", LAYER_ERROR_CASES)
def test_layer_error_cases(case):
    """Each declared invalid construction or call raises the declared exception."""
    with pytest.raises(case.exc, match=case.match):
        case.call()
