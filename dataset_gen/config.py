"""Generation settings: one frozen config per (task, profile), SAC hyper-parameters, dataset kinds and ids.

Profiles are the same pipeline with different numbers:
- `smoke`: a few episodes of everything; seconds; what the tests run.
- `cpu`: a usable dataset of each kind for one task in under an hour on 2 CPU cores (shorter SAC training,
  20K-transition datasets).
- `paper`: the paper's sizes (Appendix A: 100K, 180K, 1M and 50K transitions for Walker, D'Claw, Adroit and
  Door) and SAC trained long enough to reach expert level; hours to days of CPU, meant for bigger machines.

Frames are 64 px, except at the paper profile for D'Claw, Pen and Door: 128 px, as the paper's
(`lompo_bench.data.ids.dataset_image_size` says why).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field

from lompo_bench.data.ids import (  # noqa: F401  (re-exported: the maker's callers name datasets through here too)
    ABLATION_FACTORS,
    KINDS,
    ablation_dataset_id,
    dataset_id,
    dataset_image_size,
    resolve_kinds,
)
from lompo_bench.errors import UserError
from lompo_bench.tasks import get_task_spec

PROFILES = ("smoke", "cpu", "paper")

# Appendix A of the paper: transitions per dataset, the same for the three kinds of one task.
PAPER_DATASET_SIZE = {"walker_walk": 100_000, "dclaw_screw": 180_000, "adroit_pen": 1_000_000, "door_open": 50_000}
# Appendix B: D'Claw medium-expert of 1M transitions from 3 SAC runs, sub-sampled by 5 and 25.
ABLATION_RUNS = 3


@dataclass(frozen=True)
class SACConfig:
    """stable-baselines3 SAC hyper-parameters. Defaults are SB3's own (SAC paper values)."""

    learning_rate: float = 3e-4
    buffer_size: int = 1_000_000
    learning_starts: int = 100  # agent steps of uniform random actions before the first update
    batch_size: int = 256
    tau: float = 0.005
    gamma: float = 0.99
    train_freq: int = 1
    gradient_steps: int = 1
    net_arch: tuple[int, ...] = (256, 256)


@dataclass(frozen=True)
class GenerationConfig:
    """Everything that decides a generated dataset; saved beside it and stored in its metadata."""

    task: str
    profile: str
    sac_steps: int  # agent steps of SAC training (one env step = action repeat simulator steps)
    eval_every: int  # agent steps between evaluations of the deterministic policy (at the next episode end)
    eval_episodes: int  # episodes per evaluation
    sizes: dict[str, int]  # transitions per dataset kind
    ablation_size: int  # transitions of the full D'Claw ablation dataset (before the /5 and /25 sub-samples)
    checkpoint_every: int  # agent steps between checkpoints of training (model, replay buffer, recording)
    render_chunk: int = 5_000  # transitions per rendering work unit (one file, one resumable piece)
    medium_fraction: float = 0.5  # "about half the expert level" (Appendix A), on the random-to-expert scale
    # Where the medium point goes when no evaluation reaches the threshold (`splits.medium_point`): "last" (no
    # medium-expert data; generation stops) or "middle" (smoke: its 4 episodes test code paths, not data).
    never_medium: str = "last"
    image_size: int = 64  # frames rendered image_size x image_size (`dataset_image_size`: 128 px for some paper tasks)
    sac: SACConfig = field(default_factory=SACConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def generation_config(task: str, profile: str) -> GenerationConfig:
    """The config of `task` (name or alias) under `profile`; `UserError` for an unknown profile."""
    spec = get_task_spec(task)
    if profile not in PROFILES:
        raise UserError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    episode = spec.episode_length
    if profile == "smoke":
        # Four training episodes, an evaluation after each; one or two episodes per dataset.
        return GenerationConfig(
            task=spec.name,
            profile=profile,
            sac_steps=4 * episode,
            eval_every=episode,
            eval_episodes=1,
            sizes={kind: episode for kind in KINDS},
            ablation_size=2 * episode,
            checkpoint_every=2 * episode,
            render_chunk=max(episode, 64),
            never_medium="middle",
            sac=SACConfig(learning_starts=episode, buffer_size=10_000, batch_size=64, net_arch=(64, 64)),
        )
    if profile == "cpu":
        # ~110 agent steps/s of SB3 SAC on one core: 120K steps is about 20 minutes.
        return GenerationConfig(
            task=spec.name,
            profile=profile,
            sac_steps=120_000,
            eval_every=5_000,
            eval_episodes=5,
            sizes={kind: 20_000 for kind in KINDS},
            ablation_size=60_000,
            checkpoint_every=20_000,
            sac=SACConfig(learning_starts=5_000, buffer_size=200_000),
        )
    size = PAPER_DATASET_SIZE[spec.name]
    return GenerationConfig(
        task=spec.name,
        profile=profile,
        # Medium-replay needs `size` transitions before SAC reaches medium level, so training runs well past it.
        sac_steps=max(500_000, 3 * size),
        eval_every=10_000,
        eval_episodes=10,
        sizes={kind: size for kind in KINDS},
        ablation_size=1_000_000,
        checkpoint_every=50_000,
        image_size=dataset_image_size(spec.name, profile),
        sac=SACConfig(learning_starts=10_000),
    )


def resolve_workers(workers: int | None) -> int:
    """Rendering processes: one per core by default; `UserError` below 1."""
    if workers is None:
        return os.cpu_count() or 1
    if workers < 1:
        raise UserError(f"--workers must be at least 1, not {workers}")
    return workers
