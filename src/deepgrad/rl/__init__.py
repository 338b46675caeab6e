"""Reinforcement learning: Gymnasium-style environments, replay, and three agents.

>>> from deepgrad.rl import CartPole
>>> obs, info = CartPole().reset(seed=0)
>>> obs.shape
(4,)
"""

from .agents import A2C, DQN, Reinforce, evaluate, mlp
from .envs import Box, CartPole, Discrete, Env, GridWorld, make
from .replay import ReplayBuffer

__all__ = [
    "A2C",
    "DQN",
    "Box",
    "CartPole",
    "Discrete",
    "Env",
    "GridWorld",
    "Reinforce",
    "ReplayBuffer",
    "evaluate",
    "make",
    "mlp",
]  # fmt: skip
