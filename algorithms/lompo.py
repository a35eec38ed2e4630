"""LOMPO (Rafailov et al., 2021): Latent Offline Model-Based Policy Optimization. The whole algorithm is here:
the variational model's update (Eq. 8), the latent rollouts with the uncertainty-penalized reward (Eq. 9), the
SAC update on a 50/50 mix of real and imagined latent transitions, and Algorithm 1's schedule.

Algorithm 1, as run by `train`:
1. `model_steps` updates of the variational model on sequence batches of the dataset (the model is then frozen);
2. fill the real latent buffer with `initial_real` transitions inferred from the data, and the imagined buffer with
   `initial_latent` transitions from `rollout_horizon`-step rollouts of uniform random actions;
3. `epochs` times: `ac_steps` SAC updates on batches half real, half imagined; then add `epoch_real_batches`
   inferred batches and `epoch_latent_batches` rollout batches with the current policy.

Where ours departs from the paper or leaves a choice open, the comment at the field or line says so.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from algorithms import runs
from algorithms.nets import (
    RSSM,
    Actor,
    ConvDecoder,
    ConvEncoder,
    TwinCritic,
    gaussian_kl,
    gaussian_log_prob,
    mlp,
    paper_width,
    scaled_conv_channels,
)
from lompo_bench.data import SequenceSampler, open_cache, to_torch
from lompo_bench.data.cache import DatasetCache

NAME = "lompo"


@dataclass(frozen=True)
class LompoConfig:
    # Variational model (Appendix C). None means the paper's size for the dataset's task.
    conv_channels: tuple[int, ...] | None = None  # encoder; the decoder mirrors it (Appendix C)
    conv_scale: float = 1.0  # multiplies the paper's channels when conv_channels is None (smaller profiles)
    deter: int | None = None  # GRU units: 256, Pen 512
    hidden: int | None = None  # forward / inference MLP units: 256, Pen 512
    stoch: int = 32  # stochastic latent size (not stated in the paper; the official code's order of size)
    ensemble: int = 7  # forward models sharing the GRU (official code)
    model_steps: int = 25_000  # official code
    model_batch: int = 64  # sequences per model batch (official code: 64 x 50)
    seq_len: int = 50
    model_lr: float = 6e-4
    model_grad_clip: float = 100.0
    free_nats: float = 3.0  # Dreamer's free nats on the KL term (not stated in the paper)
    kl_scale: float = 1.0
    # Latent buffers and rollouts (Eq. 9).
    real_buffer: int = 500_000  # transitions; ours (the paper gives no sizes)
    latent_buffer: int = 500_000
    initial_real: int = 100_000
    initial_latent: int = 100_000
    rollout_starts: int = 1024  # start states per rollout batch, drawn from inferred states; ours
    rollout_horizon: int = 5  # official code
    penalty: float = 5.0  # lambda (official code)
    # Actor-critic: SAC on latent features; 3 layers of 256 units (Appendix C).
    epochs: int = 100  # ours: 100 x 5,000 = 500K actor-critic updates
    ac_steps: int = 5_000
    epoch_real_batches: int = 1
    epoch_latent_batches: int = 1
    ac_batch: int = 256  # official code: 256
    real_fraction: float = 0.5  # share of real transitions in each batch: the paper's fixed 50/50 mix
    ac_hidden: int = 256
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    discount: float = 0.99
    tau: float = 5e-3
    # Evaluation and bookkeeping.
    eval_every: int = 10  # epochs between evaluations in the task
    eval_episodes: int = 10
    checkpoint_every: int = 500  # model updates between checkpoints (the policy phase saves every epoch)
    log_every: int = 50  # updates between entries of the loss history


PROFILES: dict[str, LompoConfig] = {
    # The paper's sizes (with the official code's values where the paper is silent). GPU-scale: ~80M frames.
    "paper": LompoConfig(),
    # Learns in under an hour on 2 CPU cores: half-width convs, 128-unit model, 16 x 32 batches.
    "cpu": LompoConfig(
        conv_scale=0.5,
        deter=128,
        hidden=128,
        stoch=16,
        model_steps=3_000,
        model_batch=16,
        seq_len=32,
        real_buffer=100_000,
        latent_buffer=100_000,
        initial_real=20_000,
        initial_latent=20_000,
        rollout_starts=512,
        epochs=20,
        ac_steps=1_000,
        eval_every=5,
        eval_episodes=5,
        checkpoint_every=250,
    ),
    # Seconds: every code path, tiny numbers. For tests and the demo.
    "smoke": LompoConfig(
        conv_scale=0.125,
        deter=16,
        hidden=16,
        stoch=4,
        ensemble=3,
        model_steps=60,
        model_batch=8,
        seq_len=8,
        real_buffer=2_000,
        latent_buffer=2_000,
        initial_real=100,
        initial_latent=100,
        rollout_starts=16,
        rollout_horizon=3,
        epochs=2,
        ac_steps=10,
        ac_batch=32,
        ac_hidden=16,
        eval_every=1,
        eval_episodes=1,
        checkpoint_every=20,
        log_every=4,
    ),
}


def make_config(profile: str, **overrides: Any) -> LompoConfig:
    return runs.pick_profile(NAME, PROFILES, profile, **overrides)


def resolve_for_task(config: LompoConfig, task: str) -> LompoConfig:
    """Fill the sizes the config leaves to the task (Appendix C), so the saved config is the one that ran."""
    return dataclasses.replace(
        config,
        conv_channels=scaled_conv_channels(config.conv_channels, config.conv_scale, task),
        deter=config.deter or paper_width(task),
        hidden=config.hidden or paper_width(task),
    )


def decoder_channels(conv_channels: tuple[int, ...]) -> tuple[int, ...]:
    """Appendix C's decoders mirror the encoders: [32, 64, 128, 256] -> [128, 64, 32, 3] and
    [32, 64, 128, 256, 256] -> [128, 64, 32, 32, 3]."""
    return (*reversed(conv_channels[:3]), *[conv_channels[0]] * (len(conv_channels) - 4), 3)


class ReplayBuffer:
    """A ring buffer of latent transitions (features, action, reward, next features, terminal) on the device."""

    def __init__(self, capacity: int, feature_dim: int, action_dim: int, device: torch.device):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.data = {
            "features": torch.zeros(capacity, feature_dim, device=device),
            "actions": torch.zeros(capacity, action_dim, device=device),
            "rewards": torch.zeros(capacity, device=device),
            "next_features": torch.zeros(capacity, feature_dim, device=device),
            "terminals": torch.zeros(capacity, device=device),
        }

    def add(self, **batch: torch.Tensor) -> None:
        n = batch["rewards"].numel()
        index = (self.cursor + torch.arange(n, device=batch["rewards"].device)) % self.capacity
        for key, value in batch.items():
            self.data[key][index] = value.detach().reshape(n, *self.data[key].shape[1:]).to(self.data[key].dtype)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        index = torch.randint(0, self.size, (n,), device=self.data["rewards"].device)
        return {key: value[index] for key, value in self.data.items()}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "cursor": self.cursor, "data": {k: v[: self.size] for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.cursor = state["size"], state["cursor"]
        for key, value in state["data"].items():
            self.data[key][: self.size] = value


class Lompo(torch.nn.Module):
    """The variational model (encoder, RSSM with forward ensemble, decoder, reward head) and the latent SAC agent."""

    def __init__(self, config: LompoConfig, action_dim: int, proprio_dim: int, device: torch.device):
        super().__init__()
        c = config
        self.config, self.action_dim, self.device = c, action_dim, device
        self.encoder = ConvEncoder(c.conv_channels, proprio_dim)
        self.rssm = RSSM(self.encoder.out_dim, action_dim, c.deter, c.stoch, c.hidden, c.ensemble)
        feature_dim = self.rssm.feature_dim
        self.decoder = ConvDecoder(feature_dim, decoder_channels(c.conv_channels), proprio_dim, c.hidden)
        self.reward_head = mlp(feature_dim, c.hidden, 1, 2)  # "a two-layer fully connected network"
        self.actor = Actor(feature_dim, action_dim, c.ac_hidden)
        self.critic = TwinCritic(feature_dim, action_dim, c.ac_hidden)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.log_alpha = torch.nn.Parameter(torch.zeros(()))
        self.target_entropy = -float(action_dim)
        self.to(device)
        self.model_params = [
            *self.encoder.parameters(),
            *self.rssm.parameters(),
            *self.decoder.parameters(),
            *self.reward_head.parameters(),
        ]
        self.model_optimizer = torch.optim.Adam(self.model_params, lr=c.model_lr)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=c.actor_lr)
        self.critic_optimizer = torch.optim.Adam(self.critic.parameters(), lr=c.critic_lr)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=c.alpha_lr)
        self.real = ReplayBuffer(c.real_buffer, feature_dim, action_dim, device)
        self.imagined = ReplayBuffer(c.latent_buffer, feature_dim, action_dim, device)

    # ----- variational model (Eq. 8) -----

    def model_update(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step on Eq. 8: reconstruction of images (and proprioception) and rewards, plus the KL of the
        inference model against one forward model picked at random for each time step."""
        c = self.config
        pixels, actions, rewards = batch["pixels"], batch["actions"], batch["rewards"]
        proprio = batch.get("proprio") if self.encoder.proprio_dim else None
        embed = self.encoder(pixels, proprio)
        h, z, post_mean, post_std = self.rssm.observe(embed, actions)
        batch_size, steps = h.shape[:2]
        prior_mean, prior_std = self.rssm.prior(h.reshape(batch_size * steps, -1))  # (K, B*T, S): every head
        head = torch.randint(0, c.ensemble, (steps,), device=h.device)  # one random forward model per time step
        pick = head.repeat(batch_size)  # rows are (b, t) in order, so row b*T + t uses head[t]
        rows = torch.arange(batch_size * steps, device=h.device)
        prior_mean = prior_mean[pick, rows].reshape(batch_size, steps, -1)
        prior_std = prior_std[pick, rows].reshape(batch_size, steps, -1)
        kl = gaussian_kl(post_mean, post_std, prior_mean, prior_std).mean()
        features = torch.cat([h, z], -1)
        image, proprio_pred = self.decoder(features)
        target = ConvEncoder.preprocess(pixels.reshape(-1, *pixels.shape[-3:])).reshape(image.shape)
        image_loss = (image - target).pow(2).sum((-3, -2, -1)).mean()  # unit-variance Gaussian likelihood
        # The reward of the action taken at t is predicted from the latent state it led to, t + 1.
        reward_loss = (self.reward_head(features[:, 1:]).squeeze(-1) - rewards[:, :-1]).pow(2).mean()
        loss = image_loss + reward_loss + c.kl_scale * torch.clamp(kl, min=c.free_nats)
        losses = {"image_loss": image_loss.item(), "reward_loss": reward_loss.item(), "kl": kl.item()}
        if proprio_pred is not None:
            proprio_loss = (proprio_pred - self.encoder.normalize_proprio(proprio)).pow(2).sum(-1).mean()
            loss = loss + proprio_loss
            losses["proprio_loss"] = proprio_loss.item()
        self.model_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model_params, c.model_grad_clip)
        self.model_optimizer.step()
        return {"model_loss": loss.item(), **losses}

    @torch.no_grad()
    def infer(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent states (h, z) (B, T, .) sampled from the inference model along each sequence of the batch."""
        proprio = batch.get("proprio") if self.encoder.proprio_dim else None
        h, z, _, _ = self.rssm.observe(self.encoder(batch["pixels"], proprio), batch["actions"])
        return h, z

    @torch.no_grad()
    def add_real(self, batch: dict[str, torch.Tensor]) -> None:
        """Real latent transitions: consecutive inferred states of the data with its actions and rewards."""
        h, z = self.infer(batch)
        features = torch.cat([h, z], -1)
        self.real.add(
            features=features[:, :-1],
            actions=batch["actions"][:, :-1],
            rewards=batch["rewards"][:, :-1],
            next_features=features[:, 1:],
            terminals=batch["terminals"][:, :-1],
        )

    @torch.no_grad()
    def add_imagined(self, batch: dict[str, torch.Tensor], random_actions: bool) -> dict[str, float]:
        """Roll the ensemble out from inferred states of the batch (Eq. 9): at each step a random forward model
        gives the next state; the reward is the mean over the forward models of the reward head at a next state
        sampled from each, minus `penalty` times the spread (std) of the members' log-likelihoods of that state."""
        c = self.config
        h, z = self.infer(batch)
        start = torch.randperm(h.shape[0] * h.shape[1], device=h.device)[: c.rollout_starts]
        h, z = h.flatten(0, 1)[start], z.flatten(0, 1)[start]
        rows = torch.arange(len(h), device=h.device)
        penalties, rewards = [], []
        for _ in range(c.rollout_horizon):
            features = torch.cat([h, z], -1)
            if random_actions:
                action = torch.rand(len(h), self.action_dim, device=h.device) * 2 - 1
            else:
                action, _ = self.actor(features)
            h_next = self.rssm.step(h, z, action)
            mean, std = self.rssm.prior(h_next)  # (K, N, S)
            samples = mean + std * torch.randn_like(std)  # one next state from every forward model
            head = torch.randint(0, c.ensemble, (len(h),), device=h.device)
            z_next = samples[head, rows]
            log_likelihood = gaussian_log_prob(z_next.unsqueeze(0), mean, std)  # (K, N)
            uncertainty = log_likelihood.std(0) if c.ensemble > 1 else torch.zeros_like(log_likelihood[0])
            member_rewards = self.reward_head(torch.cat([h_next.expand(c.ensemble, -1, -1), samples], -1))
            reward = member_rewards.squeeze(-1).mean(0) - c.penalty * uncertainty
            next_features = torch.cat([h_next, z_next], -1)
            self.imagined.add(
                features=features,
                actions=action,
                rewards=reward,
                next_features=next_features,
                terminals=torch.zeros_like(reward),  # no task here terminates; imagined episodes never end
            )
            penalties.append(uncertainty.mean().item())
            rewards.append(reward.mean().item())
            h, z = h_next, z_next
        return {"rollout_uncertainty": float(np.mean(penalties)), "rollout_reward": float(np.mean(rewards))}

    # ----- actor-critic (SAC on latent features) -----

    def ac_update(self) -> dict[str, float]:
        """One SAC update on a batch drawn from the real and the imagined latent buffers (`real_fraction` real)."""
        c = self.config
        n_real = round(c.ac_batch * c.real_fraction)
        parts = [self.real.sample(n_real)] if n_real else []
        if n_real < c.ac_batch:
            parts.append(self.imagined.sample(c.ac_batch - n_real))
        batch = {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_log_prob = self.actor(batch["next_features"])
            target_q = torch.min(*self.critic_target(batch["next_features"], next_action)) - alpha * next_log_prob
            target = batch["rewards"] + c.discount * (1 - batch["terminals"]) * target_q
        q1, q2 = self.critic(batch["features"], batch["actions"])
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        action, log_prob = self.actor(batch["features"])
        actor_loss = (alpha * log_prob - torch.min(*self.critic(batch["features"], action))).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()
        with torch.no_grad():
            for target_param, param in zip(self.critic_target.parameters(), self.critic.parameters(), strict=True):
                target_param.lerp_(param, c.tau)
        return {
            "critic_loss": critic_loss.item(),
            "actor_loss": actor_loss.item(),
            "alpha": alpha.item(),
            "q": q1.mean().item(),
        }

    # ----- acting in the task -----

    def policy(self) -> LatentPolicy:
        return LatentPolicy(self)

    def training_state(self) -> dict[str, Any]:
        return {
            "modules": self.state_dict(),
            "optimizers": {
                name: getattr(self, name).state_dict()
                for name in ("model_optimizer", "actor_optimizer", "critic_optimizer", "alpha_optimizer")
            },
            "real": self.real.state_dict(),
            "imagined": self.imagined.state_dict(),
        }

    def load_training_state(self, state: dict[str, Any]) -> None:
        self.load_state_dict(state["modules"])
        for name, optimizer_state in state["optimizers"].items():
            getattr(self, name).load_state_dict(optimizer_state)
        self.real.load_state_dict(state["real"])
        self.imagined.load_state_dict(state["imagined"])


class LatentPolicy:
    """Acts in the task from pixels: filters the latent state with the inference model (its mean) and takes the
    actor's deterministic action, as the policy was trained on inferred states (the paper's design)."""

    def __init__(self, agent: Lompo):
        self.agent = agent
        self.reset()

    def reset(self) -> None:
        self.h, self.z = self.agent.rssm.initial(1, self.agent.device)
        self.action = torch.zeros(1, self.agent.action_dim, device=self.agent.device)

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        agent = self.agent
        pixels = torch.as_tensor(observation["pixels"], device=agent.device).unsqueeze(0)
        proprio = None
        if agent.encoder.proprio_dim:
            proprio = torch.as_tensor(observation["proprio"], dtype=torch.float32, device=agent.device).unsqueeze(0)
        embed = agent.encoder(pixels, proprio)
        self.h = agent.rssm.step(self.h, self.z, self.action)
        self.z, _ = agent.rssm.infer(self.h, embed)
        self.action, _ = agent.actor(torch.cat([self.h, self.z], -1), deterministic=True)
        return self.action[0].cpu().numpy()


# ----- Algorithm 1 -----


def build(config: LompoConfig, cache: DatasetCache, device: torch.device) -> Lompo:
    agent = Lompo(config, cache.actions.shape[1], cache.proprio.shape[1], device)
    runs.set_proprio_stats(agent.encoder, cache)
    return agent


def load_policy(folder: Path, device: torch.device) -> LatentPolicy:
    """The trained policy of a finished run folder (for `evaluate`)."""
    record, state = runs.load_finished(folder, device)
    config = LompoConfig(**{k: tuple(v) if k == "conv_channels" else v for k, v in record["config"].items()})
    agent = Lompo(config, record["action_dim"], record["proprio_dim"], device)
    agent.load_state_dict(state["training"]["modules"])
    return agent.policy()


def train(
    dataset_id: str,
    task: str,
    profile: str,
    config: LompoConfig,
    folder: Path,
    seed: int,
    device: torch.device,
    progress: runs.Progress | None = None,
    algo: str = NAME,
) -> dict[str, Any]:
    """Run Algorithm 1 on `dataset_id`, resuming from `folder`'s checkpoint; returns the final result record.
    `algo` names the record (LMBRL and Offline SLAC run this same schedule with parts switched off)."""
    progress = progress or runs.NoProgress()
    config = resolve_for_task(config, task)
    cache = open_cache(dataset_id)
    runs.start_run(folder, config, algo=algo, dataset_id=dataset_id, task=task, seed=seed, device=device, cache=cache)
    torch.manual_seed(seed)
    agent = build(config, cache, device)
    sampler = SequenceSampler(cache, config.model_batch, config.seq_len, seed=seed, pin_memory=device.type == "cuda")
    run = runs.RunState(folder, phase="model", model_step=0, epoch=0)
    state = run.load(device)
    if state is not None:
        agent.load_training_state(state["training"])
        sampler.set_state(state["sampler"])
    p = run.data

    def next_batch() -> dict[str, torch.Tensor]:
        return to_torch(sampler.sample(), device)

    def checkpoint() -> None:
        run.save(agent.training_state(), sampler.get_state())

    # 1. The variational model.
    if p["phase"] == "model":
        progress.start("model (Eq. 8)", config.model_steps)
        while p["model_step"] < config.model_steps:
            losses = agent.model_update(next_batch())
            p["model_step"] += 1
            step = p["model_step"]
            if step % config.log_every == 0 or step == 1:
                run.log("model", step, losses)
            progress.update(step, f"loss {losses['model_loss']:.1f}")
            if step % config.checkpoint_every == 0:
                checkpoint()
        progress.finish()
        # 2. Initial buffers (the model is frozen from here on).
        progress.start("initial latent buffers", config.initial_real + config.initial_latent)
        while agent.real.size < config.initial_real:
            agent.add_real(next_batch())
            progress.update(min(agent.real.size, config.initial_real))
        while agent.imagined.size < config.initial_latent:
            agent.add_imagined(next_batch(), random_actions=True)
            progress.update(config.initial_real + min(agent.imagined.size, config.initial_latent))
        progress.finish()
        p["phase"] = "policy"
        checkpoint()

    # 3. Actor-critic epochs.
    if p["phase"] == "policy":
        progress.start("actor-critic (SAC)", config.epochs * config.ac_steps)
        while p["epoch"] < config.epochs:
            epoch = p["epoch"]
            for i in range(config.ac_steps):
                losses = agent.ac_update()
                step = epoch * config.ac_steps + i + 1
                if step % config.log_every == 0:
                    run.log("policy", step, losses)
                progress.update(step, f"epoch {epoch + 1}/{config.epochs} Q {losses['q']:.1f}")
            for _ in range(config.epoch_real_batches):
                agent.add_real(next_batch())
            for _ in range(config.epoch_latent_batches):
                run.log("rollout", epoch + 1, agent.add_imagined(next_batch(), random_actions=False))
            p["epoch"] = epoch + 1
            if (epoch + 1) % config.eval_every == 0 and epoch + 1 < config.epochs:
                returns = runs.evaluate_policy(agent.policy(), task, config.eval_episodes, runs.evaluation_seed(seed))
                p["evaluations"].append({"epoch": epoch + 1, "mean_return": float(np.mean(returns))})
            checkpoint()
        progress.finish()
        p["phase"] = "evaluate"
        checkpoint()

    # 4. Final evaluation: the result record.
    return runs.finish_run(
        run,
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        profile=profile,
        seed=seed,
        policy=agent.policy(),
        episodes=config.eval_episodes,
        save=checkpoint,
        progress=progress,
    )
