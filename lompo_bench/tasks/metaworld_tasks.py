"""Tasks from Meta-World (v3 environments): Sawyer Door Open with the paper's sparse success reward."""

from __future__ import annotations

from typing import Any

import numpy as np

from lompo_bench.tasks.core import Simulator
from lompo_bench.tasks.registry import TASKS, TaskSpec


class MetaWorldSimulator(Simulator):
    """One Meta-World v3 environment, with the door position drawn afresh from the env's own range each episode.

    Meta-World's benchmarks freeze the random start to one of 50 pre-drawn "tasks"; a single-task benchmark
    wants the whole range instead, seeded by us, so the frozen vector is switched off after the required
    `set_task`. The goal is part of the state (`_partially_observable = False`): experts train on full state.
    Reward: `sparse=True` gives the success flag (1 when the door is open, else 0) as the paper describes.
    """

    def __init__(self, env_name: str, *, sparse: bool = True) -> None:
        import metaworld

        benchmark = metaworld.MT1(env_name, seed=0)
        self._env = benchmark.train_classes[env_name]()
        self._env.set_task(benchmark.train_tasks[0])
        self._env._freeze_rand_vec = False
        self._env.seeded_rand_vec = True  # draw starts from the env's np_random, which `reset` seeds
        self._env._partially_observable = False
        # `sawyer_observation_space` is a cached property that depends on the flag just changed.
        self._env.__dict__.pop("sawyer_observation_space", None)
        # The benchmark owns episode length; Meta-World would raise once its own 500-step limit is passed.
        self._env.max_path_length = np.iinfo(np.int64).max
        self._sparse = sparse
        self.model = self._env.model
        self.data = self._env.data
        self._door_body = self.model.body("door").id
        self._goal_site = self.model.site("goal").id
        self._last_obs = np.zeros(self._env.sawyer_observation_space.shape, dtype=np.float64)
        self.action_dim = int(self._env.action_space.shape[0])
        self.state_dim = int(self._last_obs.size)
        self.proprio_dim = 0  # the paper's Door Open sees images only

    def reset(self, rng: np.random.Generator) -> None:
        self._env.seed(int(rng.integers(2**31 - 1)))
        self._last_obs, _ = self._env.reset()

    def step(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        obs, dense_reward, _, _, info = self._env.step(action.astype(np.float32))
        self._last_obs = obs
        success = float(info["success"])
        # The dense reward travels in `info["shaping_reward"]` (summed over the action repeat): SAC experts train
        # on it, since from a success flag alone SAC never finds the door; datasets record the sparse reward.
        reward = success if self._sparse else float(dense_reward)
        return reward, False, {"success": bool(success), "shaping_reward": float(dense_reward)}

    def state(self) -> np.ndarray:
        # Meta-World's observation stacks the previous frame's hand/object poses, which live in the env object,
        # so the state is the observation the last step returned.
        return np.asarray(self._last_obs, dtype=np.float64)

    def episode_params(self) -> np.ndarray:
        # Meta-World places the door by editing the model (body_pos), outside MuJoCo's state.
        return np.concatenate([self.model.body_pos[self._door_body], self.model.site_pos[self._goal_site]])

    def set_episode_params(self, params: np.ndarray) -> None:
        self.model.body_pos[self._door_body] = params[:3]
        self.model.site_pos[self._goal_site] = params[3:6]

    def close(self) -> None:
        self._env.close()


TASKS.add(
    TaskSpec(
        name="door_open",
        source="metaworld",
        make_simulator=lambda: MetaWorldSimulator("door-open-v3", sparse=True),
        action_repeat=4,
        episode_length=125,  # Meta-World's 500 env steps of 12.5 ms, divided by the action repeat
        camera="corner2",
        flip_vertical=True,  # the corner cameras look at the scene upside down
        description="Meta-World Sawyer Door Open: pull a door open; sparse success reward; images only.",
        aliases=("door",),
        tags=frozenset({"paper", "manipulation"}),
        randomized_start=True,  # door position drawn from Meta-World's reset range
        reward_kind="sparse",
        ref_min_score=0.0,
    )
)
