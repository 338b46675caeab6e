"""Reinforcement learning: environments follow Gymnasium's protocol and physics, agents learn,
and an agent restored from its state dict continues exactly as the original."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepgrad.rl import (
    A2C,
    DQN,
    CartPole,
    GridWorld,
    Reinforce,
    ReplayBuffer,
    evaluate,
    make,
)


def test_cartpole_step_follows_the_equations_of_motion():
    env = CartPole()
    env.reset(seed=0)
    env.state = np.array([0.1, -0.2, 0.05, 0.3])
    obs, reward, term, trunc, _ = env.step(1)
    g, mc, mp, l, f, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    x, xd, th, thd = 0.1, -0.2, 0.05, 0.3
    temp = (f + mp * l * thd**2 * math.sin(th)) / (mc + mp)
    thacc = (g * math.sin(th) - math.cos(th) * temp) / (
        l * (4 / 3 - mp * math.cos(th) ** 2 / (mc + mp))
    )
    xacc = temp - mp * l * thacc * math.cos(th) / (mc + mp)
    expect = [x + tau * xd, xd + tau * xacc, th + tau * thd, thd + tau * thacc]
    assert np.allclose(obs, expect, atol=1e-6)
    assert reward == 1.0 and not term and not trunc


def test_cartpole_terminates_truncates_and_refuses_misuse():
    env = CartPole(max_episode_steps=5)
    obs, info = env.reset(seed=3)
    assert obs.shape == (4,) and info == {} and np.all(np.abs(obs) <= 0.05)
    steps = [env.step(0) for _ in range(5)]
    assert steps[-1][3] and not steps[-1][2]  # truncated by the time limit, not terminated
    with pytest.raises(RuntimeError, match="CartPole.step: the episode has ended"):
        env.step(0)
    env.reset(seed=3)
    with pytest.raises(ValueError, match=r"CartPole.step: action 2 is not in 0..1"):
        env.step(2)
    env.state = np.array([0.0, 0.0, 0.3, 0.0])  # beyond 12 degrees
    assert env.step(0)[2]
    a, b = CartPole(), CartPole()
    assert np.array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    assert make("CartPole-v0").max_episode_steps == 200


def test_gridworld_walls_and_goal():
    env = GridWorld(size=3, walls=((1, 1),))
    env.reset()
    assert env.step(2)[0].argmax() == 3  # down to (1, 0)
    assert env.step(1)[0].argmax() == 3  # (1, 1) is a wall: stay
    obs, r, term, _, _ = env.step(2)  # (2, 0)
    assert obs.argmax() == 6 and r == -0.01 and not term
    env.step(1)
    obs, r, term, _, _ = env.step(1)  # the goal (2, 2)
    assert obs.argmax() == 8 and r == 1.0 and term
    with pytest.raises(ValueError, match="GridWorld: a wall covers the start or the goal"):
        GridWorld(size=3, walls=((0, 0),))


def test_replay_buffer_is_a_ring():
    buf = ReplayBuffer(3, 2)
    for k in range(5):
        buf.add(np.full(2, k), k % 2, float(k), np.full(2, k + 1), k == 4)
    assert len(buf) == 3 and sorted(buf.rewards.tolist()) == [2.0, 3.0, 4.0]
    s, _, r, s2, d = buf.sample(64, np.random.default_rng(0))
    assert set(r.tolist()) <= {2.0, 3.0, 4.0} and np.all(s2[:, 0] == s[:, 0] + 1)
    assert np.all(d[r == 4.0] == 1.0) and np.all(d[r != 4.0] == 0.0)


def _grid_return(agent):
    return evaluate(agent, GridWorld(), episodes=1)[0]


def test_reinforce_learns_the_gridworld():
    agent = Reinforce(25, 4, lr=0.02, seed=0)
    agent.learn(GridWorld(), episodes=150)
    assert _grid_return(agent) > 0.9  # the shortest path: 8 steps, return 1 - 7 * 0.01


def test_dqn_learns_the_gridworld():
    agent = DQN(25, 4, learning_starts=100, target_update=100, eps_decay_steps=1500,
                train_freq=2, seed=0)  # fmt: skip
    agent.learn(GridWorld(), total_steps=2500)
    assert _grid_return(agent) > 0.9


def test_a2c_learns_the_gridworld():
    agent = A2C(25, 4, lr=3e-3, n_steps=8, seed=0)
    agent.learn([GridWorld() for _ in range(4)], total_steps=8000)
    assert _grid_return(agent) > 0.9


@pytest.mark.parametrize("kind", ["dqn", "a2c"])
def test_restored_agent_continues_exactly(kind):
    def make_agent(seed):
        if kind == "dqn":
            return DQN(
                4, 2, learning_starts=50, target_update=50, train_freq=2, seed=seed
            ), CartPole()
        return A2C(4, 2, seed=seed), [CartPole() for _ in range(2)]

    first, env1 = make_agent(0)
    first.learn(env1, 200)
    state = first.state_dict()
    first.learn(env1 if kind == "dqn" else [CartPole() for _ in range(2)], 400)
    second, env2 = make_agent(99)  # another seed: everything must come from the state dict
    second.load_state_dict(state)
    second.learn(env2, 400)
    net = "q" if kind == "dqn" else "policy"
    for (name, a), (_, b) in zip(
        getattr(first, net).state_dict().items(), getattr(second, net).state_dict().items()
    ):
        assert np.array_equal(a, b), name
