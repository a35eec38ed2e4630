"""CQL from pixels, the paper's model-free offline baseline: "Conservative Q-Learning ... trained from raw image
observations" (Section V-A). The whole update is `ConservativeSAC.update`.

SAC with CQL(H)'s conservative term (Kumar et al., 2020): the critic also minimizes
logsumexp_a Q(s, a) - Q(s, a_data), the log-sum-exp estimated from uniform actions and policy actions with
importance weights. Pixels enter as DrQ / V-D4RL do: a conv encoder (Appendix C's, per image size) over stacked
frames with random-shift augmentation, trained through the critic only; the actor reads detached features;
target critic and target encoder follow by Polyak averaging. The paper gives no CQL details; these choices are
the pixel-CQL of V-D4RL.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lompo_bench.algorithms import configs, evaluation, model_free
from lompo_bench.algorithms.configs import Count, NonNegFloat, Part, PositiveFloat, Share
from lompo_bench.algorithms.nets import Actor, PixelFeatures, TwinCritic, adam, drqv2_init

NAME = "cql"


@dataclass(frozen=True)
class CQLConfig:
    conv_channels: tuple[Count, ...] | None = None  # None: Appendix C's encoder for the dataset's image size
    conv_scale: PositiveFloat = 1.0  # multiplies the paper's channels when conv_channels is None
    frames: Count = 3  # frame stack (DrQ, V-D4RL)
    trunk: Count = 50  # DrQ's projection of the conv features (Linear, LayerNorm, tanh)
    hidden: Count = 256  # actor and critic: 3 layers of 256 (Appendix C)
    steps: Count = 100_000  # ours (V-D4RL: 100K-1M)
    batch: Count = 256
    actor_lr: PositiveFloat = 3e-4
    critic_lr: PositiveFloat = 3e-4
    alpha_lr: PositiveFloat = 3e-4
    discount: Share = 0.99
    tau: Part = 5e-3  # critic and encoder targets
    cql_weight: NonNegFloat = 10.0  # weight of the conservative term (CQL's alpha): V-D4RL's value for pixels
    cql_actions: Count = 10  # sampled actions per state for the log-sum-exp (CQL's default)
    backup_entropy: bool = False  # entropy term in the Bellman target: off, as in CQL's official offline runs
    augment: bool = True  # random shift by up to 4 px
    eval_every: Count = 10_000
    eval_episodes: Count = 10
    checkpoint_every: Count = 2_000
    log_every: Count = 100


PROFILES = {
    "paper": CQLConfig(),
    # cpu: 30K updates, most of the profile's hour: CQL from pixels needs far more updates than BC
    # (docs/PERFORMANCE.md, "The model-free learners' cpu profiles").
    "cpu": CQLConfig(
        conv_scale=0.5, steps=30_000, batch=64, eval_every=5_000, eval_episodes=10, checkpoint_every=1_000
    ),
    "smoke": CQLConfig(
        conv_scale=0.125,
        trunk=8,
        hidden=16,
        steps=100,
        batch=16,
        cql_actions=2,
        eval_every=50,
        eval_episodes=1,
        checkpoint_every=25,
        log_every=5,
    ),
}


def make_config(profile: str, **overrides: Any) -> CQLConfig:
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


class ConservativeSAC(nn.Module):
    def __init__(self, config: CQLConfig, action_dim: int, proprio_dim: int):
        super().__init__()
        self.config, self.action_dim = config, action_dim
        self.features = PixelFeatures(config.conv_channels, proprio_dim, config.frames, config.trunk)
        # V-D4RL's DrQ+CQL networks (DrQ-v2's): ReLU and orthogonal initialisation, before the targets copy them.
        self.critic = drqv2_init(TwinCritic(config.trunk, action_dim, config.hidden, act=nn.ReLU))
        self.actor = drqv2_init(Actor(config.trunk, action_dim, config.hidden, act=nn.ReLU))
        drqv2_init(self.features)
        self.target_features = copy.deepcopy(self.features).requires_grad_(False)
        self.target_critic = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.zeros(()))
        self.target_entropy = -float(action_dim)
        self.critic_optimizer = adam([*self.features.parameters(), *self.critic.parameters()], config.critic_lr)
        self.actor_optimizer = adam(self.actor.parameters(), config.actor_lr)
        self.alpha_optimizer = adam([self.log_alpha], config.alpha_lr)

    def _conservative_gap(self, features: torch.Tensor, q_data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """CQL(H): logsumexp over actions of Q, estimated with importance-weighted uniform and policy samples,
        minus Q of the dataset's action; summed over the two critics."""
        n, k = features.shape[0], self.config.cql_actions
        # Live features, as Q at the data's action sees them: both sides of the gap reach the encoder the same way
        # (V-D4RL's drqbc/cql.py). Detaching only this side left the encoder one conservative gradient, the one
        # pushing Q(s, a_data) up.
        repeated = features.unsqueeze(1).expand(n, k, -1).reshape(n * k, -1)
        uniform = torch.rand(n * k, self.action_dim, device=features.device) * 2 - 1
        uniform_log_density = self.action_dim * math.log(0.5)
        with torch.no_grad():
            policy_actions, policy_log_prob = self.actor(repeated.detach())
        gap = torch.zeros((), device=features.device)
        q_uniform = self.critic(repeated, uniform)
        q_policy = self.critic(repeated, policy_actions)
        for i in range(2):
            stacked = torch.cat(
                [
                    (q_uniform[i] - uniform_log_density).view(n, k),
                    (q_policy[i] - policy_log_prob).view(n, k),
                ],
                1,
            )
            gap = gap + (torch.logsumexp(stacked, 1) - math.log(2 * k) - q_data[i]).mean()
        return gap

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        c = self.config
        alpha = self.log_alpha.exp().detach()
        features = self.features(batch["pixels"], batch["proprio"], c.augment)
        with torch.no_grad():
            next_features = self.target_features(batch["next_pixels"], batch["next_proprio"], c.augment)
            next_action, next_log_prob = self.actor(next_features)
            target_q = torch.min(*self.target_critic(next_features, next_action))
            if c.backup_entropy:
                target_q = target_q - alpha * next_log_prob
            target = batch["rewards"] + c.discount * (1 - batch["terminals"].float()) * target_q
        q = self.critic(features, batch["actions"])
        bellman = F.mse_loss(q[0], target) + F.mse_loss(q[1], target)
        gap = self._conservative_gap(features, q)
        critic_loss = bellman + c.cql_weight * gap
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        detached = features.detach()
        action, log_prob = self.actor(detached)
        actor_loss = (alpha * log_prob - torch.min(*self.critic(detached, action))).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()
        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()
        with torch.no_grad():
            for online, target_net in ((self.features, self.target_features), (self.critic, self.target_critic)):
                for target_param, param in zip(target_net.parameters(), online.parameters(), strict=True):
                    target_param.lerp_(param, c.tau)
        return {
            "critic_loss": critic_loss.item(),
            "bellman": bellman.item(),
            "cql_gap": gap.item(),
            "actor_loss": actor_loss.item(),
            "alpha": alpha.item(),
        }

    def act(self, pixels: torch.Tensor, proprio: torch.Tensor | None) -> torch.Tensor:
        action, _ = self.actor(self.features(pixels, proprio, augment=False), deterministic=True)
        return action

    def policy_for_task(self, device: torch.device) -> evaluation.FrameStackPolicy:
        return evaluation.FrameStackPolicy(self.act, self.config.frames, device)

    def training_state(self) -> dict[str, Any]:
        optimizers = ("critic_optimizer", "actor_optimizer", "alpha_optimizer")
        return {
            "modules": self.state_dict(),
            "optimizers": {name: getattr(self, name).state_dict() for name in optimizers},
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        for name, optimizer_state in state["optimizers"].items():
            getattr(self, name).load_state_dict(optimizer_state)


def _copy_stats_to_target(agent: ConservativeSAC) -> None:
    agent.target_features.load_state_dict(agent.features.state_dict())  # the proprio stats too


LEARNER = model_free.FrameStackLearner(NAME, "CQL", CQLConfig, ConservativeSAC, after_stats=_copy_stats_to_target)
build, train, load_policy = LEARNER.build, LEARNER.train, LEARNER.load_policy
