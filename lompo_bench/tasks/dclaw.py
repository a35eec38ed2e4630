"""D'Claw Screw: our own D'Claw (ROBEL's three-finger robot) for the modern mujoco bindings.

The `robel` package cannot be installed today (invalid metadata; it builds mujoco-py against MuJoCo 2.0), so the
model is ours: `assets/dclaw_screw.xml`, written from the real robot's measurements, primitives only.

The task is the paper's variant of ROBEL's screw (Appendix A): turn the valve continuously, as fast as possible.
Reward per env step (0.1 s), summed over the action repeat of 2:
- sparse bonus: +SPOKE_BONUS each time the valve's angle passes another multiple of TURN_INCREMENT in the
  screwing direction (counter-clockwise seen from above), and -SPOKE_BONUS for passing one backwards, so that
  rocking across a boundary earns nothing. The count depends on the valve angle alone, so the reward is a
  function of the state (no hidden counter).
- dense penalty: -FINGERTIP_PENALTY times the mean distance (m) of the three fingertips from the valve's
  spoke disc (the cylinder the spokes sweep). We chose the fingertip distance over ROBEL's joint-pose penalty
  because turning needs the fingers at the valve and away from any one nominal pose: a joint-pose penalty would
  tax exactly the motion the task asks for, while the distance is zero whenever a finger is working the spokes
  and shapes exploration towards them.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import mujoco
import numpy as np

from lompo_bench.tasks.core import Simulator
from lompo_bench.tasks.registry import TASKS, TaskSpec

MODEL_FILE = "dclaw_screw.xml"
RESET_POSE = np.tile([0.0, -np.pi / 3, np.pi / 3], 3)  # ROBEL's reset pose per finger: fingers lifted clear
RESET_JOINT_NOISE = 0.1  # rad, uniform per finger joint on reset
TURN_INCREMENT = np.pi / 6  # a bonus every 30 degrees turned
SPOKE_BONUS = 1.0
FINGERTIP_PENALTY = 5.0  # per metre of mean fingertip distance from the spoke disc, per env step
N_SUBSTEPS = 40  # 40 x 2.5 ms = one 0.1 s control step, as ROBEL

# The cylinder the spokes sweep as the valve turns (valve hinge 0.048 m up, spokes 0.054 m above it, capsule
# radius 0.021, outer end 0.038 + 0.035 + 0.021 m from the axis): see the MJCF.
SPOKE_DISC_RADIUS = 0.094
SPOKE_DISC_Z = (0.048 + 0.054 - 0.021, 0.048 + 0.054 + 0.021)


def distance_to_spoke_disc(points: np.ndarray) -> np.ndarray:
    """Euclidean distance of each (x, y, z) point from the solid cylinder the spokes sweep (0 inside it)."""
    radial = np.maximum(np.linalg.norm(points[:, :2], axis=1) - SPOKE_DISC_RADIUS, 0.0)
    low, high = SPOKE_DISC_Z
    vertical = np.maximum(np.maximum(low - points[:, 2], points[:, 2] - high), 0.0)
    return np.hypot(radial, vertical)


def increments_passed(angle: float) -> int:
    """Index of the last TURN_INCREMENT boundary at or below `angle` (the valve angle is not wrapped)."""
    return int(np.floor(angle / TURN_INCREMENT))


def scripted_screw_action(t: int) -> np.ndarray:
    """A hand-written turning gait (open loop, agent step `t`): the yardstick for the physics tests.

    Each finger in turn, a third of a period apart: straight down and slightly inward, it sweeps its abduction
    from clockwise to counter-clockwise (60% of the period), pushing whichever spoke it meets round; then it
    lifts its tip clear and swings back (40%). Period 8 agent steps (1.6 s). Found by a small grid search over
    period, lift, inward flexion and push share; it turns the valve about 2 turns per 20 s episode.
    """
    period, push_share, lift, inward = 8, 0.6, 0.3, 0.15
    action = np.zeros(9)
    for finger in range(3):
        phase = (t / period + finger / 3) % 1.0
        if phase < push_share:
            abduction, flex = 1.0 - 2.0 * phase / push_share, inward
        else:
            abduction, flex = -1.0 + 2.0 * (phase - push_share) / (1.0 - push_share), -lift
        action[3 * finger : 3 * finger + 3] = [abduction, flex, -flex]
    return action


class DClawScrewSimulator(Simulator):
    """Nine position servos on three fingers around a free-turning three-spoke valve."""

    def __init__(self) -> None:
        xml = resources.files("lompo_bench.tasks").joinpath("assets", MODEL_FILE).read_text()
        self.model = mujoco.MjModel.from_xml_string(xml)
        self.data = mujoco.MjData(self.model)
        self._valve_qpos = self.model.jnt_qposadr[self.model.joint("valve").id]
        self._valve_qvel = self.model.jnt_dofadr[self.model.joint("valve").id]
        finger_joints = [self.model.actuator(i).trnid[0] for i in range(self.model.nu)]
        self._finger_qpos = self.model.jnt_qposadr[finger_joints]
        self._finger_qvel = self.model.jnt_dofadr[finger_joints]
        self._joint_low, self._joint_high = self.model.jnt_range[finger_joints].T
        self._ctrl_half_range = self.model.actuator_ctrlrange[:, 1].copy()  # ranges are symmetric about 0
        self._tips = [self.model.site(f"f{i}_tip").id for i in range(3)]
        self.action_dim = self.model.nu
        self.proprio_dim = 3 * self.model.nu  # joint angles, joint velocities, last action
        self.state_dim = 2 * self.model.nu + 3  # joint angles and velocities, valve (cos, sin, velocity)

    # -- episode ----------------------------------------------------------------------------------------------
    def reset(self, rng: np.random.Generator) -> None:
        mujoco.mj_resetData(self.model, self.data)
        pose = RESET_POSE + rng.uniform(-RESET_JOINT_NOISE, RESET_JOINT_NOISE, RESET_POSE.shape)
        self.data.qpos[self._finger_qpos] = np.clip(pose, self._joint_low, self._joint_high)
        self.data.qpos[self._valve_qpos] = rng.uniform(-np.pi, np.pi)
        # The servos start holding the pose they are in, so the first step does not jerk.
        self.data.ctrl[:] = np.clip(self.data.qpos[self._finger_qpos], -self._ctrl_half_range, self._ctrl_half_range)
        mujoco.mj_forward(self.model, self.data)

    def step(self, action: np.ndarray) -> tuple[float, bool, dict[str, Any]]:
        before = increments_passed(self.valve_angle)
        self.data.ctrl[:] = action * self._ctrl_half_range
        mujoco.mj_step(self.model, self.data, nstep=N_SUBSTEPS)
        mujoco.mj_kinematics(self.model, self.data)  # fingertip positions of the new state for the penalty
        turned = increments_passed(self.valve_angle) - before
        tip_distance = float(distance_to_spoke_disc(self.data.site_xpos[self._tips]).mean())
        reward = SPOKE_BONUS * turned - FINGERTIP_PENALTY * tip_distance
        return reward, False, {"valve_angle": self.valve_angle, "increments": turned, "tip_distance": tip_distance}

    # -- observations -----------------------------------------------------------------------------------------
    @property
    def valve_angle(self) -> float:
        """Cumulative valve angle in radians (positive = screwing direction), not wrapped."""
        return float(self.data.qpos[self._valve_qpos])

    def state(self) -> np.ndarray:
        angle = self.valve_angle
        return np.concatenate(
            [
                self.data.qpos[self._finger_qpos],
                self.data.qvel[self._finger_qvel],
                [np.cos(angle), np.sin(angle), self.data.qvel[self._valve_qvel]],
            ]
        )

    def proprio(self) -> np.ndarray:
        # The last action is read back from the servo targets (ctrl is part of the physics state), so it
        # survives save / restore; the valve angle is not here: the agent must see it in the image.
        last_action = self.data.ctrl / self._ctrl_half_range
        return np.concatenate([self.data.qpos[self._finger_qpos], self.data.qvel[self._finger_qvel], last_action])


TASKS.add(
    TaskSpec(
        name="dclaw_screw",
        source="lompo",
        make_simulator=DClawScrewSimulator,
        action_repeat=2,
        # 100 agent steps = 20 s: room for several turns of the valve (ROBEL's screw episodes are 8 s, too short
        # to tell a steady turner from a lucky push). 1800 episodes make the paper's 180K-transition datasets.
        episode_length=100,
        camera="claw",
        description="D'Claw Screw: three fingers turn a three-spoke valve as fast as they can; images + proprio.",
        aliases=("dclaw", "claw"),
        tags=frozenset({"paper", "manipulation"}),
        randomized_start=True,  # valve angle uniform in [-pi, pi), finger joints +-0.1 rad around the reset pose
        ref_min_score=-65.8696,
    )
)
