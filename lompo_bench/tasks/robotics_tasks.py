"""Tasks from gymnasium-robotics: Adroit Pen with a fixed goal."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import mujoco
import numpy as np

from lompo_bench.tasks.core import Simulator
from lompo_bench.tasks.registry import TASKS, TaskSpec

# The paper fixes the pen's goal orientation (Appendix A). gymnasium-robotics draws the goal's x and y Euler
# angles uniformly in [-1, 1] rad per episode; we pin them to a corner of that range (pen tipped towards the
# palm and sideways), so the task keeps the flip-and-catch the paper describes rather than the easiest goal.
PEN_GOAL_EULER = (-0.75, 0.75, 0.0)


class AdroitPenSimulator(Simulator):
    """gymnasium-robotics' `AdroitHandPenEnv` (dense reward), stepped one env step (5 x 2 ms) at a time."""

    def __init__(self, goal_euler: tuple[float, float, float] = PEN_GOAL_EULER) -> None:
        # gymnasium-robotics prints a notice on import about the rewards of Adroit Relocate, Hammer and Door;
        # it does not concern Pen, and every CLI command would otherwise start with it.
        with contextlib.redirect_stderr(io.StringIO()):
            from gymnasium_robotics.envs.adroit_hand.adroit_pen import AdroitHandPenEnv
            from gymnasium_robotics.utils.rotations import euler2quat

        self._env = AdroitHandPenEnv(reward_type="dense")
        self.model = self._env.model
        self.data = self._env.data
        self._target = self._env.target_obj_body_id
        self._goal_quat = np.asarray(euler2quat(np.asarray(goal_euler, dtype=np.float64)), dtype=np.float64)
        self._n_hand = self.model.nq - 6  # the pen is a free body: the last 6 velocity / position coordinates
        self.action_dim = int(self._env.action_space.shape[0])
        self.state_dim = int(self._env.observation_space.shape[0])
        self.proprio_dim = 2 * self._n_hand  # hand joint angles and velocities

    def reset(self, rng: np.random.Generator) -> None:
        self._env.reset(seed=int(rng.integers(2**31 - 1)))
        # Replace the goal the library just drew by the fixed one; the hand and pen start from the model's
        # initial pose, so with a fixed goal Pen's initial state is the same for every seed.
        self.set_episode_params(self._goal_quat)
        mujoco.mj_forward(self.model, self.data)
        # The library measured the goal pen's length (which the reward divides by) with the random goal; measure
        # it again, or its last bits, and so the rewards, would depend on the seed.
        env = self._env
        env.tar_length = np.linalg.norm(self.data.site_xpos[env.tar_t_site_id] - self.data.site_xpos[env.tar_b_site_id])

    def step(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        _, reward, terminated, _, info = self._env.step(action)
        return float(reward), bool(terminated), {"success": bool(info["success"])}

    def state(self) -> np.ndarray:
        return np.asarray(self._env._get_obs(), dtype=np.float64)

    def proprio(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[: self._n_hand], self.data.qvel[: self._n_hand]])

    def episode_params(self) -> np.ndarray:
        return self.model.body_quat[self._target].copy()

    def set_episode_params(self, params: np.ndarray) -> None:
        self.model.body_quat[self._target] = params

    def close(self) -> None:
        self._env.close()


TASKS.add(
    TaskSpec(
        name="adroit_pen",
        source="gymnasium-robotics",
        make_simulator=AdroitPenSimulator,
        action_repeat=4,
        episode_length=50,  # AdroitHandPen-v1's 200 env steps of 10 ms, divided by the action repeat
        camera="fixed",  # hand, pen and goal large in frame; the free default camera is useless at 64 px
        description="Adroit Pen: 24-DoF Shadow hand reorients a pen to a fixed goal; images + hand proprio.",
        aliases=("pen", "adroit"),
        tags=frozenset({"paper", "manipulation"}),
        randomized_start=False,  # the library starts hand and pen in one pose; only its goal was random
        ref_min_score=-521.6850,
    )
)
