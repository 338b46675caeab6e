"""CartPole-v0 is solved (greedy mean return >= 195 over 100 new episodes) by the recipes'
default budgets: DQN in 60,000 environment steps, A2C in 150,000 (one to two minutes each),
keeping the weights of the best validation check."""

from __future__ import annotations

import os

import pytest

from deepgrad.recipes import get


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("DEEPGRAD_SLOW") != "all",
                    reason="one to four minutes of training each: DEEPGRAD_SLOW=all runs them")  # fmt: skip
@pytest.mark.parametrize("name", ["cartpole-dqn", "cartpole-a2c"])
def test_cartpole_is_solved_within_the_stated_budget(name, tmp_path):
    recipe = get(name)
    result = recipe.module.run(recipe.default_config(), tmp_path)
    assert result["greedy_mean_return"] >= 195.0, result
    assert (tmp_path / "returns.png").is_file()
