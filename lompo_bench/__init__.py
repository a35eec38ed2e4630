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
__all__ = [
    "PolicyError",
    "TASKS",
    "TaskSpec",
    "UserError",
    "evaluate_policy",
    "get_task_spec",
    "make_task",
    "task_names",
    "write_result",
    "__version__",
]
_TASK_NAMES = ("TASKS", "TaskSpec", "get_task_spec", "make_task", "task_names")
# Scoring a policy trained anywhere (docs/ALGORITHMS.md): `algorithms.external_policy`, the one upward import here.
_POLICY_NAMES = ("PolicyError", "evaluate_policy", "write_result")


def __getattr__(name: str) -> Any:
    """The task API and the policy-evaluation API, imported on first use: `import lompo_bench` (and the
    leaderboard, the helpers `errors`, `files`, `paths`) stays free of MuJoCo, gymnasium and torch until a task is
    asked for."""
    if name in _TASK_NAMES:
        from lompo_bench import tasks

        return getattr(tasks, name)
    if name in _POLICY_NAMES:
        from lompo_bench.algorithms import external_policy

        return getattr(external_policy, name)
    raise AttributeError(f"module 'lompo_bench' has no attribute {name!r}")
