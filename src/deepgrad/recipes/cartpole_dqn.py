"""cartpole-dqn: deep Q-learning balances the pole (Mnih et al. 2015).

Q-learning with a two-layer MLP, experience replay, a target network and
double-DQN targets, epsilon-greedy exploration decaying from 1 to 0.05.  The run
plots the return of every training episode and its 100-episode mean, checks
the greedy policy every `eval_every` steps on 20 validation episodes and keeps
the best weights (DQN's policy oscillates on CartPole), and evaluates those on
100 new episodes: CartPole-v0 counts as solved at an average return of 195.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deepgrad.rl import DQN, CartPole

from ._rl import experiment, run_cartpole

NAME = "cartpole-dqn"
DESCRIPTION = "DQN (replay, target network, double Q) on CartPole-v0: return curves, solved?"
QUICK = {"steps": 600, "learning_starts": 100, "eval_every": 300}


def default_config() -> dict[str, Any]:
    return {"steps": 60000, "lr": 0.001, "hidden": 128, "gamma": 0.99, "batch_size": 64,
            "learning_starts": 1000, "target_update": 500, "eps_end": 0.02,
            "eps_decay_steps": 10000, "train_freq": 1, "eval_every": 5000, "seed": 0}  # fmt: skip


def run(config: dict[str, Any], out_dir: Path, quick: bool = False) -> dict[str, Any]:
    exp = experiment(NAME, DESCRIPTION, config, out_dir)
    agent = DQN(4, 2, hidden=config["hidden"], lr=config["lr"], gamma=config["gamma"],
                batch_size=config["batch_size"], learning_starts=config["learning_starts"],
                target_update=config["target_update"], eps_end=config["eps_end"],
                eps_decay_steps=config["eps_decay_steps"], train_freq=config["train_freq"],
                seed=config["seed"])  # fmt: skip
    env = CartPole(max_episode_steps=200)
    return run_cartpole(exp, "DQN", agent,
                        lambda until, cb: agent.learn(env, until, cb), config)  # fmt: skip
