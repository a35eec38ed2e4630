"""The pixel task suite: one registry (`TASKS`), one module per source library, `make_task` to build an env.

Importing this package registers every task with the registry and with gymnasium (`lompo_bench/<name>-v0`),
so that Minari's `recover_environment()` can rebuild a dataset's task from its env spec.
"""

from __future__ import annotations

import importlib

import gymnasium as gym

from lompo_bench.tasks.core import PixelTask, apply_fast_render_settings
from lompo_bench.tasks.registry import TASKS, TaskRegistry, TaskSpec

__all__ = [
    "TASKS",
    "PixelTask",
    "TaskRegistry",
    "TaskSpec",
    "apply_fast_render_settings",
    "get_task_spec",
    "make_task",
    "task_for_gym_id",
    "task_names",
]


def get_task_spec(name: str) -> TaskSpec:
    """The spec of a task by name or alias; `UnknownTaskError` (a `UserError`) with close matches otherwise."""
    return TASKS.get(name)


def task_for_gym_id(env_id: str) -> TaskSpec | None:
    """The registered task a gymnasium id names (`TaskSpec.gym_id`, `lompo_bench/<name>-v0`); None for any
    other env."""
    return next((spec for spec in map(TASKS.get, TASKS.names()) if spec.gym_id == env_id), None)


def task_names(tag: str | None = None) -> list[str]:
    """Registered task names, optionally only those with `tag` (e.g. "paper")."""
    return TASKS.names(tag)


def make_task(
    name: str,
    *,
    seed: int | None = None,
    image_size: int = 64,
    pixels: bool = True,
    fast_render: bool = True,
    render_mode: str | None = None,
) -> PixelTask:
    """Build a task's env: `Dict` observations (`pixels`, `proprio` where the paper has it, `state`).

    seed: when given, the env is reset with it once, so the first `reset()` without a seed continues from it.
    pixels: False skips rendering (state-only training, e.g. SAC experts); the physics is unchanged.
    fast_render: False keeps MuJoCo's shadows, reflections and MSAA; only the render benchmark wants that.
    """
    return PixelTask(
        get_task_spec(name),
        image_size=image_size,
        pixels=pixels,
        fast_render=fast_render,
        render_mode=render_mode,
        seed=seed,
    )


# Each source module adds its tasks to TASKS when imported; this order is the paper's order of tasks.
_SOURCE_MODULES = ("dm_control_tasks", "dclaw", "robotics_tasks", "metaworld_tasks")
for _module in _SOURCE_MODULES:
    importlib.import_module(f"lompo_bench.tasks.{_module}")


def _register_with_gymnasium() -> None:
    for spec in TASKS:
        if spec.gym_id in gym.registry:
            continue
        gym.register(
            id=spec.gym_id,
            entry_point="lompo_bench.tasks:make_task",
            kwargs={"name": spec.name},
            max_episode_steps=spec.episode_length,
        )


_register_with_gymnasium()
