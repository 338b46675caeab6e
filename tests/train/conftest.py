"""Fixtures shared by the training tests."""

from __future__ import annotations

import pytest

import deepgrad as dg


@pytest.fixture
def spiral_data():
    """A 3-class spiral, 50 points per class."""
    return dg.data.spiral(50, 3, noise=0.1, seed=0)
