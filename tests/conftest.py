"""Shared test set-up: headless rendering."""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")

import lompo_bench  # noqa: E402, F401  (sets MuJoCo's GL backend before anything imports mujoco)
