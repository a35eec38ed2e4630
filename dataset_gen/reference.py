"""Reference returns for normalized scores: the uniform random policy (`ref_min_score`).

`python -m lompo_bench.dataset_gen.reference walker dclaw pen door` re-measures the numbers kept in the task registry
(`TaskSpec.ref_min_score`), so anyone can check them. `ref_max_score` is the paper-profile SAC expert's return,
written by `lompo-bench generate --profile paper`.
"""

from __future__ import annotations

import sys

import numpy as np

from lompo_bench.tasks import get_task_spec, make_task

RANDOM_EPISODES = 100  # episodes `ref_min_score` is the mean of


def random_policy_returns(task: str, episodes: int = RANDOM_EPISODES, seed: int = 0) -> np.ndarray:
    """Returns of a uniform random policy: episode i is reset with seed i; actions from default_rng(seed)."""
    env = make_task(task, pixels=False)
    rng = np.random.default_rng(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=episode)
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            total += reward
            done = terminated or truncated
        returns.append(total)
    env.close()
    return np.asarray(returns)


def main(argv: list[str]) -> None:
    for task in argv or ["walker", "dclaw", "pen", "door"]:
        returns = random_policy_returns(task)
        name, n = get_task_spec(task).name, len(returns)
        print(f"{name}: ref_min_score={returns.mean():.4f} (std {returns.std():.4f}, {n} episodes)")


if __name__ == "__main__":
    main(sys.argv[1:])
