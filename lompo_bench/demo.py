"""Rollouts for looking at tasks: frame strips (`lompo-bench tasks show`) and the end-to-end `lompo-bench demo`.

The demo runs what exists, small: a uniform random policy through every task (a PNG contact sheet of frames per
task, steps/s and returns), then the dataset pipeline on its smoke profile (a SAC expert trained from state for
a few episodes, an expert dataset of Adroit Pen written as a Minari dataset) read back through the cache and
the sequence sampler. Algorithms join when they exist. It sits above the layers (like the CLI): it may use
`dataset_gen` and `data`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from lompo_bench.errors import UserError
from lompo_bench.tasks import get_task_spec, make_task, task_names


@dataclass(frozen=True)
class Rollout:
    task: str
    frames: list[np.ndarray]  # every `pixels` observation, the reset frame first
    episode_returns: list[float]  # returns of the episodes finished within the rollout
    partial_return: float  # return of the episode still running when the rollout stopped
    agent_steps: int
    seconds: float  # wall time of the steps (rendering included), not of env construction

    @property
    def steps_per_second(self) -> float:
        return self.agent_steps / max(self.seconds, 1e-9)


def random_rollout(name: str, *, steps: int | None = None, seed: int = 0, image_size: int = 64) -> Rollout:
    """Roll a seeded uniform random policy for `steps` agent steps (default: one whole episode)."""
    spec = get_task_spec(name)
    steps = spec.episode_length if steps is None else steps
    if steps < 1:
        raise UserError(f"--steps must be at least 1, not {steps}")
    env = make_task(spec.name, image_size=image_size)
    try:
        env.action_space.seed(seed)
        obs, _ = env.reset(seed=seed)
        frames, returns, running = [obs["pixels"]], [], 0.0
        start = time.perf_counter()
        for _ in range(steps):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            running += reward
            frames.append(obs["pixels"])
            if terminated or truncated:
                returns.append(running)
                running = 0.0
                obs, _ = env.reset()
        seconds = time.perf_counter() - start
    finally:
        env.close()
    return Rollout(spec.name, frames, returns, running, steps, seconds)


def contact_sheet(frames: list[np.ndarray], *, count: int = 8, columns: int = 8, scale: int = 2) -> Image.Image:
    """`count` frames evenly spaced over the rollout, in a grid, scaled up by `scale` (nearest neighbour)."""
    if not frames:
        raise ValueError("no frames to lay out")
    picks = np.unique(np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int))
    chosen = [frames[i] for i in picks]
    h, w, _ = chosen[0].shape
    columns = min(columns, len(chosen))
    rows = -(-len(chosen) // columns)
    sheet = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for k, frame in enumerate(chosen):
        r, c = divmod(k, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = frame
    image = Image.fromarray(sheet)
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


@dataclass(frozen=True)
class DemoSummary:
    task: str
    agent_steps: int
    steps_per_second: float
    mean_return: float  # over finished episodes, or the running return when none finished
    sheet: str  # path of the contact sheet

    def line(self) -> str:
        return (
            f"{self.task:<12} {self.agent_steps:>5} steps  {self.steps_per_second:7.1f} steps/s  "
            f"return {self.mean_return:9.2f}  -> {self.sheet}"
        )


def run_demo(
    out_dir: Path,
    *,
    tasks: list[str] | None = None,
    steps: int | None = None,
    seed: int = 0,
    on_task_done: Callable[[DemoSummary], None] | None = None,
) -> list[DemoSummary]:
    """Random-policy rollout of every task (one episode each by default): contact sheets and a summary.json."""
    names = [get_task_spec(t).name for t in tasks] if tasks else task_names()
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries = []
    for name in names:
        rollout = random_rollout(name, steps=steps, seed=seed)
        sheet_path = out_dir / f"{name}.png"
        contact_sheet(rollout.frames).save(sheet_path)
        returns = rollout.episode_returns or [rollout.partial_return]
        summary = DemoSummary(
            name, rollout.agent_steps, rollout.steps_per_second, float(np.mean(returns)), str(sheet_path)
        )
        summaries.append(summary)
        if on_task_done is not None:
            on_task_done(summary)
    (out_dir / "summary.json").write_text(json.dumps([asdict(s) for s in summaries], indent=2) + "\n")
    return summaries


@dataclass(frozen=True)
class DemoDataset:
    dataset_id: str
    transitions: int
    expert_return: float
    batch_shape: tuple[int, ...]  # pixels of one SequenceSampler batch read back from the dataset
    lompo_return: float  # LOMPO (smoke profile) trained on the dataset, evaluated in the task
    run_dir: str
    seconds: float

    def line(self) -> str:
        return (
            f"dataset {self.dataset_id}: {self.transitions} transitions (smoke SAC expert return "
            f"{self.expert_return:.1f}), sampled a batch of pixels {self.batch_shape}; LOMPO (smoke) trained on it "
            f"returns {self.lompo_return:.1f}, run in {self.run_dir}; {self.seconds:.0f} s"
        )


def run_dataset_demo(out_dir: Path, *, task: str = "adroit_pen", seed: int = 0) -> DemoDataset:
    """Smoke-profile generation of one expert dataset, a batch through the cache and the sampler, and a smoke
    LOMPO run on it (train, evaluate, result record): every layer once, in seconds."""
    from lompo_bench.algorithms.jobs import train
    from lompo_bench.data import SequenceSampler, open_cache
    from lompo_bench.dataset_gen.pipeline import generate
    from lompo_bench.paths import run_dir

    start = time.perf_counter()
    report = generate(task, kinds=("expert",), profile="smoke", seed=seed, workers=1, out=out_dir / "generate")
    ((dataset_id, info),) = report.datasets.items()
    spec = get_task_spec(task)
    batch = SequenceSampler(open_cache(dataset_id), batch_size=4, seq_len=spec.episode_length, seed=seed).sample()
    record = train("lompo", dataset_id, profile="smoke", seed=seed, out=out_dir / "runs")
    run = run_dir("lompo", dataset_id, "smoke", seed, out_dir / "runs")
    return DemoDataset(
        dataset_id,
        info["transitions"],
        report.expert_return,
        batch["pixels"].shape,
        record["mean_return"],
        str(run),
        time.perf_counter() - start,
    )
