"""The same checks over every registered task (in the spirit of dm_control's suite_test)."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from lompo_bench import get_task_spec, make_task, task_names
from lompo_bench.tasks import PixelTask

pytestmark = pytest.mark.parametrize("name", task_names())


def _actions(env: gym.Env, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, env.action_space.shape).astype(np.float32) for _ in range(n)]


def _rollout(env: gym.Env, actions: list[np.ndarray], seed: int):
    obs, _ = env.reset(seed=seed)
    observations, rewards = [obs], []
    for action in actions:
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        assert not (terminated or truncated)
    return observations, rewards


def test_passes_gymnasium_check_env(name: str) -> None:
    env = make_task(name)
    try:
        check_env(env, skip_render_check=False)
    finally:
        env.close()


def test_observation_keys_dtypes_and_pixels_change(name: str) -> None:
    spec = get_task_spec(name)
    env = make_task(name, image_size=64)
    observations, _ = _rollout(env, _actions(env, 12), seed=0)
    env.close()
    expected = {"pixels", "state"} | ({"proprio"} if spec.name in ("adroit_pen", "dclaw_screw") else set())
    assert set(observations[0]) == expected
    frames = np.stack([o["pixels"] for o in observations])
    assert frames.dtype == np.uint8 and frames.shape[1:] == (64, 64, 3)
    assert frames.std() > 0, "a frame is constant"
    assert not all(np.array_equal(frames[0], f) for f in frames[1:]), "pixels do not change over a rollout"
    for obs in observations:
        assert obs["state"].dtype == np.float32 and np.isfinite(obs["state"]).all()


def test_image_size_is_configurable(name: str) -> None:
    env = make_task(name, image_size=32)
    obs, _ = env.reset(seed=0)
    env.close()
    assert obs["pixels"].shape == (32, 32, 3)


def test_same_seed_gives_same_observations_and_rewards(name: str) -> None:
    first, second = make_task(name), make_task(name)
    actions = _actions(first, 8, seed=1)
    obs_a, rew_a = _rollout(first, actions, seed=7)
    obs_b, rew_b = _rollout(second, actions, seed=7)
    first.close(), second.close()
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_seeds_change_the_start_exactly_when_the_spec_says_so(name: str) -> None:
    spec = get_task_spec(name)
    env = make_task(name, pixels=False)
    starts = [env.reset(seed=seed)[0]["state"] for seed in (0, 1, 2)]
    env.close()
    differs = not np.array_equal(starts[0], starts[1]) and not np.array_equal(starts[1], starts[2])
    assert differs == spec.randomized_start


def test_restored_physics_state_renders_identical_pixels(name: str) -> None:
    live = make_task(name)
    replay = make_task(name, seed=123)  # a different episode, so nothing carries over by accident
    live.reset(seed=5)
    states, frames = [live.get_physics_state()], [live.render_physics_state(live.get_physics_state())]
    for action in _actions(live, 10, seed=2):
        obs, *_ = live.step(action)
        states.append(live.get_physics_state())
        frames.append(obs["pixels"])
    for state, frame in zip(states, frames, strict=True):
        np.testing.assert_array_equal(replay.render_physics_state(state), frame)
    live.close(), replay.close()


def test_restored_physics_state_continues_the_same_trajectory(name: str) -> None:
    first, second = make_task(name, pixels=False), make_task(name, pixels=False, seed=99)
    actions = _actions(first, 6, seed=3)
    first.reset(seed=4)
    first.step(actions[0])
    second.set_physics_state(first.get_physics_state())
    for action in actions[1:]:
        first.step(action)
        second.step(action)
        np.testing.assert_array_equal(first.get_physics_state(), second.get_physics_state())
    first.close(), second.close()


def test_observing_pixels_does_not_change_the_physics(name: str) -> None:
    with_pixels, without = make_task(name), make_task(name, pixels=False)
    actions = _actions(with_pixels, 8, seed=4)
    obs_a, rew_a = _rollout(with_pixels, actions, seed=3)
    obs_b, rew_b = _rollout(without, actions, seed=3)
    with_pixels.close(), without.close()
    assert "pixels" not in obs_b[0]
    assert rew_a == rew_b
    for a, b in zip(obs_a, obs_b, strict=True):
        np.testing.assert_array_equal(a["state"], b["state"])


def test_action_repeat_sums_the_underlying_rewards(name: str) -> None:
    spec = get_task_spec(name)
    assert spec.action_repeat > 1
    repeated = make_task(name, pixels=False)
    single = PixelTask(
        dataclasses.replace(spec, action_repeat=1, episode_length=spec.env_steps_per_episode), pixels=False
    )
    repeated.reset(seed=11), single.reset(seed=11)
    for action in _actions(repeated, 5, seed=5):
        obs, reward, *_ = repeated.step(action)
        summed = 0.0
        for _ in range(spec.action_repeat):
            single_obs, single_reward, *_ = single.step(action)
            summed += single_reward
        assert reward == pytest.approx(summed, rel=1e-12, abs=1e-12)
        np.testing.assert_array_equal(obs["state"], single_obs["state"])
    repeated.close(), single.close()


def test_episode_truncates_at_the_specified_length(name: str) -> None:
    spec = get_task_spec(name)
    env = make_task(name, pixels=False, seed=0)
    zero = np.zeros(env.action_space.shape, dtype=np.float32)
    for t in range(1, spec.episode_length + 1):
        _, _, terminated, truncated, _ = env.step(zero)
        if terminated:
            break
        assert truncated == (t == spec.episode_length)
    env.close()


def test_gymnasium_make_builds_the_registered_task(name: str) -> None:
    spec = get_task_spec(name)
    env = gym.make(spec.gym_id)
    direct = make_task(name)
    assert env.observation_space == direct.observation_space
    assert env.action_space == direct.action_space
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["state"], direct.reset(seed=0)[0]["state"])
    env.close(), direct.close()
