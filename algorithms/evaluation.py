"""Evaluation in the task: the policy contract (`EpisodePolicy`), episodes from named reset seeds
(`lompo_bench.seeds`), the model-free learners' frame-stacking policy, and the result record of a run
(`lompo_bench.records.ResultRecord`, normalized with the dataset's references)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch

from lompo_bench.progress import Progress
from lompo_bench.provenance import code_permalink
from lompo_bench.records import ResultRecord, normalized_score


class EpisodePolicy(Protocol):
    """What evaluation needs of a trained agent: start an episode, then map each observation to an action."""

    def reset(self) -> None: ...

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


def evaluate_policy(
    policy: EpisodePolicy,
    task: str,
    episodes: int,
    seed: int,
    progress: Progress | None = None,
    on_step: Callable[[float, bool], None] | None = None,
    image_size: int = 64,
) -> list[float]:
    """Undiscounted returns of `episodes` episodes in the pixel task, seeded `seed`, `seed + 1`, ...; episodes
    done go to `progress` (a started stage); `on_step(reward, done)` is called after every step (diagnostics read
    the policy's state there). `image_size`: the frames' size, that of the dataset the policy was trained on (its
    `DatasetCache.frame_shape`; 128 px for D'Claw, Pen and Door at the paper profile)."""
    from lompo_bench.tasks import make_task

    env = make_task(task, image_size=image_size)
    returns = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            policy.reset()
            total, done = 0.0, False
            while not done:
                observation, reward, terminated, truncated, _ = env.step(policy.act(observation))
                total += float(reward)
                done = terminated or truncated
                if on_step is not None:
                    on_step(float(reward), done)
            returns.append(total)
            if progress is not None:
                progress.update(episode + 1)
    finally:
        env.close()
    return returns


class FrameStackPolicy:
    """Acting for the model-free learners: keeps the last `frames` frames (the first one repeated at an episode's
    start, as `TransitionSampler` stacks them) and maps them, with proprio, to an action."""

    def __init__(self, act_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], frames: int, device: Any):
        self.act_fn, self.frames, self.device = act_fn, frames, device
        self.stack: list[np.ndarray] = []

    def reset(self) -> None:
        self.stack = []

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        frame = observation["pixels"]
        self.stack = (self.stack or [frame] * self.frames)[1:] + [frame]
        pixels = torch.as_tensor(np.stack(self.stack), device=self.device).unsqueeze(0)
        proprio = observation.get("proprio")
        if proprio is not None:
            proprio = torch.as_tensor(proprio, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.act_fn(pixels, proprio)[0].cpu().numpy()


def result_record(
    *,
    algo: str,
    dataset_id: str,
    task: str,
    profile: str,
    seed: int,
    returns: list[float],
    seconds: float,
    code_version: str,
    overrides: dict[str, Any] | None = None,
    dataset_fingerprint: str | None = None,
    clipped_actions: int = 0,
) -> dict[str, Any]:
    """The result of one run (`lompo_bench.records.ResultRecord`, as JSON), references from the dataset's
    metadata. A run trained with `--set` overrides carries them (`report` keeps such runs out of Table I unless
    asked). `dataset_fingerprint`: the content the run trained on (default: the dataset's content now).
    `clipped_actions`: action components outside [-1, 1] the policy returned (the task clipped them)."""
    from lompo_bench.data.cache import dataset_fingerprint as current_fingerprint
    from lompo_bench.data.store import read_metadata
    from lompo_bench.tasks import get_task_spec

    # The dataset's references (those it was generated with); an imported dataset without them uses the task's.
    metadata = read_metadata(dataset_id)
    spec = get_task_spec(task)
    ref_min = metadata.get("ref_min_score", spec.ref_min_score)
    ref_max = metadata.get("ref_max_score", spec.ref_max_score)
    mean = float(np.mean(returns))
    return ResultRecord(
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        kind=metadata.get("lompo_kind"),
        dataset_profile=metadata.get("lompo_profile"),
        dataset_source=metadata.get("lompo_source", "lompo-bench"),
        ablation_factor=metadata.get("lompo_ablation_factor"),
        dataset_transitions=metadata.get("total_steps"),
        profile=profile,
        seed=seed,
        episodes=len(returns),
        returns=returns,
        mean_return=mean,
        std_return=float(np.std(returns)),
        normalized_score=normalized_score(mean, ref_min, ref_max) if ref_min is not None else None,
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        reference_provisional=metadata.get("lompo_reference_provisional", spec.ref_provisional),
        train_seconds=seconds,
        code_version=code_version,
        evaluation_code_version=code_permalink(),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        overrides=overrides or None,
        dataset_fingerprint=dataset_fingerprint or current_fingerprint(dataset_id),
        clipped_actions=clipped_actions or None,
    ).to_dict()
