"""Adadelta, Adamax, NAdam, RAdam, Rprop, ASGD: behaviour without torch, parity with it.

Parity: 25 float64 steps on fixed random gradients must match torch.optim to rounding
(skipped without torch). Behaviour: each one decreases a quadratic, validates its
hyperparameters and round-trips its state dict.
"""

from __future__ import annotations

import numpy as np
import pytest
from optim_helpers import param, set_grad

from deepgrad import optim

CONFIGS = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.5, 0.9), "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2), "maximize": True}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]


@pytest.mark.parametrize(("name", "kwargs"), CONFIGS, ids=IDS)
def test_trajectory_matches_torch(name, kwargs):
    torch = pytest.importorskip("torch", reason="torch.optim is the reference for parity")
    rng = np.random.default_rng(11)
    theta0 = rng.normal(size=(4, 3))
    p = param(theta0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # ASGD keeps eta and mu in the default dtype
    try:
        tp = torch.tensor(theta0, requires_grad=True)
        ours = getattr(optim, name)([p], **kwargs)
        theirs = getattr(torch.optim, name)([tp], **kwargs)
        for _ in range(25):
            g = rng.normal(size=(4, 3))
            set_grad(p, g)
            tp.grad = torch.tensor(g)
            ours.step()
            theirs.step()
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-11, atol=1e-12)
        if name == "ASGD":
            ax = theirs.state[tp]["ax"].numpy()
            np.testing.assert_allclose(ours.state[p]["ax"], ax, rtol=1e-11, atol=1e-12)
    finally:
        torch.set_default_dtype(old)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "Rprop", "ASGD"])
def test_decreases_a_quadratic_and_state_dict_round_trips(name):
    lr = {"Adadelta": 1.0, "ASGD": 0.1}.get(name, 0.05)
    p = param(np.array([3.0, -2.0]))
    opt = getattr(optim, name)([p], lr=lr)
    for _ in range(60):
        set_grad(p, 2 * p.data)  # the gradient of |theta|^2
        opt.step()
    # Adadelta's first steps are ~sqrt(eps) long (Zeiler 2012): it only has to make progress
    assert np.sum(p.numpy() ** 2) < 13.0 * (0.9 if name == "Adadelta" else 0.5)
    q = param(p.numpy().copy())
    clone = getattr(optim, name)([q], lr=lr)
    clone.load_state_dict(opt.state_dict())
    for o, x in ((opt, p), (clone, q)):
        set_grad(x, 2 * x.data)
        o.step()
    np.testing.assert_array_equal(p.data, q.data)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("Adadelta", {"rho": 1.5}, r"Adadelta: rho must be in \[0.0, 1.0\]"),
        ("Adamax", {"betas": (0.9, 1.0)}, r"Adamax: betas\[1\] must be in"),
        ("NAdam", {"momentum_decay": -1.0}, r"NAdam: momentum_decay must be a finite number >= 0"),
        ("RAdam", {"eps": -1.0}, r"RAdam: eps must be"),
        ("Rprop", {"etas": (1.5, 1.2)}, r"Rprop: etas must satisfy 0 < eta- < 1 < eta\+"),
        ("ASGD", {"lambd": -1.0}, r"ASGD: lambd must be"),
    ],
)
def test_invalid_hyperparameters_are_refused(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([param(np.zeros(2))], **kwargs)
