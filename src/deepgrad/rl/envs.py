"""Environments with Gymnasium's interface, built in so nothing needs installing.

The protocol (Gymnasium 1.x): `reset(seed=None) -> (observation, info)`,
`step(action) -> (observation, reward, terminated, truncated, info)`,
`action_space.n` and `observation_space.shape`.  `terminated` means the task
ended (the pole fell, the goal was reached): no value lies beyond it;
`truncated` means a time limit cut the episode: bootstrapping from the last
observation is still right.  Any Gymnasium environment can be passed to the
agents as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Discrete:
    """Actions 0 .. n - 1."""

    n: int

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.n))

    def contains(self, a: Any) -> bool:
        return isinstance(a, (int, np.integer)) and 0 <= int(a) < self.n


@dataclass(frozen=True)
class Box:
    """Real vectors of a fixed shape between `low` and `high`."""

    low: np.ndarray
    high: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.low))


class Env:
    """Base class: subclasses implement `_reset(rng)` and `_step(action)`; the time limit is here."""

    action_space: Discrete
    observation_space: Box
    max_episode_steps: int = 500

    def __init__(self) -> None:
        self.np_random = np.random.default_rng()
        self._t = 0
        self._done = True

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.np_random = np.random.default_rng(seed)
        self._t, self._done = 0, False
        return self._reset(self.np_random), {}

    def step(self, action):
        name = type(self).__name__
        if self._done:
            raise RuntimeError(f"{name}.step: the episode has ended; call reset() first")
        if not self.action_space.contains(action):
            raise ValueError(
                f"{name}.step: action {action!r} is not in 0..{self.action_space.n - 1}"
            )
        obs, reward, terminated = self._step(int(action))
        self._t += 1
        truncated = not terminated and self._t >= self.max_episode_steps
        self._done = terminated or truncated
        return obs, float(reward), bool(terminated), bool(truncated), {}


class CartPole(Env):
    """Balance a pole on a cart (Barto, Sutton & Anderson 1983), Gymnasium's CartPole-v1 dynamics.

    State (x, x', theta, theta'); actions push the cart left (0) or right (1) with
    10 N; +1 reward per step; the episode terminates when |theta| > 12 degrees or
    |x| > 2.4, and is truncated after `max_episode_steps` (500 as in v1; 200 for
    the classic v0, "solved" at an average return of 195 over 100 episodes).
    Euler integration with tau = 0.02 s of

    $\\ddot\\theta = \\frac{g \\sin\\theta - \\cos\\theta\\,(F + m_p l \\dot\\theta^2 \\sin\\theta)/M}
    {l\\,(4/3 - m_p \\cos^2\\theta / M)}$, $\\ddot x = (F + m_p l \\dot\\theta^2 \\sin\\theta)/M
    - m_p l \\ddot\\theta \\cos\\theta / M$, with $M = m_c + m_p$.
    """

    gravity, masscart, masspole, length, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_limit, x_limit = 12 * 2 * math.pi / 360, 2.4

    def __init__(self, max_episode_steps: int = 500) -> None:
        super().__init__()
        if max_episode_steps < 1:
            raise ValueError(f"CartPole: max_episode_steps must be >= 1, got {max_episode_steps}")
        self.max_episode_steps = max_episode_steps
        high = np.array([4.8, np.inf, 2 * self.theta_limit, np.inf], dtype=np.float32)
        self.observation_space = Box(-high, high)
        self.action_space = Discrete(2)
        self.state = np.zeros(4)

    def _reset(self, rng):
        self.state = rng.uniform(-0.05, 0.05, size=4)
        return self.state.astype(np.float32)

    def _step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        total = self.masscart + self.masspole
        pole_ml = self.masspole * self.length
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + pole_ml * theta_dot**2 * sin) / total
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * cos**2 / total)
        )
        x_acc = temp - pole_ml * theta_acc * cos / total
        x, x_dot = x + self.tau * x_dot, x_dot + self.tau * x_acc
        theta, theta_dot = theta + self.tau * theta_dot, theta_dot + self.tau * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        terminated = abs(x) > self.x_limit or abs(theta) > self.theta_limit
        return self.state.astype(np.float32), 1.0, terminated


class GridWorld(Env):
    """A `size` x `size` grid: start top-left, goal bottom-right, optional walls (I2DL's RL intro).

    Actions 0 up, 1 right, 2 down, 3 left; moving into a wall or the border stays
    put.  Reward -0.01 per step and +1 at the goal, which terminates.  The
    observation is the one-hot position (size * size).
    """

    MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))

    def __init__(self, size: int = 5, walls: tuple[tuple[int, int], ...] = ((1, 1), (2, 2), (3, 1)),
                 max_episode_steps: int = 100) -> None:  # fmt: skip
        super().__init__()
        if size < 2:
            raise ValueError(f"GridWorld: size must be >= 2, got {size}")
        self.size, self.walls, self.max_episode_steps = size, set(walls), max_episode_steps
        goal = (size - 1, size - 1)
        if (0, 0) in self.walls or goal in self.walls:
            raise ValueError("GridWorld: a wall covers the start or the goal")
        self.goal = goal
        self.action_space = Discrete(4)
        self.observation_space = Box(np.zeros(size * size), np.ones(size * size))
        self.pos = (0, 0)

    def _obs(self):
        o = np.zeros(self.size * self.size, dtype=np.float32)
        o[self.pos[0] * self.size + self.pos[1]] = 1.0
        return o

    def _reset(self, rng):
        self.pos = (0, 0)
        return self._obs()

    def _step(self, action):
        dr, dc = self.MOVES[action]
        r, c = self.pos[0] + dr, self.pos[1] + dc
        if 0 <= r < self.size and 0 <= c < self.size and (r, c) not in self.walls:
            self.pos = (r, c)
        done = self.pos == self.goal
        return self._obs(), 1.0 if done else -0.01, done


def make(name: str, **kwargs) -> Any:
    """A built-in environment by name ("CartPole-v1", "CartPole-v0", "GridWorld"); other names
    go to Gymnasium when it is installed (`pip install deepgrad[rl]`)."""
    if name == "CartPole-v1":
        return CartPole(**{"max_episode_steps": 500, **kwargs})
    if name == "CartPole-v0":
        return CartPole(**{"max_episode_steps": 200, **kwargs})
    if name == "GridWorld":
        return GridWorld(**kwargs)
    try:
        import gymnasium
    except ImportError:
        raise ValueError(
            f"make: unknown environment {name!r}; built in: CartPole-v0, CartPole-v1, GridWorld "
            "(install gymnasium for others)"
        ) from None
    return gymnasium.make(name, **kwargs)


__all__ = ["Box", "CartPole", "Discrete", "Env", "GridWorld", "make"]
