"""Rendering throughput of the dataset pipeline against the raw render speed of the same task, same run.

raw:      one process rendering saved physics states in a loop (`PixelTask.render_physics_state`): the limit
          of one core.
pipeline: `dataset_gen.render.render_units` with N spawned workers over the same episodes, worker start-up
          and file writing included.
Prints frames/s of both and the pipeline's share of the raw limit per core (goal: at least 80%).

    python benchmarks/generate_speed.py [--task walker ...] [--frames 6000] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("LP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from lompo_bench import get_task_spec, make_task, task_names  # noqa: E402
from lompo_bench.dataset_gen.recording import EpisodeRecorder, EpisodeStore  # noqa: E402
from lompo_bench.dataset_gen.render import plan_units, render_units  # noqa: E402


def record_random_episodes(task: str, frames: int, folder: Path) -> EpisodeStore:
    """Random-policy episodes, recorded as physics states, until at least `frames` observations."""
    env = make_task(task, pixels=False)
    recorder = EpisodeRecorder(folder, chunk_steps=10**9)
    rng = np.random.default_rng(0)
    recorded, episode = 0, 0
    while recorded < frames:
        obs, _ = env.reset(seed=episode)
        recorder.begin(env.get_physics_state(), obs["state"], obs.get("proprio", np.zeros(0)), start_step=0)
        recorded += 1
        done = False
        while not done and recorded < frames:
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated or recorded + 1 >= frames
            recorder.add(
                action, reward, terminated, done, env.get_physics_state(), obs["state"], obs.get("proprio", np.zeros(0))
            )
            recorded += 1
        episode += 1
    recorder.flush()
    env.close()
    return EpisodeStore(folder, "bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", action="append", help="task (repeatable); default: all")
    parser.add_argument("--frames", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    names = [get_task_spec(t).name for t in args.task] if args.task else task_names()
    print(f"{'task':<12} {'frames':>7} {'raw fps/core':>13} {'pipeline fps':>13} {'workers':>8} {'per core':>9}")
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            store = record_random_episodes(name, args.frames, Path(tmp) / "rec")
            states = np.concatenate([store.load(ref).physics for ref in store.episodes])
            env = make_task(name)
            env.render_physics_state(states[0])  # GL buffers allocated outside the timing
            start = time.perf_counter()
            for state in states:
                env.render_physics_state(state)
            raw = len(states) / (time.perf_counter() - start)
            env.close()
            units = plan_units(store.episodes, {"bench": Path(tmp) / "rec"}, frames_per_unit=len(states) // 8 + 1)
            start = time.perf_counter()
            render_units(name, units, Path(tmp) / "out", workers=args.workers)
            pipeline = len(states) / (time.perf_counter() - start)
        share = pipeline / (args.workers * raw)
        print(f"{name:<12} {len(states):>7} {raw:>13.0f} {pipeline:>13.0f} {args.workers:>8} {share:>8.0%}")


if __name__ == "__main__":
    main()
