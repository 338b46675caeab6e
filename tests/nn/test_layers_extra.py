"""ParameterList / ParameterDict registration, and shapes of the issue-13 layers."""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad import nn


def test_parameter_list_registers_parameters_for_optimizers_and_state_dicts():
    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.ws = nn.ParameterList([np.ones(2), dg.tensor([3.0])])
            self.ws.append(nn.Parameter(np.zeros(1)))

        def forward(self):
            return sum((w.sum() for w in self.ws), dg.tensor(0.0))

    m = Mix()
    assert len(m.ws) == 3 and all(isinstance(w, nn.Parameter) for w in m.ws)
    assert list(m.state_dict()) == ["ws.0", "ws.1", "ws.2"]
    assert len(list(m.parameters())) == 3
    m().backward()
    np.testing.assert_array_equal(m.ws[0].grad.data, [1.0, 1.0])


def test_parameter_dict_keys_and_update():
    d = nn.ParameterDict({"a": np.ones(2)})
    d["b"] = np.zeros(3)
    d.update([("c", np.ones(1))])
    assert list(d.keys()) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert sorted(name for name, _ in d.named_parameters()) == ["a", "b", "c"]
    del d["a"]
    assert list(d) == ["b", "c"]


def test_shapes_of_new_layers():
    assert nn.Bilinear(3, 2, 4)(dg.zeros(2, 5, 3), dg.zeros(2, 5, 2)).shape == (2, 5, 4)
    assert nn.ZeroPad3d(1)(dg.zeros(1, 1, 2, 2, 2)).shape == (1, 1, 4, 4, 4)
    x = dg.tensor(np.arange(6.0).reshape(1, 6, 1))
    np.testing.assert_array_equal(nn.ChannelShuffle(2)(x).numpy().ravel(), [0, 3, 1, 4, 2, 5])
    y = nn.RMSNorm(4, elementwise_affine=False)(dg.tensor(np.full((2, 4), 3.0)))
    np.testing.assert_allclose(y.data, 1.0, rtol=1e-6)
