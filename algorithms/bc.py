"""BC from pixels, the paper's first comparison: "direct behavior cloning from raw image observations".

A conv encoder (Appendix C's, per image size) over a stack of the last `frames` frames (and proprio where the task has
it), DrQ's trunk and a 3-layer MLP regress the dataset's actions (mean squared error on the tanh output). The paper
gives no BC details; ours is V-D4RL's pixel BC in shape: frame stacking, random-shift augmentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lompo_bench.algorithms import configs, evaluation, model_free
from lompo_bench.algorithms.configs import Count, PositiveFloat
from lompo_bench.algorithms.nets import ENCODERS, PixelFeatures, adam, drqv2_init, mlp
from lompo_bench.errors import UserError

NAME = "bc"
INITS = ("drqv2", "torch")


@dataclass(frozen=True)
class BCConfig:
    conv_channels: tuple[Count, ...] | None = None  # None: Appendix C's encoder for the dataset's image size
    conv_scale: PositiveFloat = 1.0  # multiplies the paper's channels when conv_channels is None
    frames: Count = 3  # frame stack: one frame shows no velocity (DrQ, V-D4RL)
    trunk: Count = 50  # DrQ's projection of the conv features (Linear, LayerNorm, tanh)
    hidden: Count = 256  # 3-layer policy MLP, as the paper's actor (Appendix C)
    steps: Count = 100_000  # ours; V-D4RL trains its BC for 100K updates
    batch: Count = 256
    # d3rlpy BC's 1e-3, where ours and V-D4RL's had 3e-4: issue 32's rule (docs/BASELINES.md, "BC: the rule
    # applied"), Walker medium-expert cpu, 3 seeds: 78.7 [73.4, 83.5] against 60.4 [43.4, 71.5] at 3e-4; the
    # paper gives no BC learning rate. Adopted for every profile and dataset alike.
    lr: PositiveFloat = 1e-3
    augment: bool = True  # random shift by up to 4 px
    # Ablation settings (docs/BASELINES.md, "Closing a gap"): each default is ours, the other value d3rlpy's BC's.
    # encoder "nature": d3rlpy's Nature-DQN convs + Linear(trunk) + ReLU (with trunk=512); head_layers 1: a linear
    # head on the features (d3rlpy's); init "torch": PyTorch's default initialisation.
    encoder: str = "paper"
    head_layers: Count = 3
    init: str = "drqv2"
    eval_every: Count = 10_000
    eval_episodes: Count = 10
    checkpoint_every: Count = 2_000
    log_every: Count = 100


PROFILES = {
    "paper": BCConfig(),
    "cpu": BCConfig(conv_scale=0.5, steps=6_000, batch=64, eval_every=2_000, eval_episodes=10, checkpoint_every=500),
    "smoke": BCConfig(
        conv_scale=0.125,
        trunk=8,
        hidden=16,
        steps=100,
        batch=16,
        eval_every=50,
        eval_episodes=1,
        checkpoint_every=25,
        log_every=5,
    ),
}


def make_config(profile: str, **overrides: Any) -> BCConfig:
    config = configs.pick_profile(NAME, PROFILES, profile, **overrides)
    if config.encoder not in ENCODERS:
        raise UserError(f"bc setting encoder must be one of {', '.join(ENCODERS)}, not {config.encoder!r}")
    if config.init not in INITS:
        raise UserError(f"bc setting init must be one of {', '.join(INITS)}, not {config.init!r}")
    return config


class BehaviorCloning(nn.Module):
    def __init__(self, config: BCConfig, action_dim: int, proprio_dim: int):
        super().__init__()
        self.config = config
        self.features = PixelFeatures(config.conv_channels, proprio_dim, config.frames, config.trunk, config.encoder)
        self.policy = mlp(config.trunk, config.hidden, action_dim, config.head_layers, nn.ReLU)  # V-D4RL's actor
        if config.init == "drqv2":
            drqv2_init(self)
        self.optimizer = adam(self.parameters(), config.lr)

    def forward(self, pixels: torch.Tensor, proprio: torch.Tensor | None, augment: bool = False) -> torch.Tensor:
        return torch.tanh(self.policy(self.features(pixels, proprio, augment)))

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        predicted = self(batch["pixels"], batch["proprio"], augment=self.config.augment)
        loss = (predicted - batch["actions"]).pow(2).sum(-1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"bc_loss": loss.item()}

    def policy_for_task(self, device: torch.device) -> evaluation.FrameStackPolicy:
        return evaluation.FrameStackPolicy(lambda pixels, proprio: self(pixels, proprio), self.config.frames, device)

    def training_state(self) -> dict[str, Any]:
        return {"modules": self.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        self.optimizer.load_state_dict(state["optimizer"])


LEARNER = model_free.FrameStackLearner(NAME, "behavior cloning", BCConfig, BehaviorCloning)
build, train, load_policy = LEARNER.build, LEARNER.train, LEARNER.load_policy
