"""The speed figures of LOMPO's hot paths, each against a baseline measured in the same process (`lompo-bench
bench`, `benchmarks/model_speed.py`, docs/PERFORMANCE.md):

- the world model's update (Eq. 8) in frames/s, per speed lever (`LEVERS`), against fp32 eager;
- the actor-critic update in updates/s, the imagined rollouts (Eq. 9) in imagined transitions/s;
- the data path: the time a model update waits for its batch (sampling + handing it to torch), as a share of the
  update;
- loss curves: the same model trained with fp32 eager and with the levers, from one seed, its full loss (every
  frame decoded) on fixed batches every few updates, so a lever that changes learning shows.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from lompo_bench.algorithms import lompo, speed

# (task, action dim, proprio dim): Walker's layout without proprio, D'Claw's with it (4 conv layers at 64 px).
LAYOUTS = {"walker_walk": (6, 0), "dclaw_screw": (9, 27)}
# The levers, cumulative from fp32 eager (the code before issue 13) to the defaults and past them.
LEVERS: dict[str, dict[str, Any]] = {
    "fp32 eager": {"precision": "fp32", "channels_last": False, "decode_fraction": 1.0},
    "bf16 autocast": {"precision": "bf16", "channels_last": False, "decode_fraction": 1.0},
    "bf16 + channels_last": {"precision": "bf16", "channels_last": True, "decode_fraction": 1.0},
    "+ decode 1/2 of steps": {"precision": "bf16", "channels_last": True, "decode_fraction": 0.5},
    "+ decode 1/4 of steps": {"precision": "bf16", "channels_last": True, "decode_fraction": 0.25},
}
BASELINE = "fp32 eager"
NONE = float("nan")  # a figure with no reference


@dataclass(frozen=True)
class Figure:
    """One row of the table: what was measured, ours, the reference it is set against, and what that is."""

    name: str
    ours: float
    reference: float
    unit: str
    against: str

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else NONE

    def markdown_row(self) -> str:
        has_reference = self.reference == self.reference  # not NaN
        reference = f"{self.reference:,.4g}" if has_reference else ""
        ratio = f"{self.ratio:.2f}x" if has_reference else ""
        return f"| {self.name} | {self.ours:,.4g} | {reference} | {ratio} | {self.unit} | {self.against} |"


def describe_machine(device: Any) -> str:
    """The hardware behind `device` in a few words, with what decides the speed levers (speed.device_kind)."""
    import platform

    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = speed.cpu_field("model name") or platform.processor() or "CPU"
    return f"{cpu}, {torch.get_num_threads()} torch threads, {speed.device_kind(device)}, torch {torch.__version__}"


def task_config(profile: str, task: str = "walker_walk", **overrides: Any) -> lompo.LompoConfig:
    return lompo.resolve_for_task(lompo.make_config(profile, **overrides), task)


def synthetic_batch(
    config: lompo.LompoConfig, task: str = "walker_walk", device: Any = "cpu"
) -> dict[str, torch.Tensor]:
    """A model batch of the config's shape with random frames (speed does not depend on the pixels' values)."""
    action_dim, proprio_dim = LAYOUTS[task]
    generator = torch.Generator().manual_seed(0)
    b, t = config.model_batch, config.seq_len
    batch = {
        "pixels": torch.randint(0, 256, (b, t, 64, 64, 3), dtype=torch.uint8, generator=generator),
        "proprio": torch.randn(b, t, proprio_dim, generator=generator),
        "prev_actions": torch.rand(b, t, action_dim, generator=generator) * 2 - 1,
        "prev_rewards": torch.rand(b, t, generator=generator),
    }
    return {key: value.to(device) for key, value in batch.items()}


def median_seconds(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> float:
    """The median wall time of `fn` over `repeats` calls after `warmup` calls (a GPU's queue drained each time)."""
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        seconds.append(time.perf_counter() - start)
    return float(np.median(seconds))


def model(config: lompo.LompoConfig, task: str = "walker_walk", device: Any = "cpu") -> lompo.WorldModel:
    torch.manual_seed(0)
    return lompo.WorldModel(config, *LAYOUTS[task], torch.device(device))


def model_frames_per_second(
    config: lompo.LompoConfig, task: str = "walker_walk", updates: int = 3, device: Any = "cpu"
) -> float:
    """Frames/s of the world model's update on a synthetic batch: the median of `updates` after a warm-up."""
    world_model, batch = model(config, task, device), synthetic_batch(config, task, device)
    return config.model_batch * config.seq_len / median_seconds(lambda: world_model.update(batch), updates)


def flops_per_frame(config: lompo.LompoConfig, task: str = "walker_walk") -> float:
    """FLOPs of one model update (forward + backward) per frame, counted by torch on a 2-sequence batch."""
    from torch.utils.flop_counter import FlopCounterMode

    small = dataclasses.replace(config, model_batch=2, precision="fp32", channels_last=False)  # FLOPs alike
    world_model, batch = model(small, task), synthetic_batch(small, task)
    with FlopCounterMode(display=False) as counter:
        world_model.update(batch)
    return counter.get_total_flops() / (small.model_batch * small.seq_len)


def matmul_flops_per_second(dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """Dense matmul throughput on the CPU at `dtype`: the ceiling any model update can approach."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    return 2 * size**3 / median_seconds(lambda: a @ b, repeats)


def levers(profile: str, task: str = "walker_walk", updates: int = 3, device: Any = "cpu") -> dict[str, float]:
    """Frames/s of the model update with each lever of `LEVERS`, in one process."""
    return {name: model_frames_per_second(task_config(profile, task, **lever), task, updates, device)
            for name, lever in LEVERS.items()}  # fmt: skip


def agent(
    config: lompo.LompoConfig, task: str = "walker_walk", transitions: int = 20_000, device: Any = "cpu"
) -> lompo.Lompo:
    """A LOMPO agent whose real and imagined buffers hold `transitions` random latent transitions."""
    learner = lompo.Lompo(config, model(config, task, device), transitions, transitions)
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(transitions, learner.model.rssm.feature_dim, generator=generator)
    for buffer in (learner.real, learner.imagined):
        buffer.add(
            0,
            features=features,
            actions=torch.rand(transitions, learner.action_dim, generator=generator) * 2 - 1,
            rewards=torch.rand(transitions, generator=generator),
            next_features=features.roll(1, 0),
            terminals=torch.zeros(transitions),
        )
    return learner


def actor_critic_updates_per_second(
    config: lompo.LompoConfig, task: str = "walker_walk", updates: int = 50, device: Any = "cpu"
) -> float:
    learner = agent(config, task, device=device)
    return 1.0 / median_seconds(learner.ac_update, updates, warmup=5)


def imagined_per_second(
    config: lompo.LompoConfig, task: str = "walker_walk", repeats: int = 3, device: Any = "cpu"
) -> float:
    """Imagined transitions/s of the rollouts from one model batch's posterior states (encoding included)."""
    learner, batch = agent(config, task, device=device), synthetic_batch(config, task, device)
    seconds = median_seconds(lambda: learner.add_imagined(batch, born=0), repeats)
    return config.model_batch * config.seq_len * config.rollout_horizon / seconds


def data_wait_share(config: lompo.LompoConfig, cache: Any, updates: int = 3, device: Any = "cpu") -> float:
    """The time to draw one model batch from `cache` and hand it to torch, as a share of batch + update (the
    training loop draws each batch before its update, without prefetching)."""
    from lompo_bench.data import SequenceSampler, to_torch

    device = torch.device(device)
    sampler = SequenceSampler(cache, config.model_batch, config.seq_len, seed=0, pin_memory=device.type == "cuda")
    sample = median_seconds(lambda: to_torch(sampler.sample(), device), 10)
    torch.manual_seed(0)
    world_model = lompo.build_model(config, cache, device)
    batch = to_torch(sampler.sample(), device)
    update = median_seconds(lambda: world_model.update(batch), updates)
    return sample / (sample + update)


def loss_curves(
    config: lompo.LompoConfig,
    cache: Any,
    variants: dict[str, dict[str, Any]],
    updates: int,
    every: int,
    seed: int = 0,
    evaluation_batches: int = 2,
) -> dict[str, list[tuple[int, float]]]:
    """For each variant (overrides of `config`, a seed with "seed"): a model trained `updates` updates on the
    dataset `cache`, from the same initialization and batches, and its mean full loss (every frame decoded) on
    fixed evaluation batches after every `every` updates. The evaluation draws nothing from training's streams."""
    from lompo_bench.data import SequenceSampler, to_torch

    device = torch.device("cpu")
    held = SequenceSampler(cache, config.model_batch, config.seq_len, seed=10_000 + seed)
    evaluation = [{k: v.clone() for k, v in to_torch(held.sample(), device).items()} for _ in range(evaluation_batches)]
    curves: dict[str, list[tuple[int, float]]] = {}
    for name, overrides in variants.items():
        overrides = dict(overrides)
        run_seed = overrides.pop("seed", seed)
        torch.manual_seed(run_seed)
        world_model = lompo.build_model(dataclasses.replace(config, **overrides), cache, device)
        sampler = SequenceSampler(cache, config.model_batch, config.seq_len, seed=run_seed)
        curve = []
        for step in range(updates + 1):
            if step % every == 0:
                with torch.random.fork_rng(), torch.no_grad():
                    torch.manual_seed(10_000)
                    losses = [world_model.loss(batch)[0].item() for batch in evaluation]
                curve.append((step, float(np.mean(losses))))
            if step < updates:
                world_model.update(to_torch(sampler.sample(), device))
        curves[name] = curve
    return curves


def figures(
    profiles: tuple[str, ...] = ("cpu", "paper"), updates: int = 3, dataset_id: str | None = None, device: Any = "cpu"
) -> Iterator[Figure]:
    """The table of `lompo-bench bench`, one figure at a time: per profile, the model update with each lever and
    with the defaults against fp32 eager (Walker's layout, and D'Claw's with the defaults), the actor-critic
    update, the rollouts; with a dataset, the data path's wait as a share of a model update (target < 5%)."""
    for profile in profiles:
        lever_speed = levers(profile, "walker_walk", updates, device)
        baseline = lever_speed[BASELINE]
        for name, frames in lever_speed.items():
            if name != BASELINE:
                yield Figure(f"model update, {profile}, walker_walk: {name}", frames, baseline, "frames/s", BASELINE)
        defaults_speed = {}
        for task in LAYOUTS:
            ours = defaults_speed[task] = model_frames_per_second(task_config(profile, task), task, updates, device)
            reference = model_frames_per_second(task_config(profile, task, **LEVERS[BASELINE]), task, updates, device)
            yield Figure(f"model update, {profile}, {task}: defaults", ours, reference, "frames/s", BASELINE)
        if torch.device(device).type == "cpu":
            # The ceiling: the defaults' FLOPs per frame (forward + backward, as they run: a decoded subset of
            # steps saves its share) at the CPU's dense matmul rate in the defaults' precision.
            defaults = task_config(profile)
            bf16 = lompo.model_speed(defaults, torch.device(device))["precision"] == "bf16"
            per_frame = flops_per_frame(defaults)
            limit = matmul_flops_per_second(torch.bfloat16 if bf16 else torch.float32) / per_frame
            yield Figure(f"model update, {profile}, walker_walk: defaults against the CPU's limit "
                         f"({per_frame / 1e6:.0f} MFLOP/frame at {'bf16' if bf16 else 'fp32'} matmul speed)",
                         defaults_speed["walker_walk"], limit, "frames/s", "matmul-bound limit")  # fmt: skip
        config = task_config(profile)
        ac = actor_critic_updates_per_second(config, updates=10 * updates, device=device)
        yield Figure(f"actor-critic update, {profile}, batch {config.ac_batch}", ac, NONE, "updates/s", "")
        imagined = imagined_per_second(config, repeats=updates, device=device)
        yield Figure(f"imagined rollouts, {profile}, K={config.ensemble}", imagined, NONE, "transitions/s", "")
        if dataset_id is not None:
            from lompo_bench.data import dataset_task, open_cache

            task = dataset_task(dataset_id)
            share = data_wait_share(task_config(profile, task), open_cache(dataset_id), updates, device)
            yield Figure(f"data wait, {profile}, {dataset_id}", share, 0.05, "share of an update", "target < 5%")
