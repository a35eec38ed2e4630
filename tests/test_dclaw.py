"""Physics and reward of our D'Claw Screw: the scripted gait turns the valve, zero and random actions do not."""

from __future__ import annotations

import numpy as np
import pytest

from lompo_bench import get_task_spec, make_task
from lompo_bench.tasks import dclaw
from lompo_bench.tasks.dclaw import DClawScrewSimulator, distance_to_spoke_disc, scripted_screw_action

SEEDS = range(5)


def _episodes(policy, seeds=SEEDS) -> tuple[np.ndarray, np.ndarray]:
    """Net valve turn (rad, screwing direction positive) and return of one episode per seed."""
    env = make_task("dclaw", pixels=False)
    rng = np.random.default_rng(0)
    turns, returns = [], []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        start, total, truncated, t = None, 0.0, False, 0
        while not truncated:
            obs, reward, _, truncated, info = env.step(policy(t, rng))
            start = info["valve_angle"] if start is None else start
            total += reward
            t += 1
        turns.append(info["valve_angle"] - start)
        returns.append(total)
    env.close()
    return np.array(turns), np.array(returns)


@pytest.fixture(scope="module")
def scripted() -> tuple[np.ndarray, np.ndarray]:
    return _episodes(lambda t, rng: scripted_screw_action(t))


def test_scripted_gait_turns_the_valve_more_than_a_turn_per_episode(scripted) -> None:
    turns, _ = scripted
    assert turns.min() > 2 * np.pi


def test_zero_action_does_not_turn_the_valve(scripted) -> None:
    turns, _ = _episodes(lambda t, rng: np.zeros(9))
    # Straightening the fingers from the reset pose can nudge a spoke they land on; it never turns it far.
    assert np.abs(turns).max() < 0.5
    assert np.abs(turns).max() < 0.05 * scripted[0].min()


def test_random_actions_turn_the_valve_much_less_than_the_gait(scripted) -> None:
    turns, _ = _episodes(lambda t, rng: rng.uniform(-1, 1, 9))
    assert abs(turns.mean()) < 0.1 * scripted[0].mean()
    assert np.abs(turns).max() < 0.5 * scripted[0].min()


def test_turning_steadily_earns_clearly_more_than_holding_still_or_flailing(scripted) -> None:
    _, scripted_returns = scripted
    _, still_returns = _episodes(lambda t, rng: np.zeros(9))
    _, random_returns = _episodes(lambda t, rng: rng.uniform(-1, 1, 9))
    assert scripted_returns.min() > still_returns.max() + 10
    assert still_returns.min() > random_returns.max()


def test_bonus_counts_increments_in_both_directions() -> None:
    sim = DClawScrewSimulator()
    sim.reset(np.random.default_rng(0))
    valve = sim.model.jnt_qposadr[sim.model.joint("valve").id]
    hold = sim.data.ctrl / sim.model.actuator_ctrlrange[:, 1]  # keep the fingers where they are
    sim.data.qpos[valve] = 3 * dclaw.TURN_INCREMENT - 0.002
    sim.data.qvel[:] = 0
    sim.data.qvel[sim.model.jnt_dofadr[sim.model.joint("valve").id]] = (
        2.0  # rad/s: friction stops it a few centidegrees on
    )
    reward, _, info = sim.step(hold)
    assert info["increments"] == 1
    assert reward == pytest.approx(dclaw.SPOKE_BONUS - dclaw.FINGERTIP_PENALTY * info["tip_distance"])
    sim.data.qvel[sim.model.jnt_dofadr[sim.model.joint("valve").id]] = -2.0
    _, _, info = sim.step(hold)
    assert info["increments"] == -1


def test_distance_to_spoke_disc() -> None:
    low, high = dclaw.SPOKE_DISC_Z
    points = np.array(
        [[0.0, 0.0, (low + high) / 2], [0.0, 0.0, high + 0.03], [dclaw.SPOKE_DISC_RADIUS + 0.04, 0, high + 0.03]]
    )
    np.testing.assert_allclose(distance_to_spoke_disc(points), [0.0, 0.03, 0.05])


def test_proprio_holds_joints_velocities_and_last_action_but_not_the_valve() -> None:
    env = make_task("dclaw", seed=0)
    action = np.linspace(-1, 1, 9)
    obs, *_ = env.step(action)
    assert obs["proprio"].shape == (27,)
    np.testing.assert_allclose(obs["proprio"][18:], action, atol=1e-6)
    assert obs["state"].shape == (21,)
    env.close()


def test_spec_follows_the_paper() -> None:
    spec = get_task_spec("dclaw")
    assert spec.action_repeat == 2 and spec.name == "dclaw_screw" and "paper" in spec.tags
