"""Small synthetic datasets with known contents: Minari datasets in our layout, V-D4RL npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dataset_gen.minari_writer import write_dataset
from dataset_gen.recording import Episode
from lompo_bench import make_task


def frame_code(episode: int, t: int) -> int:
    """Every pixel of observation t of episode e holds this value, so a test can tell which frame it got."""
    return (episode * 37 + t) % 251


def write_synthetic_dataset(dataset_id: str, lengths: list[int], task: str = "adroit_pen") -> None:
    """Episodes of the given lengths in `task`'s layout, contents derived from (episode, t)."""
    env = make_task(task)
    spaces = env.observation_space.spaces
    action_dim = env.action_space.shape[0]
    env.close()

    def episodes():
        for e, n in enumerate(lengths):
            t_obs = np.arange(n + 1)
            pixels = np.empty((n + 1, *spaces["pixels"].shape), dtype=np.uint8)
            pixels[:] = np.array([frame_code(e, t) for t in t_obs], dtype=np.uint8)[:, None, None, None]
            episode = Episode(
                physics=np.zeros((n + 1, 1)),
                state=np.tile((1000 * e + t_obs)[:, None], (1, spaces["state"].shape[0])).astype(np.float32),
                proprio=np.tile((1000 * e + t_obs)[:, None], (1, spaces["proprio"].shape[0])).astype(np.float32),
                actions=np.full((n, action_dim), e / 100, dtype=np.float32),
                rewards=(1000.0 * e + np.arange(n)).astype(np.float64),
                terminations=np.zeros(n, dtype=bool),
                truncations=np.arange(n) == n - 1,
                start_step=0,
                eval_level=0.0,
            )
            yield episode, pixels

    write_dataset(dataset_id, _spec(task), env.observation_space, env.action_space, episodes(), {})


def _spec(task: str):
    import gymnasium as gym

    from lompo_bench import get_task_spec

    return gym.spec(get_task_spec(task).gym_id)


def vd4rl_file(path: Path, lengths: list[int], seed: int) -> None:
    """Episodes of `lengths` steps back to back, V-D4RL style: step 0 holds a zero action and reward. Each image is
    noise over a bright square that moves with t, so a model has something to learn."""
    rng = np.random.default_rng(seed)
    parts = {k: [] for k in ("image", "action", "reward", "discount", "is_first", "is_last", "is_terminal")}
    for n in lengths:
        image = rng.integers(0, 64, (n + 1, 64, 64, 3), dtype=np.uint8)
        for t in range(n + 1):
            x = (3 * t) % 48
            image[t, 20:36, x : x + 16] = 220
        parts["image"].append(image)
        action = rng.uniform(-1, 1, (n + 1, 6)).astype(np.float32)
        action[0] = 0
        parts["action"].append(action)
        reward = rng.uniform(0, 1, n + 1).astype(np.float32)
        reward[0] = 0
        parts["reward"].append(reward)
        parts["discount"].append(np.ones(n + 1, np.float32))
        parts["is_first"].append(np.arange(n + 1) == 0)
        parts["is_last"].append(np.arange(n + 1) == n)
        parts["is_terminal"].append(np.zeros(n + 1, bool))
    np.savez(path, **{k: np.concatenate(v) for k, v in parts.items()})
