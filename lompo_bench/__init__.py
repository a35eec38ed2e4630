"""lompo-bench: tasks, data access and command line of the LOMPO offline-RL-from-pixels benchmark."""

from __future__ import annotations

import os

# MuJoCo picks its OpenGL backend when `mujoco` is first imported, so the default must be set before any
# task module loads. Headless machines (no DISPLAY) get EGL, which uses the GPU where there is one and
# Mesa's llvmpipe otherwise; a user's own MUJOCO_GL always wins.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

from typing import Any  # noqa: E402

from lompo_bench.errors import UserError  # noqa: E402

__version__ = "0.1.0"
__all__ = ["TASKS", "TaskSpec", "UserError", "get_task_spec", "make_task", "task_names", "__version__"]
_TASK_NAMES = ("TASKS", "TaskSpec", "get_task_spec", "make_task", "task_names")


def __getattr__(name: str) -> Any:
    """The task API, imported on first use: `import lompo_bench` (and the leaderboard, the helpers `errors`,
    `files`, `paths`) stays free of MuJoCo, gymnasium and torch until a task is asked for."""
    if name in _TASK_NAMES:
        from lompo_bench import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'lompo_bench' has no attribute {name!r}")
