"""DrQ+BC from pixels: V-D4RL's strongest model-free pixel baseline (Lu et al., 2022); not one of the paper's
algorithms. The whole update is `DrQBC.update`.

TD3+BC (Fujimoto & Gu, 2021) over a DrQ-v2 observation encoder: twin critics regress a one-step target whose
next action is the actor's plus clipped Gaussian noise (target policy smoothing); the actor maximises
lambda * Q(s, pi(s)) while staying near the data's action, loss = -lambda * mean Q + mean (pi(s) - a)^2 with
lambda = alpha / mean |Q| (held constant in the gradient), so the Q term's scale does not depend on the return's.
As in DrQ-v2, one conv encoder over stacked frames with random-shift augmentation is trained by the critic only,
the actor and the critic each own a trunk (Linear, LayerNorm, tanh) over its output, the next observation is
encoded by the online encoder without gradient, and the target critic (trunk and Q heads) follows by Polyak
averaging.

Built only on what every algorithm may use: `nets` (the conv encoder with its trunk, MLPs, twin critics), the data
API (`TransitionSampler`), `runs` and the model-free loop (`model_free.train_model_free`: checkpoints, evaluations),
`evaluation.FrameStackPolicy`. Where ours departs from V-D4RL's `drqbc/drqv2.py`, the line says so; the larger
departures: the conv layers are Appendix C's for the image size (BC's and CQL's encoder, so the three compare on
one encoder; DrQ-v2's is four 3x3 convolutions of 32 channels at 84 px) and terminal transitions cut the bootstrap
(V-D4RL's DMC data has none). Activations (ReLU) and initialisation (orthogonal) are DrQ-v2's, as V-D4RL's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lompo_bench.algorithms import configs, evaluation, model_free
from lompo_bench.algorithms.configs import Count, NonNegFloat, NonNegInt, Part, PositiveFloat, Share
from lompo_bench.algorithms.nets import PixelFeatures, TwinCritic, adam, drqv2_init, mlp

NAME = "drqbc"


@dataclass(frozen=True)
class DrQBCConfig:
    # Sources are files of conglu1997/v-d4rl's drqbc/ (cfgs/config.yaml, cfgs/algo/drqv2.yaml,
    # cfgs/task/offline_dmc.yaml, drqv2.py); "ours" where V-D4RL has no such setting.
    conv_channels: tuple[Count, ...] | None = None  # None: Appendix C's encoder for the image size (module doc)
    conv_scale: PositiveFloat = 1.0  # multiplies the paper's channels when conv_channels is None
    frames: Count = 3  # config.yaml frame_stack
    trunk: Count = 50  # config.yaml feature_dim: the actor's and the critic's trunk width
    hidden: Count = 1024  # drqv2.yaml hidden_dim: actor and each critic, 2 hidden layers (3 linear layers)
    steps: Count = (
        550_000  # updates: offline_dmc.yaml num_train_frames 1.1M loop steps, drqv2.yaml update_every_steps 2
    )
    batch: Count = 256  # config.yaml batch_size
    lr: PositiveFloat = 3e-4  # offline_dmc.yaml lr (over config.yaml's 1e-4): encoder, critic and actor
    discount: Share = 0.99  # config.yaml discount; one-step targets (offline_dmc.yaml nstep 1)
    tau: Part = 0.01  # drqv2.yaml critic_target_tau
    alpha: NonNegFloat = 2.5  # config.yaml bc_weight: TD3+BC's alpha in lambda = alpha / mean |Q|
    # The actor's noise std falls linearly from noise_start to noise_end over noise_decay updates
    # (offline_dmc.yaml stddev_schedule linear(1.0,0.1,250000), counted in loop steps, an update every second one).
    noise_start: NonNegFloat = 1.0  # offline_dmc.yaml stddev_schedule
    noise_end: NonNegFloat = 0.1  # offline_dmc.yaml stddev_schedule
    noise_decay: NonNegInt = 125_000  # offline_dmc.yaml stddev_schedule's 250000 loop steps = 125K updates
    noise_clip: NonNegFloat = 0.3  # drqv2.yaml stddev_clip: the noise is clipped to +-0.3 (TD3+BC: std 0.2, clip 0.5)
    # drqv2.py update_actor takes the actor's loss at a noisy action (sampled, noise clipped); TD3+BC at pi(s).
    actor_noise: bool = True  # drqv2.py update_actor: dist.sample(clip=stddev_clip)
    # TD3+BC's delayed policy updates (policy_freq 2) are actor_every=2; V-D4RL updates the actor with every critic
    # update (drqv2.py DrQV2Agent.update), which the paper profile follows.
    actor_every: Count = 1  # drqv2.py DrQV2Agent.update: update_actor after every update_critic
    augment: bool = True  # drqv2.py RandomShiftsAug(pad=4): random shift by up to 4 px, obs and next obs
    eval_every: Count = 5_000  # config.yaml eval_every_frames 10000 loop steps = 5,000 updates
    eval_episodes: Count = 10  # config.yaml num_eval_episodes
    checkpoint_every: Count = 2_000  # ours (V-D4RL saves no snapshot offline: config.yaml save_snapshot False)
    log_every: Count = 100  # ours


PROFILES = {
    "paper": DrQBCConfig(),
    # The cpu rule of our BC and CQL: half-width convs, batch 64, every other size as in the paper profile, and
    # the updates the learner needs within about an hour on one core; DrQ+BC learns by TD as CQL does and takes
    # CQL's 30K (timings: docs/PERFORMANCE.md, "The model-free learners' cpu profiles"). The noise schedule keeps
    # its share of training (125K of 550K updates: 6.8K of 30K).
    "cpu": DrQBCConfig(
        conv_scale=0.5,
        steps=30_000,
        batch=64,
        noise_decay=6_800,
        eval_every=5_000,
        eval_episodes=10,
        checkpoint_every=1_000,
    ),
    "smoke": DrQBCConfig(
        conv_scale=0.125,
        trunk=8,
        hidden=16,
        steps=100,
        batch=16,
        noise_decay=25,
        eval_every=50,
        eval_episodes=1,
        checkpoint_every=25,
        log_every=5,
    ),
}


def make_config(profile: str, **overrides: Any) -> DrQBCConfig:
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


def _trunk(in_dim: int, width: int) -> nn.Sequential:
    """DrQ-v2's projection of the conv features (Linear, LayerNorm, tanh), the shape of `PixelFeatures.trunk`."""
    return nn.Sequential(nn.Linear(in_dim, width), nn.LayerNorm(width), nn.Tanh())


class DrQBC(nn.Module):
    def __init__(self, config: DrQBCConfig, action_dim: int, proprio_dim: int):
        super().__init__()
        self.config = config
        # The encoder and the critic's trunk; the critic's optimizer trains both (drqv2.py: encoder_opt and
        # critic_opt, one learning rate, stepped on the critic's loss).
        self.features = PixelFeatures(config.conv_channels, proprio_dim, config.frames, config.trunk)
        self.critic = TwinCritic(config.trunk, action_dim, config.hidden, act=nn.ReLU)
        self.actor_trunk = _trunk(self.features.encoder.out_dim, config.trunk)
        self.actor = mlp(config.trunk, config.hidden, action_dim, 3, nn.ReLU)
        drqv2_init(self)  # drqv2.py: `self.apply(utils.weight_init)` in every network, before the targets copy them
        self.target_trunk = copy.deepcopy(self.features.trunk).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        # Updates done: the noise schedule and the actor's delay read it; a buffer, so checkpoints carry it.
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self.critic_optimizer = adam([*self.features.parameters(), *self.critic.parameters()], config.lr)
        self.actor_optimizer = adam([*self.actor_trunk.parameters(), *self.actor.parameters()], config.lr)

    def encode(self, pixels: torch.Tensor, proprio: torch.Tensor | None, augment: bool = False) -> torch.Tensor:
        """The conv encoder's features of stacked frames (and proprio, where the task has it)."""
        encoder = self.features.encoder
        return encoder(pixels, proprio if encoder.proprio_dim else None, augment)

    def policy(self, embedding: torch.Tensor) -> torch.Tensor:
        """The actor's deterministic action in (-1, 1): the mean V-D4RL's actor samples around."""
        return torch.tanh(self.actor(self.actor_trunk(embedding)))

    def noise_std(self) -> float:
        """The actor's noise std at this update: linear from noise_start to noise_end over noise_decay updates."""
        c = self.config
        mix = min(1.0, int(self.updates) / c.noise_decay) if c.noise_decay > 0 else 1.0
        return (1.0 - mix) * c.noise_start + mix * c.noise_end

    def with_noise(self, action: torch.Tensor, std: float) -> torch.Tensor:
        """`action` plus N(0, std) noise clipped to +-noise_clip, kept in [-1, 1]; the clamp passes gradients
        through unchanged (as V-D4RL's truncated normal does), so the actor learns at the bound too."""
        noise = (torch.randn_like(action) * std).clamp(-self.config.noise_clip, self.config.noise_clip)
        noisy = action + noise
        return noisy + (noisy.clamp(-1.0, 1.0) - noisy).detach()

    def actor_loss(self, embedding: torch.Tensor, data_actions: torch.Tensor, std: float) -> dict[str, torch.Tensor]:
        """TD3+BC's actor loss on detached encoder features: -lambda * mean Q(s, pi(s)) + mean (pi(s) - a)^2,
        lambda = alpha / mean |Q| as a constant. Q is the smaller of the twin critics (V-D4RL's drqv2.py; TD3+BC
        takes Q1); the squared error is averaged over batch and action dimensions, as TD3+BC's F.mse_loss (our BC
        sums over the action dimensions). The critic's weights get no gradient from it."""
        action = self.policy(embedding)
        if self.config.actor_noise:
            action = self.with_noise(action, std)
        self.features.trunk.requires_grad_(False)
        self.critic.requires_grad_(False)
        try:
            q = torch.min(*self.critic(self.features.trunk(embedding), action))
        finally:
            self.features.trunk.requires_grad_(True)
            self.critic.requires_grad_(True)
        lam = self.config.alpha / q.abs().mean().detach()
        bc = F.mse_loss(action, data_actions)
        return {"loss": -lam * q.mean() + bc, "bc": bc, "lambda": lam, "q": q.mean()}

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        std = self.noise_std()
        embedding = self.encode(batch["pixels"], batch["proprio"], c.augment)
        with torch.no_grad():
            # The online encoder, augmented, no gradient (drqv2.py update: V-D4RL keeps no target encoder).
            next_embedding = self.encode(batch["next_pixels"], batch["next_proprio"], c.augment)
            next_action = self.with_noise(self.policy(next_embedding), std)  # target policy smoothing
            target_q = torch.min(*self.target_critic(self.target_trunk(next_embedding), next_action))
            target = batch["rewards"] + c.discount * (1 - batch["terminals"].float()) * target_q
        q1, q2 = self.critic(self.features.trunk(embedding), batch["actions"])
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()
        losses = {"critic_loss": critic_loss.item(), "q": q1.mean().item(), "target_q": target.mean().item()}

        if int(self.updates) % c.actor_every == 0:
            # After the critic's step, on the features from before it, as drqv2.py orders the two updates.
            actor = self.actor_loss(embedding.detach(), batch["actions"], std)
            self.actor_optimizer.zero_grad(set_to_none=True)
            actor["loss"].backward()
            self.actor_optimizer.step()
            losses |= {
                "actor_loss": actor["loss"].item(),
                "bc_loss": actor["bc"].item(),
                "lambda": actor["lambda"].item(),
                "noise_std": std,
            }
        with torch.no_grad():
            for online, target_net in ((self.features.trunk, self.target_trunk), (self.critic, self.target_critic)):
                for target_param, param in zip(target_net.parameters(), online.parameters(), strict=True):
                    target_param.lerp_(param, c.tau)
        self.updates += 1
        return losses

    def act(self, pixels: torch.Tensor, proprio: torch.Tensor | None) -> torch.Tensor:
        return self.policy(self.encode(pixels, proprio))  # the mean action, as V-D4RL evaluates (eval_mode)

    def policy_for_task(self, device: torch.device) -> evaluation.FrameStackPolicy:
        return evaluation.FrameStackPolicy(self.act, self.config.frames, device)

    def training_state(self) -> dict[str, Any]:
        optimizers = ("critic_optimizer", "actor_optimizer")
        return {
            "modules": self.state_dict(),
            "optimizers": {name: getattr(self, name).state_dict() for name in optimizers},
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        for name, optimizer_state in state["optimizers"].items():
            getattr(self, name).load_state_dict(optimizer_state)


LEARNER = model_free.FrameStackLearner(NAME, "DrQ+BC", DrQBCConfig, DrQBC)
build, train, load_policy = LEARNER.build, LEARNER.train, LEARNER.load_policy
