"""Small synthetic datasets with known contents: Minari datasets in our layout, V-D4RL npz files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lompo_bench import make_task
from lompo_bench.dataset_gen.minari_writer import write_dataset
from lompo_bench.dataset_gen.recording import Episode


def frame_code(episode: int, t: int) -> int:
    """Every pixel of observation t of episode e holds this value, so a test can tell which frame it got."""
    return (episode * 37 + t) % 251


def square_position(t: np.ndarray) -> np.ndarray:
    return (3 * t) % 48


def moving_square_frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """n 64x64 frames: dim noise under a bright square at `square_position(t)`, so a model has something to learn."""
    image = rng.integers(0, 64, (n, 64, 64, 3), dtype=np.uint8)
    for t, x in enumerate(square_position(np.arange(n))):
        image[t, 20:36, x : x + 16] = 220
    return image


def learnable_actions_and_rewards(n: int, action_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Actions and rewards of steps 0..n-1 as functions of what frame t shows (the square's position), so a
    policy can clone them and a model can predict them."""
    phase = 2 * np.pi * square_position(np.arange(n))[:, None] / 48
    actions = 0.8 * np.sin(phase + np.arange(action_dim)[None, :])
    return actions.astype(np.float32), (square_position(np.arange(n)) / 48).astype(np.float32)


def write_synthetic_dataset(
    dataset_id: str,
    lengths: list[int],
    task: str = "adroit_pen",
    learnable: bool = False,
    metadata: dict | None = None,
    image_size: int = 64,
) -> None:
    """Episodes of the given lengths in `task`'s layout, contents derived from (episode, t): every pixel holds
    `frame_code(e, t)` and rewards are 1000 e + t; with `learnable` the frames are
    `moving_square_frames` and actions and rewards functions of them (`learnable_actions_and_rewards`).
    `metadata`: extra dataset metadata (e.g. `lompo_kind`, `lompo_profile`, references: a Table I dataset).
    `image_size`: the frames' size (the learnable frames are 64 px only)."""
    if learnable and image_size != 64:
        raise ValueError("learnable frames are 64 px")
    rng = np.random.default_rng(0)
    env = make_task(task, image_size=image_size)
    spaces = env.observation_space.spaces
    action_dim = env.action_space.shape[0]
    env.close()

    def episodes():
        for e, n in enumerate(lengths):
            t_obs = np.arange(n + 1)
            pixels = np.empty((n + 1, *spaces["pixels"].shape), dtype=np.uint8)
            pixels[:] = np.array([frame_code(e, t) for t in t_obs], dtype=np.uint8)[:, None, None, None]
            actions = np.full((n, action_dim), e / 100, dtype=np.float32)
            rewards = (1000.0 * e + np.arange(n)).astype(np.float64)
            if learnable:
                pixels = moving_square_frames(n + 1, rng)
                actions, rewards = learnable_actions_and_rewards(n, action_dim)
            episode = Episode(
                physics=np.zeros((n + 1, 1)),
                state=np.tile((1000 * e + t_obs)[:, None], (1, spaces["state"].shape[0])).astype(np.float32),
                proprio=np.tile((1000 * e + t_obs)[:, None], (1, spaces["proprio"].shape[0])).astype(np.float32),
                actions=actions,
                rewards=rewards,
                terminations=np.zeros(n, dtype=bool),
                truncations=np.arange(n) == n - 1,
                start_step=0,
                eval_level=0.0,
            )
            yield episode, pixels

    write_dataset(dataset_id, _spec(task), env.observation_space, env.action_space, episodes(), metadata or {})


def _spec(task: str):
    import gymnasium as gym

    from lompo_bench import get_task_spec

    return gym.spec(get_task_spec(task).gym_id)


def vd4rl_file(path: Path, lengths: list[int], seed: int) -> None:
    """Episodes of `lengths` steps back to back, V-D4RL style: step 0 holds a zero action and reward; frames from
    `moving_square_frames`."""
    rng = np.random.default_rng(seed)
    parts = {k: [] for k in ("image", "action", "reward", "discount", "is_first", "is_last", "is_terminal")}
    for n in lengths:
        parts["image"].append(moving_square_frames(n + 1, rng))
        action, reward = learnable_actions_and_rewards(n + 1, 6)  # action[t] is taken at frame t - 1, as V-D4RL
        action[1:], reward[1:] = action[:-1].copy(), reward[:-1].copy()
        action[0], reward[0] = 0, 0
        parts["action"].append(action)
        parts["reward"].append(reward)
        parts["discount"].append(np.ones(n + 1, np.float32))
        parts["is_first"].append(np.arange(n + 1) == 0)
        parts["is_last"].append(np.arange(n + 1) == n)
        parts["is_terminal"].append(np.zeros(n + 1, bool))
    np.savez(path, **{k: np.concatenate(v) for k, v in parts.items()})


class KillAt:
    """Progress that raises once a stage has reached `step`: a job killed when its log shows `stage: step/...`."""

    def __init__(self, stage_prefix: str, step: int):
        self.prefix, self.step, self.stage = stage_prefix, step, ""

    def start(self, stage: str, total: int) -> None:
        self.stage = stage

    def update(self, completed: int, message: str = "") -> None:
        if self.stage.startswith(self.prefix) and completed >= self.step:
            raise KeyboardInterrupt(f"killed at {self.stage}: {completed}")

    def finish(self) -> None:
        pass
