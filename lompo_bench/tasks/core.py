"""The gymnasium environment every task shares, the simulator interface behind it, and fast rendering.

A task is a `Simulator` (one per source library: it owns a MuJoCo model and data, resets, steps once and
reports the low-dimensional state) wrapped in `PixelTask`, which adds what the benchmark fixes for every task
alike: the action repeat, the episode length, the `Dict` observation, rendering with one set of settings,
and saving / restoring the physics state.

Observation keys (documented choice: the expert's state is an observation key, not an `info` entry, so that a
Minari dataset recorded from the env stores it beside the pixels without extra plumbing):
- `pixels`: uint8 (H, W, 3), always present unless the env is made with `pixels=False` (state-only training);
- `proprio`: float32, only for tasks where the paper gives the agent proprioception (D'Claw, Adroit Pen);
- `state`: float32, the full low-dimensional state, for SAC experts only. Agents from pixels must not read it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from lompo_bench.tasks.registry import TaskSpec

# Everything that mj_step reads or that shapes the next step: time, qpos, qvel, act, warm start, ctrl, applied
# forces, mocap poses (Meta-World drives its arm through a mocap body) and user data.
PHYSICS_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION


class Simulator:
    """One source library's task, stepped one underlying environment step at a time.

    Subclasses set the attributes and implement `reset`, `step` and `state`; the other methods have the
    defaults most tasks need (no proprioception, no per-episode model parameters, nothing to release).
    """

    model: mujoco.MjModel
    data: mujoco.MjData
    action_dim: int
    state_dim: int
    proprio_dim: int = 0  # 0 when the paper gives the agent images only

    def reset(self, rng: np.random.Generator) -> None:
        """Start a new episode; all randomness must come from `rng`."""
        raise NotImplementedError

    def step(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        """One underlying env step with `action` in [-1, 1]^action_dim: (reward, terminated, info)."""
        raise NotImplementedError

    def state(self) -> np.ndarray:
        """The full low-dimensional state the experts train on."""
        raise NotImplementedError

    def proprio(self) -> np.ndarray:
        """Proprioception the agent sees beside the pixels (empty when proprio_dim == 0)."""
        return np.empty(0)

    def episode_params(self) -> np.ndarray:
        """Model parameters that change per episode and show in the image (Meta-World moves the door by
        editing `model.body_pos`, Adroit sets the pen goal in `model.body_quat`). Saved with the physics state."""
        return np.empty(0)

    def set_episode_params(self, params: np.ndarray) -> None:
        """Inverse of `episode_params`."""

    def close(self) -> None:
        """Release the library's own resources."""


def apply_fast_render_settings(model: mujoco.MjModel) -> None:
    """Shadows, reflections and 4x MSAA are nearly all of software rendering's cost (FACTS.md: 10-16x).

    Applied to every task, at generation and at evaluation alike, so that a policy never sees another image
    style. `offsamples` is read when the GL context is made, so call this before creating the renderer.
    """
    model.light_castshadow[:] = 0
    model.mat_reflectance[:] = 0
    model.vis.quality.offsamples = 0


def forward_kinematics(model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Recompute every derived quantity (poses, contacts, sensors) from the state, changing no state.

    mj_forward also runs the constraint solver, which overwrites the warm start (`qacc_warmstart`) that the
    next mj_step starts from; putting it back keeps trajectories bit-identical whether or not anyone looked
    (rendered, read the state, restored a saved state) in between.
    """
    warmstart = data.qacc_warmstart.copy()
    mujoco.mj_forward(model, data)
    data.qacc_warmstart[:] = warmstart


class FrameRenderer:
    """Renders one camera of a model to uint8 (H, W, 3) frames."""

    def __init__(
        self,
        model: mujoco.MjModel,
        camera: str | int,
        image_size: int,
        *,
        flip_vertical: bool = False,
        fast: bool = True,
    ) -> None:
        if fast:
            apply_fast_render_settings(model)
        self._renderer = mujoco.Renderer(model, height=image_size, width=image_size)
        self._camera = camera
        self._flip = flip_vertical
        # Sites are debug markers (goal spheres, grasp points) whose positions some libraries edit in the model
        # outside the physics state; hiding them keeps frames a function of the saved state alone.
        self._option = mujoco.MjvOption()
        self._option.sitegroup[:] = 0

    def render(self, data: mujoco.MjData) -> np.ndarray:
        self._renderer.update_scene(data, camera=self._camera, scene_option=self._option)
        frame = self._renderer.render()
        if self._flip:
            frame = frame[::-1]
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def close(self) -> None:
        self._renderer.close()


class PixelTask(gym.Env):
    """A registered task as a gymnasium env with the paper's action repeat, episode length and pixel observations.

    Make it with `lompo_bench.make_task(name, ...)` or `gym.make("lompo_bench/<name>-v0")`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        spec: TaskSpec,
        *,
        image_size: int = 64,
        pixels: bool = True,
        fast_render: bool = True,
        render_mode: str | None = None,
        seed: int | None = None,
    ) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', not {render_mode!r}")
        if image_size < 16:
            raise ValueError(f"image_size must be at least 16 pixels, not {image_size}")
        self.task_spec = spec
        self.image_size = image_size
        self.render_mode = render_mode
        self._sim = spec.make_simulator()
        self._state_size = mujoco.mj_stateSize(self._sim.model, PHYSICS_STATE_SPEC)
        self._renderer = (
            FrameRenderer(self._sim.model, spec.camera, image_size, flip_vertical=spec.flip_vertical, fast=fast_render)
            if pixels or render_mode == "rgb_array"
            else None
        )
        self._observe_pixels = pixels
        self._frame: np.ndarray | None = None
        self._t = 0

        spaces: dict[str, gym.Space] = {}
        if pixels:
            spaces["pixels"] = gym.spaces.Box(0, 255, (image_size, image_size, 3), dtype=np.uint8)
        if self._sim.proprio_dim:
            spaces["proprio"] = gym.spaces.Box(-np.inf, np.inf, (self._sim.proprio_dim,), dtype=np.float32)
        spaces["state"] = gym.spaces.Box(-np.inf, np.inf, (self._sim.state_dim,), dtype=np.float32)
        self.observation_space = gym.spaces.Dict(spaces)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self._sim.action_dim,), dtype=np.float32)
        if seed is not None:
            self.reset(seed=seed)

    # -- gymnasium API -------------------------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        self._sim.reset(self.np_random)
        self._t = 0
        return self._observation(), {}

    def step(self, action: np.ndarray) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        # Actions are float32, as the action space declares and as datasets store them: rounding whatever comes
        # in (SB3 hands float64 during warm-up) makes a stored action replay the exact same physics.
        action = np.asarray(action, dtype=np.float32).reshape(-1)
        if action.shape != (self._sim.action_dim,):
            raise ValueError(f"{self.task_spec.name}: action must have shape ({self._sim.action_dim},)")
        action = np.clip(action, -1.0, 1.0).astype(np.float64)
        total, shaping, terminated, info = 0.0, 0.0, False, {}
        for _ in range(self.task_spec.action_repeat):
            reward, terminated, info = self._sim.step(action)
            total += reward
            shaping += info.get("shaping_reward", reward)
            if terminated:
                break
        if "shaping_reward" in info:  # a training-only reward some simulators provide (Door's dense reward)
            info = {**info, "shaping_reward": shaping}
        self._t += 1
        truncated = not terminated and self._t >= self.task_spec.episode_length
        return self._observation(), float(total), bool(terminated), bool(truncated), dict(info)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self._frame.copy() if self._frame is not None else self._render_now()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._sim.close()

    # -- physics state -------------------------------------------------------------------------------------
    @property
    def physics_state_size(self) -> int:
        return self._state_size + self._sim.episode_params().size

    def get_physics_state(self) -> np.ndarray:
        """Everything the next step and the next frame depend on, as one float64 vector.

        MuJoCo's integration state (qpos, qvel, act, warm start, ctrl, mocap, ...) followed by the episode's
        model parameters (`Simulator.episode_params`). Cheap (no rendering): record it during training and
        render afterwards with `render_physics_state`.
        """
        buf = np.empty(self._state_size, dtype=np.float64)
        mujoco.mj_getState(self._sim.model, self._sim.data, buf, PHYSICS_STATE_SPEC)
        return np.concatenate([buf, self._sim.episode_params()])

    def set_physics_state(self, state: np.ndarray) -> None:
        """Restore a vector from `get_physics_state` (of the same task) and recompute the derived quantities."""
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.physics_state_size,):
            raise ValueError(
                f"{self.task_spec.name}: physics state must have shape ({self.physics_state_size},), got {state.shape}"
            )
        self._sim.set_episode_params(state[self._state_size :])
        mujoco.mj_setState(self._sim.model, self._sim.data, state[: self._state_size], PHYSICS_STATE_SPEC)
        forward_kinematics(self._sim.model, self._sim.data)
        self._frame = None

    def render_physics_state(self, state: np.ndarray) -> np.ndarray:
        """The `pixels` frame of a saved physics state: bit-identical to the frame seen live in that state."""
        self.set_physics_state(state)
        return self._render_now()

    # -- internals -----------------------------------------------------------------------------------------
    def _render_now(self) -> np.ndarray:
        if self._renderer is None:
            raise RuntimeError("this env was made with pixels=False and no render_mode; it cannot render")
        forward_kinematics(self._sim.model, self._sim.data)
        self._frame = self._renderer.render(self._sim.data)
        return self._frame

    def _observation(self) -> dict[str, np.ndarray]:
        # Libraries leave the derived quantities in different stages after a step (gymnasium's MujocoEnv ends
        # on mj_step, so body poses lag the state by one substep). Deriving them from the state here, exactly
        # as `set_physics_state` does, makes live and replayed frames agree.
        forward_kinematics(self._sim.model, self._sim.data)
        self._frame = None
        obs: dict[str, np.ndarray] = {}
        if self._observe_pixels:
            self._frame = self._renderer.render(self._sim.data)
            obs["pixels"] = self._frame.copy()
        if self._sim.proprio_dim:
            obs["proprio"] = self._sim.proprio().astype(np.float32)
        obs["state"] = self._sim.state().astype(np.float32)
        return obs
