"""Tasks from the DeepMind Control Suite (dm_control): Walker Walk."""

from __future__ import annotations

from typing import Any

import numpy as np

from lompo_bench.tasks.core import Simulator
from lompo_bench.tasks.registry import TASKS, TaskSpec


class DMControlSimulator(Simulator):
    """A dm_control suite task stepped one control step (`control_timestep`) at a time.

    The suite's `Environment` counts steps and resets itself after its time limit; the benchmark owns episode
    length instead, so this drives the task through its public hooks (before_step / after_step / get_reward),
    exactly as `Environment.step` does minus the counting.
    """

    def __init__(self, domain: str, task: str) -> None:
        from dm_control import suite

        self._env = suite.load(domain, task, task_kwargs={"random": 0})
        self._physics = self._env.physics
        self._task = self._env.task
        self._n_sub_steps = round(self._env.control_timestep() / self._physics.timestep())
        self.model = self._physics.model.ptr
        self.data = self._physics.data.ptr
        self.action_dim = int(self._env.action_spec().shape[0])
        self.state_dim = int(self.state().size)
        self.proprio_dim = 0  # the paper's Walker sees images only
        spec = self._env.action_spec()
        self._low, self._high = spec.minimum.astype(np.float64), spec.maximum.astype(np.float64)

    def reset(self, rng: np.random.Generator) -> None:
        # dm_control tasks draw their initial state from `task.random` (a RandomState); reseed it per episode.
        self._task._random = np.random.RandomState(int(rng.integers(2**31 - 1)))
        self._env.reset()

    def step(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        action = self._low + (action + 1.0) * 0.5 * (self._high - self._low)
        self._task.before_step(action, self._physics)
        self._physics.step(self._n_sub_steps)
        self._task.after_step(self._physics)
        return float(self._task.get_reward(self._physics) or 0.0), False, {}

    def state(self) -> np.ndarray:
        observation = self._task.get_observation(self._physics)
        return np.concatenate([np.asarray(v, dtype=np.float64).reshape(-1) for v in observation.values()])

    def close(self) -> None:
        self._env.close()


TASKS.add(
    TaskSpec(
        name="walker_walk",
        source="dm_control",
        make_simulator=lambda: DMControlSimulator("walker", "walk"),
        action_repeat=2,
        episode_length=500,  # the suite's 1000 control steps of 25 ms, halved by the action repeat
        camera=0,  # the tracking side camera, as Dreamer, DrQ and V-D4RL render it
        description="dm_control Walker Walk: planar biped, reward for upright walking at 1 m/s; images only.",
        aliases=("walker",),
        tags=frozenset({"paper", "locomotion"}),
        randomized_start=True,  # joint angles drawn at random in their limits
        ref_min_score=39.9122,
    )
)
