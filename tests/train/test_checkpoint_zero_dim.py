"""A checkpoint keeps 0-d arrays 0-d (batch norm's num_batches_tracked), so resume loads."""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad import nn
from deepgrad.train.checkpoint import load_checkpoint, save_checkpoint


def test_batch_norm_model_checkpoint_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    model(dg.tensor(np.ones((4, 2), np.float32)))
    save_checkpoint(tmp_path / "ck", model, None, None)
    fresh = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    load_checkpoint(tmp_path / "ck", fresh)
    assert fresh[1].num_batches_tracked.data.shape == ()
    assert int(fresh[1].num_batches_tracked.data) == 1
    np.testing.assert_array_equal(fresh[1].running_mean.data, model[1].running_mean.data)
