"""LOMPO (Rafailov et al., 2021): Latent Offline Model-Based Policy Optimization. The whole algorithm is here:
the variational model's update (Eq. 8), the latent rollouts with the uncertainty-penalized reward (Eq. 9), the
actor-critic update on a 50/50 mix of real and imagined latent transitions, and Algorithm 1's schedule.

Where the paper is silent, this follows the official code (github.com/rmrafailov/LOMPO, and V-D4RL's port of it,
`baselines/lompo/run.py`); where the paper states a choice and the code differs, the paper wins and the comment
at the line says so. Algorithm 1, as run by `train`:
1. `model_steps` updates of the variational model (Eq. 8). The model is then frozen. It is trained once per
   dataset, model config and seed, and shared by every run that needs the very same model (LOMPO and LMBRL differ
   only in the penalty): `algorithms/world_model_store.py` keeps it under `<runs root>/_world_models/...`;
2. the real latent buffer: every dataset episode encoded from its first step, each transition exactly once; the
   imagined buffer: filled to `initial_latent` transitions by rollouts of the initial actor plus exploration noise;
3. cycles of `ac_cycle` actor-critic updates; after each, one more real episode is encoded (round robin) and
   imagined rollouts start from every posterior state of one model batch, acting with the current actor plus
   exploration noise. Both buffers are FIFOs the size of the dataset.
LMBRL and Offline SLAC are this algorithm with parts switched off (`variant`). A saved model's diagnostics
(`lompo-bench diagnose`) are `algorithms/diagnostics.py`'s; acting in the task from pixels (`LatentPolicy`,
`load_policy`) is `algorithms/latent_policy.py`'s. The config (`LompoConfig`, its profiles, the world model's key)
is `algorithms/lompo_config.py`'s, torch-free so that planning needs no torch; both modules' names are re-exported.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lompo_bench.algorithms import diagnostics, metrics, runs, speed, world_model_store
from lompo_bench.algorithms.latent_buffer import ReplayBuffer
from lompo_bench.algorithms.latent_policy import LatentPolicy, load_policy

# The config, its profiles and the shared world model's key live in the torch-free `lompo_config` (planning reads
# them without torch); LOMPO's members all the same (`lompo.LompoConfig`, `lompo.make_config`, ...).
from lompo_bench.algorithms.lompo_config import (  # noqa: F401
    ACTORS,
    NAME,
    PENALTY_FLOORS,
    PENALTY_MEASURES,
    PROFILES,
    AlgorithmConfigs,
    LompoConfig,
    make_config,
    model_key,
    resolve_for_task,
    saved_config,
    world_model_key,
)
from lompo_bench.algorithms.nets import (
    KERAS_ADAM_EPS,
    RSSM,
    Actor,
    ConvDecoder,
    ConvEncoder,
    DeterministicActor,
    TwinCritic,
    adam,
    gaussian_kl,
    gaussian_log_prob,
    heads_disagreement,
    keras_init,
    member_spread,
    mlp,
)
from lompo_bench.algorithms.paper_sizes import decoder_channels
from lompo_bench.algorithms.speed import model_speed
from lompo_bench.algorithms.world_model_store import model_batches
from lompo_bench.data import EpisodeReader, TorchBatches, open_cache, to_torch
from lompo_bench.data.cache import DatasetCache
from lompo_bench.paths import root_of_run
from lompo_bench.progress import NoProgress, Progress

ENCODE_CHUNK = 1024  # frames per encoder call when encoding whole episodes (bounds activation memory)


class WorldModel(nn.Module):
    """The variational model of Eq. 8: conv encoder, RSSM (one GRU shared by the inference model and the K forward
    models' stochastic heads), decoder and reward head, with its own optimizer."""

    def __init__(self, config: LompoConfig, action_dim: int, proprio_dim: int, device: torch.device | None = None):
        super().__init__()
        c = config
        self.config = c
        device = torch.device(device or "cpu")
        self.encoder = ConvEncoder(c.conv_channels, proprio_dim)
        self.rssm = RSSM(self.encoder.out_dim, action_dim, c.deter, c.stoch, c.hidden, c.ensemble,
                         head_layers=c.head_layers)  # fmt: skip
        self.decoder = ConvDecoder(self.rssm.feature_dim, decoder_channels(c.conv_channels), proprio_dim, c.hidden)
        # "The reward reconstruction network is a two-layer fully connected network" (Appendix C), built as the
        # official code builds it: two hidden layers of `hidden` units, then the linear output.
        self.reward_head = mlp(self.rssm.feature_dim, c.hidden, 1, 3)
        keras_init(self)  # official: Keras's default initialisers in every layer
        # How it computes on `device` (speed.py): what "auto" became is kept here, for the run's records.
        self.speed = model_speed(c, device)
        self.to(device)
        if self.speed["channels_last"]:
            self.encoder.convs.to(memory_format=torch.channels_last)
            self.decoder.deconvs.to(memory_format=torch.channels_last)
        if c.compile:  # in place: the state dict keeps its keys, so checkpoints load either way
            self.encoder.compile()
            self.decoder.compile()
        self.optimizer = adam(self.parameters(), c.model_lr, KERAS_ADAM_EPS)

    def autocast(self) -> torch.autocast:
        return speed.autocast(self.reward_head[0].weight.device, self.speed["precision"])

    def embed(self, pixels: torch.Tensor, proprio: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's features of uint8 frames, computed at the model's precision, returned in fp32."""
        with self.autocast():
            return self.encoder(pixels, proprio).float()

    def decode(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The decoder's mean image (and normalized proprio) of latent features, at the model's precision, in fp32."""
        with self.autocast():
            image, proprio = self.decoder(features)
        return image.float(), None if proprio is None else proprio.float()

    def update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimizer step on Eq. 8's loss (`loss`), gradient norm clipped (official code)."""
        loss, losses = self.loss(batch, self.config.decode_fraction)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return {"model_loss": loss.item(), **losses}

    def loss(
        self, batch: dict[str, torch.Tensor], decode_fraction: float = 1.0
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Eq. 8 as the official code writes it: kl_scale x KL(inference || one forward model picked at random for
        each time step) minus the log-likelihoods of image, reward (and proprioception) under unit-variance
        Normals; no free nats. The NLLs below omit the Normals' constant (it has no gradient). The images of a
        `decode_fraction` of the time steps are decoded (1: all, as the official code).

        The window is the official one (Dreamer's layout): at each observation t the model is stepped by the action
        that led to it, `prev_actions` (at a window's first observation the dataset's previous action, zero only
        at an episode's start), and the reward head at t predicts the reward received on arriving there,
        `prev_rewards` (0 at an episode's start), for every t of the window."""
        c = self.config
        pixels, prev_actions, prev_rewards = batch["pixels"], batch["prev_actions"], batch["prev_rewards"]
        proprio = batch.get("proprio") if self.encoder.proprio_dim else None
        embed = self.embed(pixels, proprio)
        h, z, post_mean, post_std = self.rssm.observe(embed, prev_actions)
        batch_size, steps = h.shape[:2]
        prior_mean, prior_std = self.rssm.prior(h.reshape(batch_size * steps, -1))  # (K, B*T, S): every head
        post_mean, post_std = post_mean.reshape(1, batch_size * steps, -1), post_std.reshape(1, batch_size * steps, -1)
        kl_heads = gaussian_kl(post_mean, post_std, prior_mean, prior_std)  # (K, B*T)
        head = torch.randint(0, c.ensemble, (steps,), device=h.device)  # one random forward model per time step
        pick = head.repeat(batch_size)  # rows are (b, t) in order, so row b*T + t uses head[t]
        kl = kl_heads[pick, torch.arange(batch_size * steps, device=h.device)].mean()
        features = torch.cat([h, z], -1)
        decoded_features, decoded_pixels, decoded_proprio = features, pixels, proprio
        if decode_fraction < 1:
            # Departure from the official code (which decodes every frame), a speed lever (docs/PERFORMANCE.md):
            # the image (and proprio) NLL on a random subset of the window's time steps, the same for every
            # sequence. The mean over a uniform subset is an unbiased estimate of the mean over all frames.
            keep = max(1, round(steps * decode_fraction))
            decoded = torch.randperm(steps, device=h.device)[:keep]
            decoded_features, decoded_pixels = features[:, decoded], pixels[:, decoded]
            decoded_proprio = None if proprio is None else proprio[:, decoded]
        image, proprio_pred = self.decode(decoded_features)
        target = ConvEncoder.preprocess(decoded_pixels.reshape(-1, *pixels.shape[-3:])).reshape(image.shape)
        image_nll = 0.5 * (image - target).pow(2).sum((-3, -2, -1)).mean()
        reward_nll = 0.5 * (self.reward_head(features).squeeze(-1) - prev_rewards).pow(2).mean()
        loss = c.kl_scale * kl + image_nll + reward_nll
        per_head = kl_heads.detach().mean(1)  # every head's KL to the posterior: all must keep learning
        losses = {
            "image_nll": image_nll.item(),
            "reward_nll": reward_nll.item(),
            "kl": kl.item(),
            "kl_heads_mean": per_head.mean().item(),
            "kl_heads_max": per_head.max().item(),
        }
        if proprio_pred is not None:
            target_proprio = self.encoder.normalize_proprio(decoded_proprio)
            proprio_nll = 0.5 * (proprio_pred - target_proprio).pow(2).sum(-1).mean()
            loss = loss + proprio_nll
            losses["proprio_nll"] = proprio_nll.item()
        return loss, losses

    @torch.no_grad()
    def infer(
        self, pixels: torch.Tensor, proprio: torch.Tensor | None, prev_actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent states (h, z) (B, T, .) filtered from the first step of each sequence, stepped by the actions that
        led to each observation (`RSSM.observe`), z sampled from the inference model (as the official code's real
        and rollout-start states). Frames are encoded in chunks."""
        batch, steps = pixels.shape[:2]
        flat_pixels = pixels.reshape(batch * steps, *pixels.shape[2:])
        flat_proprio = proprio.reshape(batch * steps, -1) if self.encoder.proprio_dim else None
        embed = torch.cat(
            [
                self.embed(
                    flat_pixels[i : i + ENCODE_CHUNK],
                    None if flat_proprio is None else flat_proprio[i : i + ENCODE_CHUNK],
                )
                for i in range(0, batch * steps, ENCODE_CHUNK)
            ]
        ).reshape(batch, steps, -1)
        h, z, _, _ = self.rssm.observe(embed, prev_actions)
        return h, z

    def training_state(self) -> dict[str, Any]:
        return {"modules": self.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        self.optimizer.load_state_dict(state["optimizer"])


class Lompo(nn.Module):
    """The frozen world model, the latent buffers and the actor-critic on latent features."""

    def __init__(self, config: LompoConfig, model: WorldModel, real_capacity: int, latent_capacity: int):
        super().__init__()
        c = config
        self.config, self.model = c, model
        self.action_dim = model.rssm.action_dim
        feature_dim = model.rssm.feature_dim
        layers = c.ac_layers + 1  # hidden layers + the linear output
        if c.actor == "deterministic":
            self.actor: nn.Module = DeterministicActor(feature_dim, self.action_dim, c.ac_hidden, layers)
        else:
            self.actor = Actor(feature_dim, self.action_dim, c.ac_hidden, layers)
            self.log_alpha = nn.Parameter(torch.zeros(()))
            self.target_entropy = -float(self.action_dim)
        self.critic = TwinCritic(feature_dim, self.action_dim, c.ac_hidden, layers)
        # The official code builds its target critics as networks of their own, initialized independently of the
        # critics (not as copies); Polyak averaging then pulls them together.
        self.critic_target = TwinCritic(feature_dim, self.action_dim, c.ac_hidden, layers).requires_grad_(False)
        for module in (self.actor, self.critic, self.critic_target):
            keras_init(module)  # official: Keras's default initialisers
        device = next(model.parameters()).device
        self.to(device)
        self.device = device
        self.actor_optimizer = adam(self.actor.parameters(), c.actor_lr, KERAS_ADAM_EPS)
        self.critic_optimizer = adam(self.critic.parameters(), c.critic_lr, KERAS_ADAM_EPS)
        if c.actor == "sac":
            self.alpha_optimizer = adam([self.log_alpha], c.alpha_lr, KERAS_ADAM_EPS)
        self.real = ReplayBuffer(real_capacity, feature_dim, self.action_dim, device)
        self.imagined = ReplayBuffer(latent_capacity, feature_dim, self.action_dim, device)
        self.spread_floor = 0.0  # u_data of `penalty_floor="data"`, set by `train`; 0: the official penalty
        self.measure_scale = 1.0  # `penalty_measure="means"`: official spread / heads' means' std at the data's actions

    # ----- acting on latent features -----

    def act(self, features: torch.Tensor, explore: bool) -> torch.Tensor:
        """The actor's action; with `explore`, as in rollouts: the deterministic actor's action plus N(0,
        rollout_noise) clipped to [-1, 1] (official code), or SAC's sampled action."""
        if self.config.actor == "sac":
            return self.actor(features, deterministic=not explore)[0]
        action = self.actor(features)
        if explore:
            action = (action + self.config.rollout_noise * torch.randn_like(action)).clamp(-1.0, 1.0)
        return action

    # ----- the latent buffers -----

    @torch.no_grad()
    def add_real_episodes(self, reader: EpisodeReader, episodes: np.ndarray, born: int) -> None:
        """Encode whole dataset episodes from their first step and add every transition once: inferred state at
        t, the action taken there, its reward, the inferred state at t + 1 (official `_process_data_to_latent`).
        Episodes of one length are encoded together, a bounded number of frames at a time."""
        lengths = reader.cache.episode_lengths()[episodes]
        for length in dict.fromkeys(lengths.tolist()):
            group = episodes[lengths == length]
            per_chunk = max(1, 4 * ENCODE_CHUNK // (length + 1))
            for start in range(0, len(group), per_chunk):
                data = to_torch(reader.read(group[start : start + per_chunk]), self.device)
                actions = data["actions"]
                # The actions that led to each observation: none (zero) to the first, as the official layout.
                led_to = torch.cat([torch.zeros_like(actions[:, :1]), actions], 1)
                h, z = self.model.infer(data["pixels"], data["proprio"], led_to)
                features = torch.cat([h, z], -1)
                self.real.add(
                    born,
                    features=features[:, :-1],
                    actions=actions,
                    rewards=data["rewards"],
                    next_features=features[:, 1:],
                    terminals=data["terminals"],
                )

    @torch.no_grad()
    def add_imagined(self, batch: dict[str, torch.Tensor], born: int) -> dict[str, float]:
        """Roll the ensemble out from every posterior state of a model batch (Eq. 9), acting with the current actor
        plus exploration noise. At each step one forward model, drawn at random for the whole batch (official
        code), gives the next state; the reward is the mean over the forward models of the reward head at a next
        state sampled from each (the paper's "ensemble estimates"; the official code takes the reward at the one
        sampled next state), minus `penalty` times the std over the members of their log-likelihoods of the next
        state (official `log_prob` penalty)."""
        proprio = batch.get("proprio") if self.model.encoder.proprio_dim else None
        h, z = self.model.infer(batch["pixels"], proprio, batch["prev_actions"])
        penalties, raw_rewards, rewards = [], [], []
        for step in self.imagine(h.flatten(0, 1), z.flatten(0, 1), self.config.rollout_horizon, explore=True):
            self.imagined.add(
                born,
                features=step["features"],
                actions=step["actions"],
                rewards=step["rewards"],
                next_features=step["next_features"],
                terminals=torch.zeros_like(step["rewards"]),  # no task here terminates; imagined episodes never end
            )
            penalties.append(step["uncertainty"])
            raw_rewards.append(step["reward_model"])
            rewards.append(step["rewards"])
        penalty = torch.stack(penalties)
        return {
            "penalty_mean": penalty.mean().item(),  # the uncertainty u before lambda
            "penalty_std": penalty.std().item(),
            "reward_model": torch.stack(raw_rewards).mean().item(),  # imagined reward before the penalty
            "reward_penalized": torch.stack(rewards).mean().item(),
            **self.imagined.freshness(born, "imagined_"),
        }

    @torch.no_grad()
    def imagine(
        self, h: torch.Tensor, z: torch.Tensor, horizon: int, explore: bool
    ) -> Iterator[dict[str, torch.Tensor]]:
        """`horizon` imagined steps from latent states (h, z) (N, ...), acting with the actor (`explore`: with
        the rollouts' noise), as `add_imagined` takes them: per step the states' features, the actions, the heads'
        mean reward (`reward_model`), the uncertainty u, the penalized reward and the next states' features."""
        c = self.config
        rssm = self.model.rssm
        for _ in range(horizon):
            features = torch.cat([h, z], -1)
            action = self.act(features, explore=explore)
            h_next = rssm.step(h, z, action)
            mean, std = rssm.prior(h_next)  # (K, N, S)
            samples = mean + std * torch.randn_like(std)  # one next state from every forward model
            z_next = samples[int(torch.randint(0, c.ensemble, ()))]
            log_likelihood = gaussian_log_prob(z_next.unsqueeze(0), mean, std)  # (K, N)
            spread = member_spread(log_likelihood)  # the population std, as the official code
            uncertainty = self.uncertainty(spread, mean)
            member_features = torch.cat([h_next.expand(c.ensemble, -1, -1), samples], -1)
            raw_reward = self.model.reward_head(member_features).squeeze(-1).mean(0)
            reward = raw_reward - self.penalty_of(uncertainty)
            yield {
                "features": features,
                "actions": action,
                "reward_model": raw_reward,
                "uncertainty": uncertainty,
                "rewards": reward,
                "next_features": torch.cat([h_next, z_next], -1),
            }
            h, z = h_next, z_next

    def uncertainty(self, spread: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
        """u of Eq. 9 at one step: `spread`, the heads' log-likelihood std of the sampled next state (official), or
        with `penalty_measure="means"` the std over the heads of their `means` (K, N, S) of the next latent state,
        averaged over its dimensions and scaled to the official spread at the data's actions."""
        if self.config.penalty_measure == "means":
            return self.measure_scale * heads_disagreement(means)
        return spread

    def penalty_of(self, uncertainty: torch.Tensor) -> torch.Tensor:
        """What the rollouts subtract from the model's reward: lambda x u (u >= 0, so with no floor, official,
        exactly that), or lambda x max(0, u - u_data) with `penalty_floor="data"`."""
        return self.config.penalty * (uncertainty - self.spread_floor).clamp(min=0.0)

    # ----- actor-critic -----

    def _sample(self) -> tuple[dict[str, torch.Tensor], int]:
        c = self.config
        n_real = round(c.ac_batch * c.real_fraction)
        parts = [self.real.sample(n_real)] if n_real else []
        if n_real < c.ac_batch:
            parts.append(self.imagined.sample(c.ac_batch - n_real))
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}, n_real

    def ac_update(self) -> dict[str, float]:
        """One actor-critic update on a batch drawn `real_fraction` from the real buffer, the rest imagined:
        the critics' update (`_critic_loss`), the actor's (`_actor_loss`), SAC's temperature and the targets.
        In the official agent step's order: both losses are computed on the critics as they are before this
        update, then both optimizers step (the actor is not differentiated through the just-updated critics)."""
        c = self.config
        batch, n_real = self._sample()
        alpha = self.log_alpha.exp().detach() if c.actor == "sac" else None
        critic_loss, q_data = self._critic_loss(batch, alpha)
        actor_loss, action, log_prob, q_policy = self._actor_loss(batch["features"], alpha)
        # Both backward passes before either step: the actor's graph holds the pre-update critic weights.
        for optimizer in (self.critic_optimizer, self.actor_optimizer):
            optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        actor_loss.backward()
        for optimizer, module in ((self.critic_optimizer, self.critic), (self.actor_optimizer, self.actor)):
            torch.nn.utils.clip_grad_norm_(module.parameters(), c.grad_clip)
            optimizer.step()
        losses = {}
        if log_prob is not None:  # "sac": the temperature follows the target entropy
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optimizer.step()
            losses["alpha"] = alpha.item()
        with torch.no_grad():
            for target_param, param in zip(self.critic_target.parameters(), self.critic.parameters(), strict=True):
                target_param.lerp_(param, c.tau)
            if n_real:
                losses["q_real"] = q_data[:n_real].mean().item()
                # Overestimation shows as Q at the policy's actions far above Q at the data's actions on real states.
                losses["q_policy_minus_data"] = (q_policy - q_data)[:n_real].mean().item()
                # A stuck actor shows as its tanh output pinned at +-1 (no gradient left): the share of such outputs.
                losses["actor_saturated"] = (action[:n_real].detach().abs() > 0.99).float().mean().item()
            if n_real < c.ac_batch:
                losses["q_imagined"] = q_data[n_real:].mean().item()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), **losses}

    def _policy_action(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The actor's action at `features` in an update, with its log-probability ("sac": a sample) or None."""
        if self.config.actor == "sac":
            return self.actor(features)
        return self.actor(features), None

    def _critic_loss(
        self, batch: dict[str, torch.Tensor], alpha: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The twin critics' loss: both regressed on r + discount x min target Q at the actor's next action (official
        code; "sac": minus alpha x its log-probability). Also min(Q1, Q2) at the data's actions, for the logs."""
        c = self.config
        with torch.no_grad():
            next_action, next_log_prob = self._policy_action(batch["next_features"])
            target_q = torch.min(*self.critic_target(batch["next_features"], next_action))
            if next_log_prob is not None:
                target_q = target_q - alpha * next_log_prob
            target = batch["rewards"] + c.discount * (1 - batch["terminals"]) * target_q
        q1, q2 = self.critic(batch["features"], batch["actions"])
        with torch.no_grad():
            q_data = torch.min(q1, q2)
        return F.mse_loss(q1, target) + F.mse_loss(q2, target), q_data

    def _actor_loss(
        self, features: torch.Tensor, alpha: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """The actor's loss: it ascends min Q of the critics (official code: no entropy term; "sac": minus alpha x
        the log-probability). Also its action, log-probability and min Q there, for the logs and alpha."""
        action, log_prob = self._policy_action(features)
        # The actor's loss differentiates through the critic to the action only: the critic's weights are frozen
        # for it, which skips their gradients (they would be thrown away; the same update, ~10% less work).
        self.critic.requires_grad_(False)
        try:
            q_policy = torch.min(*self.critic(features, action))
        finally:
            self.critic.requires_grad_(True)
        loss = -q_policy.mean() if log_prob is None else (alpha * log_prob - q_policy).mean()
        return loss, action, log_prob, q_policy

    # ----- acting in the task -----

    def policy(self) -> LatentPolicy:
        return LatentPolicy(self)

    def training_state(self) -> dict[str, Any]:
        optimizers = ["actor_optimizer", "critic_optimizer"]
        if self.config.actor == "sac":
            optimizers.append("alpha_optimizer")
        return {
            "modules": self.state_dict(),
            "optimizers": {name: getattr(self, name).state_dict() for name in optimizers},
            "real": self.real.state_dict(),
            "imagined": self.imagined.state_dict(),
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        for name, optimizer_state in state["optimizers"].items():
            getattr(self, name).load_state_dict(optimizer_state)
        self.real.load_state_dict(state["real"])
        self.imagined.load_state_dict(state["imagined"])


# ----- Algorithm 1 -----


def build_model(config: LompoConfig, cache: DatasetCache, device: torch.device) -> WorldModel:
    model = WorldModel(config, cache.actions.shape[1], cache.proprio.shape[1], device)
    runs.set_proprio_stats(model.encoder, cache)
    return model


def build(config: LompoConfig, cache: DatasetCache, device: torch.device) -> Lompo:
    model = build_model(config, cache, device)
    return Lompo(config, model, config.real_buffer or cache.num_steps, config.latent_buffer or cache.num_steps)


def shared_world_model(
    dataset_id: str,
    config: LompoConfig,
    cache: DatasetCache,
    root: Path,
    seed: int,
    device: torch.device,
    progress: Progress,
    tensorboard: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Algorithm 1's model phase: the trained world model's weights and its record (loss history, seconds,
    folder), trained (`WorldModel.update`, diagnosed at each checkpoint) unless a run with the same model config
    and seed on the same dataset trained it already (`world_model_store.shared_world_model`)."""

    def build_trained() -> tuple[WorldModel, TorchBatches]:
        model = build_model(config, cache, device)
        return model, model_batches(model, cache, seed, device)

    return world_model_store.shared_world_model(
        dataset_id, config, root, seed, device, progress, build=build_trained, tensorboard=tensorboard,
        diagnose=lambda model: diagnostics.model_diagnostics(model, cache, config, seed),
        picture=diagnostics.video_strip,
    )  # fmt: skip


def train_world_model(
    *,
    dataset_id: str,
    task: str,
    config: LompoConfig,
    seed: int,
    device: torch.device,
    root: Path,
    progress: Progress | None = None,
    tensorboard: bool = False,
) -> Path:
    """Algorithm 1's model phase alone, as a job of its own (cluster stages): trains the shared model under the
    runs root `root` (or finds it trained) and returns its folder."""
    cache = open_cache(dataset_id, progress)
    config = resolve_for_task(config, task, cache.frame_shape[0])
    _, record = shared_world_model(dataset_id, config, cache, root, seed, device, progress or NoProgress(),
                                   tensorboard)  # fmt: skip
    return Path(record["folder"])


@dataclass
class PolicyState:
    """Where a run's policy phase stands: carried by its checkpoints, under these names in `RunState.data`."""

    phase: str  # "buffers", then "policy", then "evaluate" (then runs.finish_run's "done")
    ac_step: int  # actor-critic updates done
    next_episode: int  # the dataset episode the real buffer encodes next (round robin)
    spread_floor: float | None = None  # u_data of `penalty_floor="data"`, once measured
    measure_scale: float | None = None  # the scale of `penalty_measure="means"`, once measured

    @classmethod
    def of(cls, data: dict[str, Any]) -> PolicyState:
        return cls(**{field.name: data.get(field.name) for field in dataclasses.fields(cls)})

    def store(self, data: dict[str, Any]) -> None:
        data.update({key: value for key, value in dataclasses.asdict(self).items() if value is not None})


class PolicyPhase:
    """Algorithm 1 after the model phase, for an agent whose world model is loaded and frozen: the penalty's
    reference values, the initial buffers, the actor-critic cycles; `state` is written into the run's bookkeeping
    at every checkpoint."""

    def __init__(self, config: LompoConfig, cache: DatasetCache, agent: Lompo, batches: TorchBatches,
                 run: runs.RunState, progress: Progress, seed: int):  # fmt: skip
        self.config, self.cache, self.agent, self.batches = config, cache, agent, batches
        self.run, self.progress, self.seed = run, progress, seed
        self.reader = EpisodeReader(cache)
        self.state = PolicyState.of(run.data)

    def checkpoint(self) -> None:
        self.state.store(self.run.data)
        self.run.checkpoint(self.agent, self.batches)

    def measure_penalty_reference(self) -> None:
        """u_data (`penalty_floor="data"`) and the means' scale (`penalty_measure="means"`), measured once, on the
        model's diagnosis episodes with their own generator: training's random numbers untouched."""
        c, s = self.config, self.state
        floor, means = c.penalty_floor == "data", c.penalty_measure == "means"
        if (floor and s.spread_floor is None) or (means and s.measure_scale is None):
            values = diagnostics.model_diagnostics(self.agent.model, self.cache, c, self.seed)
            if floor:  # u_data in u's own units: with "means" its scale makes u at the data's actions the spread there
                s.spread_floor = values["spread_data"]
            if means:
                s.measure_scale = values["spread_data"] / values["disagreement_data"]
            s.store(self.run.data)
            self.run.log("diagnostics", 0, values)
        self.agent.spread_floor = 0.0 if s.spread_floor is None else s.spread_floor
        self.agent.measure_scale = 1.0 if s.measure_scale is None else s.measure_scale

    def add_real(self, count: int) -> None:
        """The next `count` dataset episodes (round robin) into the real buffer."""
        episodes = (self.state.next_episode + np.arange(count)) % self.cache.num_episodes
        self.agent.add_real_episodes(self.reader, episodes, self.state.ac_step)
        self.state.next_episode = int((self.state.next_episode + count) % self.cache.num_episodes)

    def add_imagined(self) -> None:
        """Rollouts from every posterior state of one model batch into the imagined buffer."""
        step = self.state.ac_step
        self.run.log("rollout", step, self.agent.add_imagined(self.batches.sample(), born=step))

    def fill_buffers(self) -> None:
        """Step 2: every real transition once; imagined ones from the initial actor."""
        agent, cache, progress = self.agent, self.cache, self.progress
        initial_latent = min(self.config.initial_latent, agent.imagined.capacity)
        progress.start("latent buffers", cache.num_episodes + initial_latent)
        self.add_real(cache.num_episodes)
        while agent.imagined.size < initial_latent:
            self.add_imagined()
            progress.update(cache.num_episodes + min(agent.imagined.size, initial_latent))
        progress.finish()
        self.state.phase = "policy"
        self.checkpoint()

    def actor_critic(self, task: str) -> None:
        """Step 3: actor-critic cycles, each followed by fresh real and imagined data; evaluations in `task`."""
        c, s = self.config, self.state
        self.progress.start("actor-critic", c.ac_updates)
        while s.ac_step < c.ac_updates:
            for _ in range(min(c.ac_cycle, c.ac_updates - s.ac_step)):
                losses = self.agent.ac_update()
                s.ac_step += 1
                if s.ac_step % c.log_every == 0:
                    self.run.log("policy", s.ac_step, losses)
                self.progress.update(s.ac_step, f"critic loss {losses['critic_loss']:.3g}")
            self.add_real(c.cycle_real_episodes)
            for _ in range(c.cycle_rollout_batches):
                self.add_imagined()
            cycle = math.ceil(s.ac_step / c.ac_cycle)
            finished = s.ac_step >= c.ac_updates
            if cycle % c.eval_every == 0 and not finished:
                self.run.evaluate(self.agent.policy(), task, c.eval_episodes, self.seed, s.ac_step)
            if cycle % c.checkpoint_cycles == 0 or finished:
                self.checkpoint()
        self.progress.finish()
        s.phase = "evaluate"
        self.checkpoint()


def train(
    *,
    dataset_id: str,
    task: str,
    profile: str,
    config: LompoConfig,
    folder: Path,
    seed: int,
    device: torch.device,
    progress: Progress | None = None,
    algo: str = NAME,
) -> dict[str, Any]:
    """Run Algorithm 1 on `dataset_id`, resuming from `folder`'s checkpoint; returns the final result record.
    `algo` names the record (LMBRL and Offline SLAC run this same schedule with parts switched off)."""
    progress = progress or NoProgress()
    cache = open_cache(dataset_id, progress)
    config = resolve_for_task(config, task, cache.frame_shape[0])
    runs.start_run(folder, config, algo=algo, dataset_id=dataset_id, task=task, seed=seed, device=device, cache=cache,
                   speed=model_speed(config, device))  # fmt: skip
    # 1. The variational model (trained once, shared), before anything else draws random numbers here.
    trained = None
    if not (folder / "checkpoint.pt").exists():
        trained = shared_world_model(dataset_id, config, cache, root_of_run(folder, dataset_id), seed, device,
                                     progress, (folder / metrics.TENSORBOARD).is_dir())  # fmt: skip
    torch.manual_seed(seed)  # the policy phase starts alike whether this process trained the model or loaded it
    agent = build(config, cache, device)
    batches = model_batches(agent.model, cache, seed, device)
    run = runs.RunState(folder, phase="buffers", ac_step=0, next_episode=0)
    if not run.resume(device, agent, batches):
        world_model_store.adopt(run, agent.model, *trained)  # its weights; its losses head this run's log too
    agent.model.requires_grad_(False)
    phase = PolicyPhase(config, cache, agent, batches, run, progress, seed)
    phase.measure_penalty_reference()
    # 2. Initial buffers. 3. Actor-critic cycles.
    if phase.state.phase == "buffers":
        phase.fill_buffers()
    if phase.state.phase == "policy":
        phase.actor_critic(task)
    # 4. Final evaluation: the result record.
    return runs.finish_run(run, algo=algo, dataset_id=dataset_id, task=task, profile=profile, seed=seed,
                           policy=agent.policy(), episodes=config.eval_episodes,
                           save=partial(run.checkpoint, agent, batches), progress=progress)  # fmt: skip


class Variant(NamedTuple):
    """The members of an algorithm module that is LOMPO with parts switched off (LMBRL, Offline SLAC)."""

    PROFILES: dict[str, LompoConfig]
    make_config: Callable[..., LompoConfig]
    train: Callable[..., dict[str, Any]]
    load_policy: Callable[[Path, torch.device], LatentPolicy]
    world_model_key: Callable[..., str]
    train_world_model: Callable[..., Path]


def variant(algorithm: AlgorithmConfigs) -> Variant:
    """The algorithm whose configs are `algorithm` (LOMPO's with parts switched off: `lompo_config.variant`): its
    profiles, and LOMPO's keyword-only `train` (its records named after it), policy loading and model phase."""
    return Variant(algorithm.PROFILES, algorithm.make_config, partial(train, algo=algorithm.NAME), load_policy,
                   world_model_key, train_world_model)  # fmt: skip
