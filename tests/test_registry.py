"""The task registry: names, aliases, tags, duplicates refused, unknown names answered with close matches; and what
the algorithm registry declares without importing the algorithms."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import pytest

from lompo_bench import TASKS, UserError, get_task_spec, task_names
from lompo_bench.errors import UnknownTaskError
from lompo_bench.tasks import TaskRegistry


def test_paper_tasks_and_aliases_resolve() -> None:
    assert {"walker_walk", "adroit_pen", "door_open"} <= set(task_names("paper"))
    for alias, name in [
        ("walker", "walker_walk"),
        ("pen", "adroit_pen"),
        ("adroit", "adroit_pen"),
        ("door", "door_open"),
        ("Walker-Walk", "walker_walk"),
    ]:
        assert get_task_spec(alias).name == name


def test_paper_episode_settings() -> None:
    walker, pen, door = (get_task_spec(n) for n in ("walker", "pen", "door"))
    assert (walker.action_repeat, pen.action_repeat, door.action_repeat) == (2, 4, 4)
    assert (walker.env_steps_per_episode, pen.env_steps_per_episode, door.env_steps_per_episode) == (1000, 200, 500)
    assert door.reward_kind == "sparse" and door.flip_vertical
    assert walker.camera == 0


def test_unknown_task_is_a_user_error_naming_close_matches() -> None:
    with pytest.raises(UnknownTaskError) as caught:
        get_task_spec("walkr")
    assert isinstance(caught.value, UserError)
    message = str(caught.value)
    assert "walker" in message and "\n" not in message


def test_duplicate_names_and_aliases_are_refused() -> None:
    registry = TaskRegistry()
    spec = get_task_spec("walker")
    registry.add(spec)
    with pytest.raises(ValueError, match="already registered"):
        registry.add(spec)
    with pytest.raises(ValueError, match="'walker'"):
        registry.add(dataclasses.replace(spec, name="other_walker", aliases=("walker",)))
    with pytest.raises(ValueError, match="'walker_walk'"):
        registry.add(dataclasses.replace(spec, name="new_name", aliases=("walker_walk",)))
    assert len(registry) == 1


def test_tags_filter_names() -> None:
    registry = TaskRegistry()
    walker = get_task_spec("walker")
    registry.add(walker)
    registry.add(dataclasses.replace(walker, name="untagged", aliases=(), tags=frozenset()))
    assert registry.names() == ["walker_walk", "untagged"]
    assert registry.names("paper") == ["walker_walk"]


def test_every_task_is_registered_with_gymnasium() -> None:
    for spec in TASKS:
        gym_spec = gym.spec(spec.gym_id)
        assert gym_spec.kwargs["name"] == spec.name
        assert gym_spec.max_episode_steps == spec.episode_length


def test_the_algorithm_registry_declares_which_built_ins_share_a_world_model() -> None:
    from lompo_bench.algorithms.registry import (
        ALGORITHMS,
        SHARED_WORLD_MODEL,
        WorldModelAlgorithm,
        WorldModelConfigs,
        built_in_name,
        get_algorithm,
        world_model_configs,
    )

    assert SHARED_WORLD_MODEL == {name for name in ALGORITHMS if isinstance(get_algorithm(name), WorldModelAlgorithm)}
    for name in ALGORITHMS:  # the torch-free configs a planner keys their models by are the algorithms' own
        configs, module = world_model_configs(name), get_algorithm(name)
        assert (configs is not None) == (name in SHARED_WORLD_MODEL)
        if configs is not None:
            assert isinstance(configs, WorldModelConfigs) and configs.NAME == module.NAME
            assert all(configs.make_config(p) == module.make_config(p) for p in ("smoke", "cpu", "paper"))
    assert all(get_algorithm(name).NAME == name for name in ALGORITHMS)  # a planner names a job by it unimported
    assert (built_in_name(" LMBRL "), built_in_name("offline-slac")) == ("lmbrl", "offline_slac")
    assert built_in_name("package.lompo") is built_in_name("lompo:x") is built_in_name("nope") is None
