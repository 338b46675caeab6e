"""Agents: REINFORCE with a baseline, advantage actor-critic (A2C), and DQN.

All three take a seed and draw every random number (exploration, action
sampling, minibatches, initial weights) from their own generator, so a run is
reproducible, and each has `state_dict()`/`load_state_dict()` holding networks,
optimizer state, counters and the generator's state: an agent restored from a
state dict continues exactly as the original would have.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad.core.state import no_grad
from deepgrad.core.tensor import Tensor
from deepgrad.nn import Linear, Module, ReLU, Sequential
from deepgrad.nn import functional as F
from deepgrad.nn.utils import clip_grad_norm_
from deepgrad.ops import exp, gather, log_softmax
from deepgrad.optim import Adam

from .replay import ReplayBuffer


def mlp(sizes: Sequence[int], rng: np.random.Generator) -> Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[Module] = []
    for i in range(len(sizes) - 1):
        layers.append(Linear(sizes[i], sizes[i + 1], generator=rng))
        if i < len(sizes) - 2:
            layers.append(ReLU())
    return Sequential(*layers)


def _sample(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row from softmax(logits), by inverse CDF with the agent's generator."""
    z = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    u = rng.random((len(p), 1))
    return np.minimum((np.cumsum(p, axis=-1) < u).sum(axis=-1), p.shape[-1] - 1)


def _returns(rewards: np.ndarray, gamma: float, bootstrap: float = 0.0) -> np.ndarray:
    """$G_t = r_t + \\gamma G_{t+1}$, $G_T$ = bootstrap."""
    out, g = np.zeros(len(rewards)), bootstrap
    for t in reversed(range(len(rewards))):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


class _Agent:
    """Shared state handling: networks and optimizer by name, counters, the generator."""

    _networks: tuple[str, ...] = ()
    _counters: tuple[str, ...] = ()

    def state_dict(self) -> dict[str, Any]:
        state = {name: getattr(self, name).state_dict() for name in self._networks}
        state["optimizer"] = self.optimizer.state_dict()
        state["counters"] = {k: getattr(self, k) for k in self._counters}
        state["rng"] = copy.deepcopy(self.rng.bit_generator.state)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._networks:
            getattr(self, name).load_state_dict(state[name])
        self.optimizer.load_state_dict(state["optimizer"])
        for k, v in state["counters"].items():
            if k not in self._counters:
                raise KeyError(f"{type(self).__name__}.load_state_dict: unknown counter {k!r}")
            setattr(self, k, v)
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])


class Reinforce(_Agent):
    """REINFORCE (Williams 1992) with a learned baseline, one episode per update.

    $\\nabla J \\approx \\sum_t \\nabla \\log \\pi(a_t|s_t)\\,(G_t - V(s_t))$; the baseline V is
    fitted to the returns by least squares.  Subtracting it leaves the gradient
    unbiased and lowers its variance.
    """

    _networks = ("policy", "value")
    _counters = ("episodes",)

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64, lr: float = 1e-2,
                 gamma: float = 0.99, seed: int = 0) -> None:  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self.policy = mlp([obs_dim, hidden, n_actions], self.rng)
        self.value = mlp([obs_dim, hidden, 1], self.rng)
        self.optimizer = Adam([*self.policy.parameters(), *self.value.parameters()], lr=lr)
        self.gamma, self.episodes = gamma, 0

    def act(self, obs: np.ndarray, greedy: bool = False) -> int:
        with no_grad():
            logits = self.policy(Tensor(np.asarray(obs, np.float32)[None]))._data
        return int(logits.argmax()) if greedy else int(_sample(logits, self.rng)[0])

    def learn(self, env: Any, episodes: int, callback: Callable[[int, float], Any] | None = None):
        """Train for `episodes` episodes; returns the list of episode returns."""
        history = []
        for _ in range(episodes):
            obs_list, actions, rewards = [], [], []
            obs, _ = env.reset(seed=int(self.rng.integers(2**31)))
            done = False
            while not done:
                a = self.act(obs)
                nxt, r, term, trunc, _ = env.step(a)
                obs_list.append(obs)
                actions.append(a)
                rewards.append(r)
                obs, done = nxt, term or trunc
            history.append(float(np.sum(rewards)))
            self._update(np.asarray(obs_list, np.float32), np.asarray(actions), np.asarray(rewards))
            self.episodes += 1
            if callback is not None:
                callback(self.episodes, history[-1])
        return history

    def _update(self, obs, actions, rewards) -> None:
        returns = Tensor(_returns(rewards, self.gamma).astype(np.float32))
        x = Tensor(obs)
        values = self.value(x).reshape((-1,))
        advantage = Tensor((returns._data - values._data).astype(np.float32))
        logp = gather(log_softmax(self.policy(x), axis=1), 1, actions[:, None]).reshape((-1,))
        loss = -(logp * advantage).mean() + F.mse_loss(values, returns) * 0.5
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()


class A2C(_Agent):
    """Advantage actor-critic (Mnih et al. 2016, synchronous): n-step returns over parallel envs.

    Per update, each of `n_envs` environments runs `n_steps`; with the bootstrapped
    return $R_t = \\sum_{k<n} \\gamma^k r_{t+k} + \\gamma^n V(s_{t+n})$ and advantage
    $A_t = R_t - V(s_t)$, the loss is
    $-\\log\\pi(a_t|s_t) A_t + c_v (R_t - V(s_t))^2 - c_e H(\\pi(\\cdot|s_t))$.
    A truncated episode is bootstrapped from its last state; a terminated one is not.
    """

    _networks = ("policy", "value")
    _counters = ("steps", "updates")

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64, lr: float = 3e-3,
                 gamma: float = 0.99, n_steps: int = 16, value_coef: float = 0.5,
                 entropy_coef: float = 0.0, max_grad_norm: float = 0.5, seed: int = 0) -> None:  # fmt: skip
        self.rng = np.random.default_rng(seed)
        self.policy = mlp([obs_dim, hidden, hidden, n_actions], self.rng)
        self.value = mlp([obs_dim, hidden, hidden, 1], self.rng)
        self.optimizer = Adam([*self.policy.parameters(), *self.value.parameters()], lr=lr)
        self.gamma, self.n_steps = gamma, n_steps
        self.value_coef, self.entropy_coef, self.max_grad_norm = (
            value_coef,
            entropy_coef,
            max_grad_norm,
        )
        self.steps = self.updates = 0

    def act(self, obs: np.ndarray, greedy: bool = False):
        batch = np.atleast_2d(np.asarray(obs, np.float32))
        with no_grad():
            logits = self.policy(Tensor(batch))._data
        a = logits.argmax(axis=1) if greedy else _sample(logits, self.rng)
        return int(a[0]) if np.ndim(obs) == 1 else a

    def _v(self, obs: np.ndarray) -> np.ndarray:
        with no_grad():
            return self.value(Tensor(np.asarray(obs, np.float32)))._data[:, 0]

    def learn(self, envs: Sequence[Any], total_steps: int,
              callback: Callable[[int, float], Any] | None = None) -> list[float]:  # fmt: skip
        """Train for `total_steps` environment steps (over all envs); the episode returns."""
        obs = np.stack([e.reset(seed=int(self.rng.integers(2**31)))[0] for e in envs])
        running, history = np.zeros(len(envs)), []
        while self.steps < total_steps:
            rollout = {"obs": [], "act": [], "rew": [], "cont": [], "boot": []}
            for _ in range(self.n_steps):
                a = self.act(obs)
                nxt_obs, rew, cont, boot = (
                    [],
                    np.zeros(len(envs)),
                    np.ones(len(envs)),
                    np.zeros(len(envs)),
                )
                for i, e in enumerate(envs):
                    o, r, term, trunc, _ = e.step(int(a[i]))
                    rew[i], running[i] = r, running[i] + r
                    if term or trunc:
                        cont[i] = 0.0
                        boot[i] = 0.0 if term else self._v(o[None])[0]
                        history.append(float(running[i]))
                        if callback is not None:
                            callback(len(history), history[-1])
                        running[i] = 0.0
                        o, _ = e.reset(seed=int(self.rng.integers(2**31)))
                    nxt_obs.append(o)
                for k, v in zip(("obs", "act", "rew", "cont", "boot"), (obs, a, rew, cont, boot)):
                    rollout[k].append(v)
                obs = np.stack(nxt_obs)
                self.steps += len(envs)
            self._update(rollout, self._v(obs))
        return history

    def _update(self, ro: dict[str, list], last_value: np.ndarray) -> None:
        rew, cont, boot = (np.asarray(ro[k]) for k in ("rew", "cont", "boot"))
        returns = np.zeros_like(rew)
        g = last_value
        for t in reversed(range(len(rew))):
            g = rew[t] + self.gamma * (cont[t] * g + (1 - cont[t]) * boot[t])
            returns[t] = g
        x = Tensor(np.concatenate(ro["obs"]).astype(np.float32))
        acts = np.concatenate(ro["act"]).astype(np.int64)
        target = Tensor(returns.reshape(-1).astype(np.float32))
        values = self.value(x).reshape((-1,))
        advantage = Tensor((target._data - values._data).astype(np.float32))
        logp_all = log_softmax(self.policy(x), axis=1)
        logp = gather(logp_all, 1, acts[:, None]).reshape((-1,))
        entropy = -(exp(logp_all) * logp_all).sum(axis=1).mean()
        loss = (-(logp * advantage).mean() + self.value_coef * F.mse_loss(values, target)
                - self.entropy_coef * entropy)  # fmt: skip
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_([*self.policy.parameters(), *self.value.parameters()], self.max_grad_norm)
        self.optimizer.step()
        self.updates += 1


class DQN(_Agent):
    """Deep Q-learning (Mnih et al. 2015) with experience replay and a target network.

    Minimise the Huber loss between $Q(s, a)$ and
    $y = r + \\gamma (1 - \\mathrm{done})\\, Q_{\\bar\\theta}(s', \\arg\\max_{a'} Q_\\theta(s', a'))$
    (double DQN, van Hasselt et al. 2016, when `double=True`) over minibatches drawn
    from a replay buffer; the target network $\\bar\\theta$ copies $\\theta$ every
    `target_update` steps; one gradient step every `train_freq` environment steps;
    exploration is epsilon-greedy with epsilon decaying
    linearly from `eps_start` to `eps_end` over `eps_decay_steps`.
    """

    _networks = ("q", "target")
    _counters = ("steps", "updates")

    def __init__(self, obs_dim: int, n_actions: int, hidden: int = 64, lr: float = 1e-3,
                 gamma: float = 0.99, buffer_size: int = 50_000, batch_size: int = 64,
                 learning_starts: int = 500, target_update: int = 500, eps_start: float = 1.0,
                 eps_end: float = 0.05, eps_decay_steps: int = 5000, double: bool = True,
                 train_freq: int = 1, tau: float | None = None, seed: int = 0) -> None:  # fmt: skip
        if not 0 <= eps_end <= eps_start <= 1:
            raise ValueError(
                f"DQN: need 0 <= eps_end <= eps_start <= 1, got {eps_end}, {eps_start}"
            )
        self.rng = np.random.default_rng(seed)
        self.q = mlp([obs_dim, hidden, hidden, n_actions], self.rng)
        self.target = copy.deepcopy(self.q)
        self.optimizer = Adam(self.q.parameters(), lr=lr)
        self.buffer = ReplayBuffer(buffer_size, obs_dim)
        self.n_actions, self.gamma, self.batch_size = n_actions, gamma, batch_size
        self.learning_starts, self.target_update, self.double = (
            learning_starts,
            target_update,
            double,
        )
        self.eps_start, self.eps_end, self.eps_decay_steps = eps_start, eps_end, eps_decay_steps
        if tau is not None and not 0 < tau <= 1:
            raise ValueError(f"DQN: tau must lie in (0, 1], got {tau}")
        self.train_freq, self.tau = train_freq, tau
        self.steps = self.updates = 0

    def epsilon(self) -> float:
        frac = min(1.0, self.steps / max(self.eps_decay_steps, 1))
        return self.eps_start + frac * (self.eps_end - self.eps_start)

    def act(self, obs: np.ndarray, greedy: bool = False) -> int:
        if not greedy and self.rng.random() < self.epsilon():
            return int(self.rng.integers(self.n_actions))
        with no_grad():
            return int(self.q(Tensor(np.asarray(obs, np.float32)[None]))._data.argmax())

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "buffer": self.buffer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.buffer.load_state_dict(state["buffer"])

    def learn(self, env: Any, total_steps: int,
              callback: Callable[[int, float], Any] | None = None) -> list[float]:  # fmt: skip
        """Train for `total_steps` environment steps; the returns of the finished episodes."""
        obs, _ = env.reset(seed=int(self.rng.integers(2**31)))
        ret, history = 0.0, []
        while self.steps < total_steps:
            a = self.act(obs)
            nxt, r, term, trunc, _ = env.step(a)
            self.buffer.add(obs, a, r, nxt, term)
            self.steps += 1
            ret += r
            obs = nxt
            if term or trunc:
                history.append(ret)
                if callback is not None:
                    callback(len(history), ret)
                ret = 0.0
                obs, _ = env.reset(seed=int(self.rng.integers(2**31)))
            if self.steps >= self.learning_starts and self.steps % self.train_freq == 0:
                self._update()
            if self.tau is None and self.steps % self.target_update == 0:
                self.target.load_state_dict(self.q.state_dict())
        return history

    def _update(self) -> None:
        s, a, r, s2, done = self.buffer.sample(self.batch_size, self.rng)
        with no_grad():
            q_next = self.target(Tensor(s2))._data
            if self.double:
                best = self.q(Tensor(s2))._data.argmax(axis=1)
                nxt = q_next[np.arange(len(best)), best]
            else:
                nxt = q_next.max(axis=1)
        y = Tensor((r + self.gamma * (1.0 - done) * nxt).astype(np.float32))
        q = gather(self.q(Tensor(s)), 1, a[:, None]).reshape((-1,))
        loss = F.smooth_l1_loss(q, y)
        self.optimizer.zero_grad()
        loss.backward()
        clip_grad_norm_(self.q.parameters(), 10.0)
        self.optimizer.step()
        self.updates += 1
        if self.tau is not None:
            for t, p in zip(self.target.parameters(), self.q.parameters()):
                t._data *= 1.0 - self.tau
                t._data += self.tau * p._data


def evaluate(agent: Any, env: Any, episodes: int = 100, seed: int = 0) -> np.ndarray:
    """Returns of `episodes` greedy episodes (seeds seed, seed + 1, ...)."""
    out = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            obs, r, term, trunc, _ = env.step(agent.act(obs, greedy=True))
            total += r
            done = term or trunc
        out.append(total)
    return np.asarray(out)


__all__ = ["A2C", "DQN", "Reinforce", "evaluate", "mlp"]
