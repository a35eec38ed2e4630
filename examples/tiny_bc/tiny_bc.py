"""Tiny BC: behavior cloning with a small MLP over downscaled pixels, a whole lompo-bench algorithm written outside
the package against its public contract (docs/ALGORITHMS.md): `NAME`, `PROFILES`, `make_config`, `train` and
`load_policy`.

Each 64x64 frame is average-pooled to 16x16 (3 x 256 inputs), joined with the normalized proprioception where the
task has it, and a 2-hidden-layer MLP with a tanh output regresses the dataset's actions (mean squared error). No
frame stack, no augmentation: an example to copy, not a baseline to beat (the built-in `bc` is that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from lompo_bench.algorithms import configs, runs
from lompo_bench.data import TorchBatches, TransitionSampler, open_cache
from lompo_bench.progress import NoProgress, Progress

NAME = "tiny_bc"  # the entry point's name: run folders, result records and report columns carry it
DESCRIPTION = "example plugin: behavior cloning, a small MLP over 16x16 downscaled frames"


@dataclass(frozen=True)
class TinyBCConfig:
    image_size: int = 16  # frames are average-pooled from 64x64 to this many pixels a side
    hidden: int = 256  # units in each of the MLP's two hidden layers
    steps: int = 20_000  # gradient steps
    batch: int = 256  # transitions per step
    lr: float = 1e-3  # Adam
    eval_episodes: int = 10  # the final evaluation's episodes (the built-ins' cpu and paper profiles use 10)
    checkpoint_every: int = 1_000  # steps between checkpoints (a killed run continues from the last)
    log_every: int = 100  # steps between logged losses (metrics.csv)


PROFILES = {
    "paper": TinyBCConfig(),
    "cpu": TinyBCConfig(hidden=128, steps=3_000, batch=64, checkpoint_every=500),
    "smoke": TinyBCConfig(
        image_size=8, hidden=16, steps=30, batch=8, eval_episodes=1, checkpoint_every=10, log_every=5
    ),
}


def make_config(profile: str, **overrides: Any) -> TinyBCConfig:
    """The profile's config with `overrides` applied (`train --set`); one line for an unknown profile."""
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


class TinyPolicyNet(nn.Module):
    def __init__(self, config: TinyBCConfig, proprio_dim: int, action_dim: int) -> None:
        super().__init__()
        self.image_size = config.image_size
        inputs = 3 * config.image_size**2 + proprio_dim
        self.mlp = nn.Sequential(
            nn.Linear(inputs, config.hidden), nn.ReLU(), nn.Linear(config.hidden, config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, action_dim), nn.Tanh(),
        )  # fmt: skip
        # Buffers, so checkpoints carry the dataset's proprio statistics.
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """pixels uint8 (B, H, W, 3), proprio (B, P) -> actions in [-1, 1] (B, A)."""
        images = pixels.permute(0, 3, 1, 2).float() / 255.0
        small = functional.adaptive_avg_pool2d(images, self.image_size).flatten(1)
        return self.mlp(torch.cat([small, (proprio - self.proprio_mean) / self.proprio_std], dim=1))


class TinyBC:
    """The learner: what `RunState.resume` / `checkpoint` save and restore, and one update per batch."""

    def __init__(self, net: TinyPolicyNet, config: TinyBCConfig) -> None:
        self.net = net
        self.optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)

    def update(self, batch: dict[str, torch.Tensor]) -> float:
        # TransitionSampler stacks frames: (B, 1, H, W, 3) with frame_stack=1.
        predicted = self.net(batch["pixels"][:, -1], batch["proprio"])
        loss = (predicted - batch["actions"]).pow(2).sum(-1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def training_state(self) -> dict[str, Any]:
        return {"modules": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["modules"])
        self.optimizer.load_state_dict(state["optimizer"])


class TinyBCPolicy:
    """Acting in the task: `reset()` at an episode's start, `act(observation) -> action` for one observation."""

    def __init__(self, net: TinyPolicyNet, device: torch.device) -> None:
        self.net, self.device = net, device

    def reset(self) -> None:
        pass  # no memory across steps

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        pixels = torch.as_tensor(observation["pixels"], device=self.device).unsqueeze(0)
        proprio = observation.get("proprio", np.zeros(0, np.float32))
        proprio = torch.as_tensor(proprio, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.net(pixels, proprio)[0].cpu().numpy()


def train(
    *,
    dataset_id: str,
    task: str,
    profile: str,
    config: TinyBCConfig,
    folder: Path,
    seed: int,
    device: torch.device,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Behavior cloning on `dataset_id`, resuming from `folder`'s checkpoint; returns the result record."""
    progress = progress or NoProgress()
    cache = open_cache(dataset_id, progress)  # the dataset's read cache: built once, then memory-mapped
    runs.start_run(folder, config, algo=NAME, dataset_id=dataset_id, task=task, seed=seed, device=device, cache=cache)
    torch.manual_seed(seed)
    net = TinyPolicyNet(config, cache.proprio.shape[1], cache.actions.shape[1]).to(device)
    if cache.proprio.shape[1]:
        net.proprio_mean.copy_(torch.as_tensor(cache.proprio.mean(0)))
        net.proprio_std.copy_(torch.as_tensor(cache.proprio.std(0) + 1e-3))
    learner = TinyBC(net, config)
    batches = TorchBatches(TransitionSampler(cache, config.batch, frame_stack=1, seed=seed), device)
    run = runs.RunState(folder, step=0)
    run.resume(device, learner, batches)  # a killed run continues here: weights, optimizer, sampler, RNG, history
    if run.data["phase"] == "train":
        progress.start("tiny bc", config.steps)
        while run.data["step"] < config.steps:
            loss = learner.update(batches.sample())
            run.data["step"] += 1
            step = run.data["step"]
            if step % config.log_every == 0:
                run.log("train", step, {"bc_loss": loss})
            progress.update(step, f"bc_loss {loss:.3g}")
            if step % config.checkpoint_every == 0:
                run.checkpoint(learner, batches)
        progress.finish()
        run.data["phase"] = "evaluate"
        run.checkpoint(learner, batches)
    # The benchmark's own final evaluation (its episodes and reset seeds) and the result record, written once.
    return runs.finish_run(
        run, algo=NAME, dataset_id=dataset_id, task=task, profile=profile, seed=seed, policy=TinyBCPolicy(net, device),
        episodes=config.eval_episodes, save=lambda: run.checkpoint(learner, batches), progress=progress,
    )  # fmt: skip


def load_policy(folder: Path, device: torch.device) -> TinyBCPolicy:
    """The trained policy of a finished run folder (for `lompo-bench evaluate`)."""
    record, state = runs.load_finished(folder, device)
    net = TinyPolicyNet(TinyBCConfig(**record["config"]), record["proprio_dim"], record["action_dim"]).to(device)
    net.load_state_dict(state["training"]["modules"])
    net.eval()
    return TinyBCPolicy(net, device)
