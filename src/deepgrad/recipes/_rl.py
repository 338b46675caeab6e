"""Shared parts of the CartPole recipes: training with a return log, evaluation, the plot."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import plots
from deepgrad.rl import CartPole, evaluate
from deepgrad.train.progress import Progress

from ._experiment import Experiment

SOLVED = 195.0  # CartPole-v0: average return over 100 consecutive episodes


def moving_average(values: list[float], window: int = 100) -> np.ndarray:
    """Mean of the last `window` values at each point (fewer at the start)."""
    v = np.asarray(values, dtype=float)
    c = np.cumsum(np.r_[0.0, v])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def run_cartpole(exp: Experiment, name: str, agent: Any, learn, config: dict[str, Any]) -> dict:
    """Train `agent` in chunks of `eval_every` steps (`learn(until, callback)`), keep the weights
    whose greedy policy scored best on 20 validation episodes (as SB3's EvalCallback does: value
    methods oscillate on CartPole), then evaluate those on 100 new episodes."""
    returns: list[float] = []
    steps: list[int] = []
    checks: list[tuple[int, float]] = []
    start = time.perf_counter()

    def callback(episode: int, ret: float) -> None:
        returns.append(ret)
        steps.append(agent.steps)
        exp.records.append({"episode": len(returns), "return": ret, "steps": agent.steps})

    best, best_score, best_step = None, -np.inf, 0
    progress = Progress(config["steps"], exp.name, unit="env step")
    while agent.steps < config["steps"]:
        before = agent.steps
        learn(min(agent.steps + config["eval_every"], config["steps"]), callback)
        score = float(evaluate(agent, CartPole(max_episode_steps=200), 20, seed=5_000).mean())
        checks.append((agent.steps, score))
        progress.update(agent.steps - before, validation_return=score)
        if score >= best_score:
            best, best_score, best_step = agent.state_dict(), score, agent.steps
    progress.close()
    total_steps = agent.steps
    agent.load_state_dict(best)
    train_s = time.perf_counter() - start
    scores = evaluate(agent, CartPole(max_episode_steps=200), episodes=100, seed=10_000)
    avg = moving_average(returns)
    solved_at = next((steps[i] for i in range(len(avg)) if i >= 99 and avg[i] >= SOLVED), None)
    series = {"episode return": returns, "mean of the last 100": avg.tolist(),
              f"solved ({SOLVED:g})": [SOLVED] * len(returns)}  # fmt: skip
    exp.plots.append(plots.curves(series, exp.out / "returns.png",
                                  f"CartPole-v0, {name}: return per training episode",
                                  xlabel="episode", ylabel="return (steps balanced)",
                                  styles={f"solved ({SOLVED:g})": "--"}))  # fmt: skip
    row = {"agent": name, "training steps": int(total_steps), "episodes": len(returns),
           "steps until the 100-episode mean reached 195": solved_at or "not reached",
           "kept weights from step": best_step,
           "greedy mean return (100 new episodes)": float(scores.mean()),
           "solved": bool(scores.mean() >= SOLVED), "training s": train_s}  # fmt: skip
    exp.table("CartPole-v0", [row], "Greedy evaluation on 100 new episodes (seeds 10000-10099); "
              "validation checks used seeds 5000-5019.")  # fmt: skip
    exp.table("Validation checks", [{"step": s, "greedy mean return (20)": v} for s, v in checks])
    return exp.finish() | {"greedy_mean_return": float(scores.mean())}


def experiment(name: str, description: str, config: dict[str, Any], out_dir: Path) -> Experiment:
    return Experiment(name, description, config, out_dir)
