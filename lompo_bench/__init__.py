"""lompo-bench: tasks, data access and command line of the LOMPO offline-RL-from-pixels benchmark."""

from __future__ import annotations

import os

# MuJoCo picks its OpenGL backend when `mujoco` is first imported, so the default must be set before any
# task module loads. Headless machines (no DISPLAY) get EGL, which uses the GPU where there is one and
# Mesa's llvmpipe otherwise; a user's own MUJOCO_GL always wins.
if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    os.environ["MUJOCO_GL"] = "egl"

from lompo_bench.errors import UserError  # noqa: E402
from lompo_bench.tasks import TASKS, TaskSpec, get_task_spec, make_task, task_names  # noqa: E402

__version__ = "0.1.0"
__all__ = ["TASKS", "TaskSpec", "UserError", "get_task_spec", "make_task", "task_names", "__version__"]
