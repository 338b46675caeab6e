"""Experience replay (Lin 1992; Mnih et al. 2015): a ring buffer of transitions.

Sampling uniformly from the last `capacity` transitions breaks the correlation
between consecutive steps that makes online Q-learning unstable.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ReplayBuffer:
    """Fixed-capacity ring buffer of (s, a, r, s', terminated) in preallocated arrays."""

    def __init__(self, capacity: int, obs_dim: int) -> None:
        if capacity < 1 or obs_dim < 1:
            raise ValueError(
                f"ReplayBuffer: capacity and obs_dim must be >= 1, got {capacity}, {obs_dim}"
            )
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), np.float32)
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.pos = self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool) -> None:
        i = self.pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.actions[i], self.rewards[i], self.done[i] = action, reward, float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator):
        """A uniform minibatch (with replacement): states, actions, rewards, next states, dones."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        idx = rng.integers(0, self.size, size=batch_size)
        return (
            self.obs[idx],
            self.actions[idx],
            self.rewards[idx],
            self.next_obs[idx],
            self.done[idx],
        )

    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs.copy(), "next_obs": self.next_obs.copy(), "actions": self.actions.copy(),
                "rewards": self.rewards.copy(), "done": self.done.copy(), "pos": self.pos,
                "size": self.size}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["obs"].shape != self.obs.shape:
            raise ValueError(
                f"ReplayBuffer.load_state_dict: buffer of shape {state['obs'].shape}, expected "
                f"{self.obs.shape}"
            )
        for k in ("obs", "next_obs", "actions", "rewards", "done"):
            getattr(self, k)[...] = state[k]
        self.pos, self.size = int(state["pos"]), int(state["size"])


__all__ = ["ReplayBuffer"]
