"""Steps/s of every task: physics only, with our fast rendering, and with MuJoCo's default rendering.

Prints, per task, agent steps/s (one agent step = action-repeat env steps + one 64x64 frame), the time per
rendered frame, and the ratio of our rendering to the default-settings rendering, all measured in this run.

    python benchmarks/render_speed.py [--steps 200] [--default-steps 20] [--image-size 64] [--task walker ...]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("LP_NUM_THREADS", "1")  # Mesa llvmpipe: one render thread, so "1 core" is true

import numpy as np  # noqa: E402

from lompo_bench import get_task_spec, make_task, task_names  # noqa: E402


def agent_steps_per_second(name: str, steps: int, image_size: int, *, pixels: bool, fast: bool) -> float:
    env = make_task(name, image_size=image_size, pixels=pixels, fast_render=fast)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (steps, env.action_space.shape[0])).astype(np.float32)
    env.reset(seed=0)
    env.step(actions[0])  # first render allocates GL buffers; keep it out of the timing
    start = time.perf_counter()
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            env.reset()
    seconds = time.perf_counter() - start
    env.close()
    return steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="agent steps for physics-only and fast runs")
    parser.add_argument("--default-steps", type=int, default=20, help="agent steps with default rendering")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--task", action="append", help="task to measure (repeatable); default: all")
    args = parser.parse_args()

    names = [get_task_spec(t).name for t in args.task] if args.task else task_names()
    header = (
        f"{'task':<12} {'repeat':>6} {'physics':>9} {'fast':>8} {'default':>8} "
        f"{'ms/frame fast':>14} {'ms/frame default':>17} {'fast/default':>13}"
    )
    print(f"agent steps/s, 1 core, {args.image_size}x{args.image_size}, MUJOCO_GL={os.environ['MUJOCO_GL']}")
    print(header)
    for name in names:
        physics = agent_steps_per_second(name, args.steps, args.image_size, pixels=False, fast=True)
        fast = agent_steps_per_second(name, args.steps, args.image_size, pixels=True, fast=True)
        default = agent_steps_per_second(name, args.default_steps, args.image_size, pixels=True, fast=False)
        # A frame's cost is the step time with pixels minus the step time without.
        ms_fast = 1000 * (1 / fast - 1 / physics)
        ms_default = 1000 * (1 / default - 1 / physics)
        print(
            f"{name:<12} {get_task_spec(name).action_repeat:>6} {physics:>9.0f} {fast:>8.0f} {default:>8.1f} "
            f"{ms_fast:>14.2f} {ms_default:>17.1f} {fast / default:>12.1f}x"
        )


if __name__ == "__main__":
    main()
