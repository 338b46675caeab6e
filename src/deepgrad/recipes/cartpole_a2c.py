"""cartpole-a2c: advantage actor-critic balances the pole (Mnih et al. 2016, synchronous).

A policy and a value MLP trained on 16-step rollouts from 8 parallel
environments with bootstrapped returns.  The run plots the return of every
training episode and its 100-episode mean, and evaluates the greedy policy on
100 new episodes: CartPole-v0 counts as solved at an average return of 195.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepgrad.rl import A2C, CartPole

from ._rl import experiment, run_cartpole

NAME = "cartpole-a2c"
DESCRIPTION = "advantage actor-critic (8 envs, 16-step returns) on CartPole-v0: return curves"
QUICK = {"steps": 2000, "eval_every": 1000}


def default_config() -> dict[str, Any]:
    return {"steps": 150000, "lr": 0.003, "hidden": 64, "gamma": 0.99, "n_envs": 8,
            "n_steps": 16, "entropy_coef": 0.0, "value_coef": 0.5, "eval_every": 25000,
            "seed": 0}  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = experiment(NAME, DESCRIPTION, config, out_dir)
    agent = A2C(4, 2, hidden=config["hidden"], lr=config["lr"], gamma=config["gamma"],
                n_steps=config["n_steps"], entropy_coef=config["entropy_coef"],
                value_coef=config["value_coef"], seed=config["seed"])  # fmt: skip
    envs = [CartPole(max_episode_steps=200) for _ in range(config["n_envs"])]
    return run_cartpole(exp, "A2C", agent,
                        lambda until, cb: agent.learn(envs, until, cb), config)  # fmt: skip
