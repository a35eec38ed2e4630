"""LOMPO (Rafailov et al., 2021): Latent Offline Model-Based Policy Optimization. The whole algorithm is here:
the variational model's update (Eq. 8), the latent rollouts with the uncertainty-penalized reward (Eq. 9), the
actor-critic update on a 50/50 mix of real and imagined latent transitions, and Algorithm 1's schedule.

Where the paper is silent, this follows the official code (github.com/rmrafailov/LOMPO, and V-D4RL's port of it,
`baselines/lompo/run.py`); where the paper states a choice and the code differs, the paper wins and the comment
at the line says so. Algorithm 1, as run by `train`:
1. `model_steps` updates of the variational model (Eq. 8). The model is then frozen. It is trained once per
   dataset, model config and seed, and shared by every run that needs the very same model (LOMPO and LMBRL differ
   only in the penalty): `<runs root>/_world_models/...`;
2. the real latent buffer: every dataset episode encoded from its first step, each transition exactly once; the
   imagined buffer: filled to `initial_latent` transitions by rollouts of the initial actor plus exploration noise;
3. cycles of `ac_cycle` actor-critic updates; after each, one more real episode is encoded (round robin) and
   imagined rollouts start from every posterior state of one model batch, acting with the current actor plus
   exploration noise. Both buffers are FIFOs the size of the dataset.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lompo_bench.algorithms import checkpoints, configs, diagnostics, metrics, runs, speed
from lompo_bench.algorithms.configs import Count, NonNegFloat, NonNegInt, Part, PositiveFloat, Range, Share
from lompo_bench.algorithms.nets import (
    KERAS_ADAM_EPS,
    NETWORKS,
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
    paper_width,
    scaled_conv_channels,
)
from lompo_bench.data import EpisodeReader, SequenceSampler, TorchBatches, open_cache, to_torch
from lompo_bench.data.cache import DatasetCache
from lompo_bench.errors import UserError
from lompo_bench.files import file_lock, write_json
from lompo_bench.paths import root_of_run, world_model_dir
from lompo_bench.progress import NoProgress, Progress

NAME = "lompo"
ACTORS = ("deterministic", "sac")
PENALTY_FLOORS = ("none", "data")
PENALTY_MEASURES = ("log_likelihood", "means")
# The config fields that determine the trained world model: runs that agree on these (and on dataset and seed)
# share one model. MODEL_FORMAT changes whenever the model's training changes meaning, so no stale model is reused.
MODEL_FIELDS = (
    "conv_channels", "deter", "hidden", "stoch", "ensemble", "model_steps", "model_batch", "seq_len", "model_lr",
    "grad_clip", "kl_scale", "precision", "decode_fraction", "head_layers", "holdout",
)  # fmt: skip
# 3: the official networks (nets.NETWORKS 2) and training windows (the previous action at a window's start).
MODEL_FORMAT = 3
ENCODE_CHUNK = 1024  # frames per encoder call when encoding whole episodes (bounds activation memory)


@dataclass(frozen=True)
class LompoConfig:
    # Variational model (Appendix C). None means the paper's size for the dataset's task.
    conv_channels: tuple[Count, ...] | None = None  # encoder; the decoder mirrors it (Appendix C)
    conv_scale: PositiveFloat = 1.0  # multiplies the paper's channels when conv_channels is None (smaller profiles)
    deter: Count | None = None  # GRU units: 256, Pen 512
    hidden: Count | None = None  # forward / inference MLP units: 256, Pen 512
    stoch: Count = 64  # stochastic latent size: official code (not in the paper); lambda = 5 was set for it
    ensemble: Count = 7  # forward models sharing the GRU (official code)
    # Hidden layers of each forward head and of the inference model: 1 in the official code (`img2_k`, `obs1`).
    # Models trained before this field existed had 2 (a departure found in review, issue 20); they load as such.
    head_layers: Count = 1
    model_steps: Count = 25_000  # official code
    # Model updates at which a finished model is also kept, under the key of a model trained for just that many
    # updates (the same weights: training has no schedule, and resuming is exact), for budget studies: a policy
    # phase with `--set model_steps=N` then finds it. Not part of the model's key.
    model_snapshots: tuple[Count, ...] = ()
    # Share of the dataset's episodes kept out of the model's training (evenly spaced through the dataset), on
    # which the world-model diagnostics measure (`lompo-bench diagnose`). 0: the model trains on every episode
    # (official code) and the diagnostics are in-sample, and say so. The policy phase uses every episode.
    holdout: Annotated[float, Range(0, 1, high_open=True)] = 0.0
    model_batch: Count = 64  # sequences per model batch (official code: 64 x 50)
    seq_len: Count = 50
    model_lr: PositiveFloat = 6e-4  # official code
    grad_clip: PositiveFloat = (
        100.0  # official code: gradient norm clipped at 100 in every optimizer (model, actor, critic)
    )
    kl_scale: NonNegFloat = 1.0  # official code: KL weight 1 and no free nats
    # How the model computes (algorithms/speed.py; measured in benchmarks/model_speed.py, docs/PERFORMANCE.md).
    precision: str = "auto"  # "bf16": convolutions under bf16 autocast (fp32 weights, RSSM and losses); "fp32";
    #                          "auto": bf16 where the device computes it natively (speed.resolve_precision)
    channels_last: bool | None = None  # NHWC convolution weights; None: per device (speed.resolve_channels_last)
    compile: bool = False  # torch.compile the encoder and decoder
    prefetch: bool | None = None  # draw the next model batch on a thread; None: per device (on for CUDA)
    # Share of each window's time steps whose image is decoded in Eq. 8's loss: 1, every frame, as the official
    # code. The cpu and smoke profiles decode half, a speed lever (1.5x per update; docs/PERFORMANCE.md).
    decode_fraction: Part = 1.0
    # Latent buffers and rollouts (Eq. 9).
    real_buffer: Count | None = None  # transitions; None: the dataset's transition count (official code)
    latent_buffer: Count | None = None  # transitions; None: the dataset's transition count (official code)
    initial_latent: NonNegInt = 50_000  # imagined transitions before the first update (official `start_training`)
    rollout_horizon: Count = 5  # official code
    rollout_noise: NonNegFloat = 0.2  # official code: N(0, 0.2) added to the deterministic actor's actions in rollouts
    penalty: NonNegFloat = 5.0  # lambda (official code)
    # What the penalty measures from: "none" (official): lambda x u, u the heads' log-likelihood spread; "data":
    # lambda x max(0, u - u_data), u_data the model's mean spread at the data's own actions on its diagnosis
    # episodes (measured once, when the policy phase starts), so a step like the data's is not penalized for the
    # disagreement the model shows on the data itself. A candidate departure (docs/FIDELITY.md, rule 2): not a
    # default of any profile until a 3-seed comparison shows it matters.
    penalty_floor: str = "none"
    # What u measures: "log_likelihood" (official): the std over the heads of their log-likelihoods of the sampled
    # next state; "means": the std over the heads of their means of the next latent state, averaged over its
    # dimensions, times a scale measured once when the policy phase starts (on the diagnosis episodes, as the
    # floor) so that u at the data's own actions equals the official spread there: the penalty's shape changes,
    # not its scale. A candidate departure (docs/FIDELITY.md, rule 4: on the seed-0 9,000-update models it
    # separates the data's actions from uniform ones 1.4-1.8x more than the official spread): not a default of
    # any profile unless rule 2's 3-seed test says so.
    penalty_measure: str = "log_likelihood"
    # Actor-critic on latent features.
    actor: str = "deterministic"  # official code: deterministic actor, no entropy term; "sac": tanh-Gaussian SAC
    ac_layers: Count = 3  # hidden layers of actor and critic: Appendix C's "3 layers and 256 units", read as the
    #                     official critic builds it (3 hidden layers; the official actor has 4, the paper says 3)
    ac_hidden: Count = 256
    ac_updates: Count = 150_000  # `agent_train_steps` of V-D4RL's port (the original repository: 100K)
    ac_cycle: Count = 200  # updates between data refreshes (official `agent_iters_per_step`)
    cycle_real_episodes: NonNegInt = 1  # real episodes encoded into the real buffer after each cycle (official code)
    cycle_rollout_batches: NonNegInt = (
        1  # model batches whose posterior states start rollouts after each cycle (official)
    )
    ac_batch: Count = 512  # official code: 256 real + 256 imagined transitions per update
    real_fraction: Share = 0.5  # share of real transitions in each batch: the paper's fixed 50/50 mix
    actor_lr: PositiveFloat = 3e-4
    critic_lr: PositiveFloat = 3e-4
    alpha_lr: PositiveFloat = 3e-4  # "sac" only
    discount: Share = 0.99
    tau: Part = 5e-3
    # Evaluation and bookkeeping.
    eval_every: Count = 50  # cycles between evaluations in the task
    eval_episodes: Count = 10
    checkpoint_every: Count = 500  # model updates between checkpoints of the model phase
    checkpoint_cycles: Count = 25  # cycles between checkpoints of the policy phase
    log_every: Count = 50  # updates between entries of the loss history


PROFILES: dict[str, LompoConfig] = {
    # The paper's sizes (with the official code's values where the paper is silent). GPU-scale: ~80M frames.
    "paper": LompoConfig(),
    # Runs on 2 CPU cores: half-width convs, 128-unit model, 16 x 32 model batches. Rollouts start from one model
    # batch (512 states, 2,560 imagined transitions a cycle): a 20K-transition dataset's imagined buffer turns over
    # 13% a cycle, near the official code's 16% (16,000 in 100K).
    "cpu": LompoConfig(
        conv_scale=0.5,
        deter=128,
        hidden=128,
        # docs/FIDELITY.md rule 1 (fixed before the runs): the first 1,500-update step after which the held-out
        # model loss falls by under 2%, the larger over Walker and D'Claw medium-expert (20K transitions each):
        # D'Claw 7,500 (21.15 -> 21.02), Walker 9,000 (12.30 -> 12.37), measured to 12,000 on seed 0. Was 3,000,
        # where both losses still fell 6-9% over the next 1,500. The official 25,000 x (64 x 50) stays in paper.
        model_steps=9_000,
        model_batch=16,
        seq_len=32,
        # Departure (speed): half of each window's frames decoded; on Walker medium-expert (200 updates) the full
        # loss stayed within 0.9 of every-frame's while an update ran 1.5x faster (docs/PERFORMANCE.md).
        decode_fraction=0.5,
        # fp32 on every CPU, so that a cpu record does not depend on which CPU trained it: auto trains bf16
        # convolutions on one (AMX, AVX512-BF16) and fp32 on another (AVX2 only, where bf16 runs at 0.05x), and
        # the issue-20 study was run in fp32. Costs the bf16 machines 1.3-1.6x of model-update speed (PERFORMANCE.md).
        precision="fp32",
        # 1 episode in 20 (Walker 2 of 40, D'Claw 10 of 200: 1,000 transitions each) held out of the model's
        # training, for the diagnostics to measure on data the model did not fit (departure: the official model
        # trains on all; the policy phase still uses every episode).
        holdout=0.05,
        initial_latent=10_000,  # half the dataset-sized imagined buffer, as the official 50K of V-D4RL's 100K
        # 40K updates of 128 real + 128 imagined, where the official code runs 150K of 256 + 256. Measured (Walker
        # medium-expert cpu, seed 0): 20K updates of 256 + 256 left the critic far from converged (Q on real states
        # 75.5 and rising linearly, against a discounted data return near 170; normalized score 35.9). With Polyak
        # targets (tau 5e-3) the critic's progress is set by the number of updates, so the same compute buys it
        # twice as many with half the batch.
        ac_updates=40_000,
        ac_batch=256,
        # Departure from the official deterministic actor (docs/FIDELITY.md rule 3, fixed before the runs: SAC
        # replaces it if its mean over 3 seeds is higher on both medium-expert datasets). 9,000-update fp32
        # models, seeds 0 / 1 / 2: Walker 31.1 / 31.4 / 47.3 (mean 36.6) against 13.8 / 33.5 / 50.5 (32.6);
        # D'Claw 69.5 / 59.3 / 69.5 (66.1) against 99.5 / 99.4 / -40.7 (52.7), D'Claw's seed 2 with 100% of its
        # actions at +-1 and Q -164 on real states, where SAC kept 0.4-7.2% at +-1 on every run. LMBRL's cpu profile
        # (this one with penalty 0) gets the same actor, so the two still differ only in the penalty.
        actor="sac",
        eval_every=50,
        checkpoint_every=250,
    ),
    # Seconds: every code path, tiny numbers. For tests and the demo.
    "smoke": LompoConfig(
        conv_scale=0.125,
        deter=16,
        hidden=16,
        stoch=4,
        ensemble=3,
        model_steps=100,  # the model loss falls by 70-80% (at 60 updates with the official init: 15-50%)
        model_batch=8,
        seq_len=8,
        decode_fraction=0.5,  # the cpu profile's path
        initial_latent=100,
        rollout_horizon=3,
        ac_hidden=16,
        ac_updates=20,
        ac_cycle=5,
        ac_batch=32,
        eval_every=2,
        eval_episodes=1,
        checkpoint_every=20,
        checkpoint_cycles=1,
        log_every=4,
    ),
}


def make_config(profile: str, **overrides: Any) -> LompoConfig:
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


def resolve_for_task(config: LompoConfig, task: str, image_size: int = 64) -> LompoConfig:
    """Fill the sizes the config leaves to the task and the dataset's image size (Appendix C; the official rule:
    4 conv layers at 64 px, 5 at 128), so the saved config is the one that ran."""
    if config.actor not in ACTORS:
        raise UserError(f"unknown actor {config.actor!r}: choose from {', '.join(ACTORS)}")
    if config.penalty_floor not in PENALTY_FLOORS:
        raise UserError(f"unknown penalty_floor {config.penalty_floor!r}: choose from {', '.join(PENALTY_FLOORS)}")
    if config.penalty_measure not in PENALTY_MEASURES:
        raise UserError(
            f"unknown penalty_measure {config.penalty_measure!r}: choose from {', '.join(PENALTY_MEASURES)}"
        )
    if config.precision not in speed.PRECISIONS:
        raise UserError(f"unknown precision {config.precision!r}: choose from {', '.join(speed.PRECISIONS)}")
    if config.real_fraction < 1 and config.initial_latent < 1:
        raise UserError("initial_latent must be at least 1 when imagined transitions fill batches (real_fraction < 1)")
    return dataclasses.replace(
        config,
        conv_channels=scaled_conv_channels(config.conv_channels, config.conv_scale, image_size),
        deter=config.deter or paper_width(task),
        hidden=config.hidden or paper_width(task),
    )


def decoder_channels(conv_channels: tuple[int, ...]) -> tuple[int, ...]:
    """Appendix C's decoders mirror the encoders: [32, 64, 128, 256] -> [128, 64, 32, 3] and
    [32, 64, 128, 256, 256] -> [128, 64, 32, 32, 3]."""
    return (*reversed(conv_channels[:3]), *[conv_channels[0]] * (len(conv_channels) - 4), 3)


def model_speed(config: LompoConfig, device: torch.device) -> dict[str, Any]:
    """How the model of `config` computes on `device`: its speed settings with "auto" made concrete."""
    return speed.choose(precision=config.precision, channels_last=config.channels_last, compile=config.compile,
                        prefetch=config.prefetch, device=device)  # fmt: skip


def model_key(config: LompoConfig) -> str:
    """A digest of what determines the trained world model (a resolved config's MODEL_FIELDS and MODEL_FORMAT)."""
    fields = {"format": MODEL_FORMAT, **{name: getattr(config, name) for name in MODEL_FIELDS}}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:12]


class ReplayBuffer:
    """A FIFO of latent transitions (features, action, reward, next features, terminal) on the device, each with
    `born`: the actor-critic update count when it was added (how old the policy that made it is)."""

    def __init__(self, capacity: int, feature_dim: int, action_dim: int, device: torch.device):
        self.capacity, self.size, self.cursor = capacity, 0, 0
        self.data = {
            "features": torch.zeros(capacity, feature_dim, device=device),
            "actions": torch.zeros(capacity, action_dim, device=device),
            "rewards": torch.zeros(capacity, device=device),
            "next_features": torch.zeros(capacity, feature_dim, device=device),
            "terminals": torch.zeros(capacity, device=device),
            "born": torch.zeros(capacity, dtype=torch.long, device=device),
        }

    def add(self, born: int, **batch: torch.Tensor) -> None:
        n = batch["rewards"].numel()
        rows = {key: value.detach().reshape(n, *self.data[key].shape[1:]) for key, value in batch.items()}
        if n > self.capacity:  # only the newest `capacity` rows would survive: write just those
            rows = {key: value[n - self.capacity :] for key, value in rows.items()}
            n = self.capacity
        device = self.data["rewards"].device
        rows["born"] = torch.full((n,), born, dtype=torch.long, device=device)
        index = (self.cursor + torch.arange(n, device=device)) % self.capacity
        for key, value in rows.items():
            self.data[key][index] = value.to(device, self.data[key].dtype)
        self.cursor = (self.cursor + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int) -> dict[str, torch.Tensor]:
        index = torch.randint(0, self.size, (n,), device=self.data["rewards"].device)
        return {key: value[index] for key, value in self.data.items() if key != "born"}

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "cursor": self.cursor, "data": {k: v[: self.size] for k, v in self.data.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size, self.cursor = state["size"], state["cursor"]
        for key, value in state["data"].items():
            self.data[key][: self.size] = value


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

    @torch.no_grad()
    def video_strip(self, batch: dict[str, torch.Tensor], sequences: int = 3, context: int = 5) -> np.ndarray:
        """What the official code shows of a model learning: for a few sequences of a batch, a row of true frames,
        a row of reconstructions (posterior means decoded) and a row of open-loop predictions (filtered over the
        first `context` steps, then imagined from the actions). Departure, for pictures only: the official open
        loop steps a forward head drawn at random and samples z from it; ours takes the mean over the heads of
        their means, which draws no random numbers, so a run is the same with or without its pictures.
        uint8 (H, W, 3)."""
        pixels, actions = batch["pixels"][:sequences], batch["prev_actions"][:sequences]
        proprio = batch.get("proprio")
        proprio = proprio[:sequences] if proprio is not None and self.encoder.proprio_dim else None
        steps = pixels.shape[1]
        flat = pixels.reshape(-1, *pixels.shape[2:])
        embed = self.embed(flat, None if proprio is None else proprio.reshape(flat.shape[0], -1))
        h, z, _, _ = self.rssm.observe(embed.reshape(sequences, steps, -1), actions, sample=False)
        recon = self.decode(torch.cat([h, z], -1))[0]
        h_t, z_t, imagined = h[:, context - 1], z[:, context - 1], []
        for t in range(context, steps):
            h_t = self.rssm.step(h_t, z_t, actions[:, t])
            z_t = self.rssm.prior(h_t)[0].mean(0)  # the heads' means, averaged
            imagined.append(torch.cat([h_t, z_t], -1))
        open_loop = torch.cat([recon[:, :context], self.decode(torch.stack(imagined, 1))[0]], 1)

        def frames(x: torch.Tensor) -> torch.Tensor:  # (N, T, 3, H, W) in [-0.5, 0.5] -> (N, H, T*W, 3) uint8
            x = ((x + 0.5).clamp(0, 1) * 255).to(torch.uint8).permute(0, 3, 1, 4, 2)
            return x.reshape(x.shape[0], x.shape[1], -1, 3)

        truth = pixels.permute(0, 2, 1, 3, 4).reshape(sequences, pixels.shape[2], -1, 3)
        rows = torch.stack([truth, frames(recon), frames(open_loop)], 1)  # (N, 3, H, T*W, 3)
        return rows.reshape(-1, rows.shape[-2], 3).cpu().numpy()

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
            **self.imagined_freshness(born),
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

    def imagined_freshness(self, now: int) -> dict[str, float]:
        """How much of the imagined buffer the current policy made (share added at update `now`) and the mean
        age of its transitions in actor-critic updates."""
        born = self.imagined.data["born"][: self.imagined.size]
        if not len(born):
            return {"imagined_current_share": 0.0, "imagined_mean_age": 0.0}
        return {
            "imagined_current_share": (born == now).float().mean().item(),
            "imagined_mean_age": (now - born).float().mean().item(),
        }

    # ----- actor-critic -----

    def _sample(self) -> tuple[dict[str, torch.Tensor], int]:
        c = self.config
        n_real = round(c.ac_batch * c.real_fraction)
        parts = [self.real.sample(n_real)] if n_real else []
        if n_real < c.ac_batch:
            parts.append(self.imagined.sample(c.ac_batch - n_real))
        return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}, n_real

    def ac_update(self) -> dict[str, float]:
        """One actor-critic update on a batch drawn `real_fraction` from the real buffer, the rest imagined.
        "deterministic" (official code): twin critics regressed on r + discount x min target Q at the actor's next
        action, the actor ascends min Q, no entropy. "sac": the same with SAC's entropy terms and learned alpha.
        In the official agent step's order: both losses are computed on the critics as they are before this
        update, then both optimizers step (the actor is not differentiated through the just-updated critics)."""
        c = self.config
        batch, n_real = self._sample()
        sac = c.actor == "sac"
        alpha = self.log_alpha.exp().detach() if sac else None
        with torch.no_grad():
            if sac:
                next_action, next_log_prob = self.actor(batch["next_features"])
                target_q = torch.min(*self.critic_target(batch["next_features"], next_action)) - alpha * next_log_prob
            else:
                target_q = torch.min(*self.critic_target(batch["next_features"], self.actor(batch["next_features"])))
            target = batch["rewards"] + c.discount * (1 - batch["terminals"]) * target_q
        q1, q2 = self.critic(batch["features"], batch["actions"])
        critic_loss = F.mse_loss(q1, target) + F.mse_loss(q2, target)

        if sac:
            action, log_prob = self.actor(batch["features"])
        else:
            action, log_prob = self.actor(batch["features"]), None
        # The actor's loss differentiates through the critic to the action only: the critic's weights are frozen
        # for it, which skips their gradients (they would be thrown away; the same update, ~10% less work).
        self.critic.requires_grad_(False)
        try:
            q_policy = torch.min(*self.critic(batch["features"], action))
        finally:
            self.critic.requires_grad_(True)
        actor_loss = (alpha * log_prob - q_policy).mean() if sac else -q_policy.mean()
        # Both backward passes before either step: the actor's graph holds the pre-update critic weights.
        for optimizer in (self.critic_optimizer, self.actor_optimizer):
            optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        actor_loss.backward()
        for optimizer, module in ((self.critic_optimizer, self.critic), (self.actor_optimizer, self.actor)):
            torch.nn.utils.clip_grad_norm_(module.parameters(), c.grad_clip)
            optimizer.step()
        losses = {}
        if sac:
            alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optimizer.step()
            losses["alpha"] = alpha.item()
        with torch.no_grad():
            for target_param, param in zip(self.critic_target.parameters(), self.critic.parameters(), strict=True):
                target_param.lerp_(param, c.tau)
            q_data = torch.min(q1, q2)
            if n_real:
                losses["q_real"] = q_data[:n_real].mean().item()
                # Overestimation shows as Q at the policy's actions far above Q at the data's actions on real states.
                losses["q_policy_minus_data"] = (q_policy - q_data)[:n_real].mean().item()
                # A stuck actor shows as its tanh output pinned at +-1 (no gradient left): the share of such outputs.
                losses["actor_saturated"] = (action[:n_real].detach().abs() > 0.99).float().mean().item()
            if n_real < c.ac_batch:
                losses["q_imagined"] = q_data[n_real:].mean().item()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), **losses}

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


class LatentPolicy:
    """Acts in the task from pixels: filters the latent state with the inference model, sampling z as in training
    (official `policy`: the actor only ever saw sampled states), and takes the actor's action without noise.
    The samples come from the policy's own generator, so acting neither depends on nor disturbs training's."""

    def __init__(self, agent: Lompo, seed: int = 0):
        self.agent = agent
        self.generator = torch.Generator(agent.device).manual_seed(seed)
        self.reset()

    def reset(self) -> None:
        self.h, self.z = self.agent.model.rssm.initial(1, self.agent.device)
        self.action = torch.zeros(1, self.agent.action_dim, device=self.agent.device)

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        agent, model = self.agent, self.agent.model
        pixels = torch.as_tensor(observation["pixels"], device=agent.device).unsqueeze(0)
        proprio = None
        if model.encoder.proprio_dim:
            proprio = torch.as_tensor(observation["proprio"], dtype=torch.float32, device=agent.device).unsqueeze(0)
        embed = model.embed(pixels, proprio)
        self.h = model.rssm.step(self.h, self.z, self.action)
        mean, std = model.rssm.infer(self.h, embed)
        self.z = mean + std * torch.randn(std.shape, generator=self.generator, device=std.device)
        self.action = agent.act(torch.cat([self.h, self.z], -1), explore=False)
        return self.action[0].cpu().numpy()


# ----- Algorithm 1 -----


def build_model(config: LompoConfig, cache: DatasetCache, device: torch.device) -> WorldModel:
    model = WorldModel(config, cache.actions.shape[1], cache.proprio.shape[1], device)
    runs.set_proprio_stats(model.encoder, cache)
    return model


def build(config: LompoConfig, cache: DatasetCache, device: torch.device) -> Lompo:
    model = build_model(config, cache, device)
    return Lompo(config, model, config.real_buffer or cache.num_steps, config.latent_buffer or cache.num_steps)


def holdout_episodes(num_episodes: int, holdout: float) -> np.ndarray:
    """The episodes a model of `holdout` keeps out of its training: round(holdout x N) (at least 1 when holdout
    > 0), evenly spaced through the dataset (so both halves of a medium-expert dataset are represented)."""
    count = min(num_episodes - 1, max(1, round(holdout * num_episodes))) if holdout > 0 else 0
    return np.unique(((np.arange(count) + 0.5) * num_episodes / max(count, 1)).astype(int))


def training_episodes(num_episodes: int, holdout: float) -> np.ndarray | None:
    """The episodes the model trains on (None: all of them, as before `holdout` existed)."""
    if holdout <= 0:
        return None
    return np.setdiff1d(np.arange(num_episodes), holdout_episodes(num_episodes, holdout))


def model_batches(model: WorldModel, cache: DatasetCache, seed: int, device: torch.device) -> TorchBatches:
    """Batches for `model` (`model_batch` windows of `seq_len` steps) of `cache` on `device`, from the episodes it
    trains on: pinned for a GPU, and drawn ahead on a thread where the model's speed settings say
    (speed.resolve_prefetch: CUDA)."""
    c = model.config
    sampler = SequenceSampler(cache, c.model_batch, c.seq_len, seed=seed, pin_memory=device.type == "cuda",
                              episodes=training_episodes(cache.num_episodes, c.holdout))  # fmt: skip
    return TorchBatches(sampler, device, prefetch=model.speed["prefetch"])


def load_policy(folder: Path, device: torch.device) -> LatentPolicy:
    """The trained policy of a finished run folder (for `evaluate`)."""
    record, state = runs.load_finished(folder, device)
    config = _saved_config(record["config"])
    model = WorldModel(config, record["action_dim"], record["proprio_dim"], device)
    agent = Lompo(config, model, 1, 1)  # acting needs no buffers
    agent.load_state_dict(state["training"]["modules"])
    return agent.policy()


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
    folder), trained here (resuming its own checkpoint) unless a run with the same model config and seed on the
    same dataset trained it already. With `tensorboard`, its losses and, at each checkpoint, a strip of true,
    reconstructed and open-loop predicted frames go to TensorBoard too."""
    folder = world_model_dir(root, dataset_id, seed, model_key(config))
    final = folder / "model.pt"
    # One process trains a shared model; others wanting it wait on the lock, then load it.
    with file_lock(folder.with_name(folder.name + ".lock")):
        if not final.exists():
            folder.mkdir(parents=True, exist_ok=True)
            torch.manual_seed(seed)
            model = build_model(config, cache, device)
            write_json(folder / "config.json", _model_context(dataset_id, config, seed, model))
            batches = model_batches(model, cache, seed, device)
            if tensorboard:
                (folder / metrics.TENSORBOARD).mkdir(exist_ok=True)
            if not (folder / "checkpoint.pt").exists() and (shorter := _shorter_model(dataset_id, config, root, seed)):
                shutil.copyfile(shorter, folder / "checkpoint.pt")  # go on from the longest shorter training
            run = runs.RunState(folder, phase="model", model_step=0)
            run.resume(device, model, batches)
            progress.start("model (Eq. 8)", config.model_steps)
            seen = ""
            while run.data["model_step"] < config.model_steps:
                batch = batches.sample()
                losses = model.update(batch)
                run.data["model_step"] += 1
                step = run.data["model_step"]
                if step % config.log_every == 0 or step == 1:
                    run.log("model", step, losses)
                progress.update(step, f"loss {losses['model_loss']:.1f} KL {losses['kl']:.2f}{seen}")
                snapshot = step in config.model_snapshots and step < config.model_steps
                if step % config.checkpoint_every == 0 or step == config.model_steps or snapshot:
                    if tensorboard:  # draws no random numbers: the run is the same with or without it
                        run.log_image("model/truth_reconstruction_open_loop", step, model.video_strip(batch))
                    # Neither do the diagnostics (a forked generator): with or without them, the same model.
                    values = model_diagnostics(model, cache, config, seed)
                    run.log("diagnostics", step, values)
                    if config.ensemble > 1:  # one head (Offline SLAC): no spread to show
                        seen = (f" | {'held-out' if config.holdout else 'in-sample'} spread at data / uniform "
                                f"actions {values['spread_data']:.3f} / {values['spread_uniform']:.3f}")  # fmt: skip
                    run.checkpoint(model, batches)
                if snapshot:
                    _keep_snapshot(dataset_id, config, root, seed, model, run, step)
            batches.close()
            progress.finish()
            _save_finished_model(folder, model, run)
        saved = checkpoints.load_checkpoint(final, device)
    return saved["modules"], {"history": saved["history"], "seconds": saved["seconds"], "folder": str(folder)}


def _model_context(dataset_id: str, config: LompoConfig, seed: int, model: WorldModel | None) -> dict[str, Any]:
    """A shared model's `config.json`: what trained it (MODEL_FIELDS as JSON values) and how it computed."""
    fields = json.loads(json.dumps({name: getattr(config, name) for name in MODEL_FIELDS}))
    speed_used = model.speed if model is not None else None
    return {"dataset_id": dataset_id, "seed": seed, "model_format": MODEL_FORMAT, "model": fields, "speed": speed_used}


def _save_finished_model(folder: Path, model: WorldModel, run: runs.RunState) -> None:
    """The finished model's record (`model.pt`: weights, loss history, seconds). Its last training checkpoint
    (optimizer, sampler, RNG) is kept as `continue.pt`, from which a longer-trained model of the same config
    can go on exactly (the same updates as one trained that long from the start)."""
    record = {"modules": model.state_dict(), "history": run.data["history"], "seconds": run.data["seconds"]}
    checkpoints.save_checkpoint(folder / "model.pt", record)
    (folder / "checkpoint.pt").replace(folder / "continue.pt")


def _shorter_model(dataset_id: str, config: LompoConfig, root: Path, seed: int) -> Path | None:
    """The `continue.pt` of the longest-trained finished model of the same config with fewer updates, if any."""
    best, best_steps = None, 0
    for other in world_model_dir(root, dataset_id, seed, "*").parent.glob(f"seed{seed}-*/continue.pt"):
        try:
            context = json.loads((other.parent / "config.json").read_text())
            fields = context["model"] if context["model_format"] == MODEL_FORMAT else {}
        except (OSError, ValueError, KeyError):
            continue
        steps = fields.get("model_steps", 0)
        same = {**fields, "model_steps": config.model_steps} == _model_context(dataset_id, config, seed, None)["model"]
        if same and best_steps < steps < config.model_steps:
            best, best_steps = other, steps
    return best


def _keep_snapshot(dataset_id: str, config: LompoConfig, root: Path, seed: int, model: WorldModel,
                   run: runs.RunState, step: int) -> None:  # fmt: skip
    """At update `step` of a longer training, the finished model of the same config trained for `step` updates,
    written where that model would be (its own key), unless it exists already."""
    short = dataclasses.replace(config, model_steps=step)
    folder = world_model_dir(root, dataset_id, seed, model_key(short))
    with file_lock(folder.with_name(folder.name + ".lock")):
        if (folder / "model.pt").exists():
            return
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "config.json", {**_model_context(dataset_id, short, seed, model), "snapshot_of": step})
        shutil.copyfile(run.folder / "checkpoint.pt", folder / "checkpoint.pt")
        _save_finished_model(folder, model, run)


# ----- world-model diagnostics (algorithms/diagnostics.py) -----


def diagnosis_episodes(num_episodes: int, holdout: float) -> np.ndarray:
    """The episodes diagnostics measure on: the model's held-out ones, or (a model trained on every episode) the
    same evenly spaced 1 in 20 of them, in-sample; a dataset of one episode (none can be held out) gives it."""
    chosen = holdout_episodes(num_episodes, holdout if holdout > 0 else 0.05)
    return chosen if len(chosen) else np.arange(num_episodes)


def diagnosed_held_out(num_episodes: int, holdout: float) -> bool:
    """Whether the diagnosis episodes are episodes the model did not train on."""
    return holdout > 0 and len(holdout_episodes(num_episodes, holdout)) > 0


def diagnosis_penalty(config: LompoConfig) -> float:
    """The lambda diagnostics weigh the spread with: the config's, or for a config without a penalty (LMBRL, which
    shares LOMPO's model) LOMPO's default, so a shared model's log does not depend on who trained it."""
    return config.penalty if config.penalty > 0 else LompoConfig.penalty


def model_diagnostics(
    model: WorldModel, cache: DatasetCache, config: LompoConfig, seed: int, actor: Lompo | None = None,
    penalty: float | None = None,
) -> dict[str, float]:  # fmt: skip
    """`diagnostics.measure` on the model's diagnosis episodes; `actor`: a policy phase's agent, whose actor's
    actions (without exploration noise) are measured too."""
    return diagnostics.measure(
        model, cache, diagnosis_episodes(cache.num_episodes, config.holdout),
        penalty=diagnosis_penalty(config) if penalty is None else penalty,
        actor=None if actor is None else (lambda features: actor.act(features, explore=False)),
        seed=seed,
    )  # fmt: skip


def _saved_config(fields: dict[str, Any]) -> LompoConfig:
    """A config from saved fields (a run's config, a model's MODEL_FIELDS): tuples back from JSON lists, unknown
    names refused by the dataclass."""
    return LompoConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def diagnose(folder: Path, device: torch.device, *, penalty: float | None = None, in_task: int = 0) -> dict[str, Any]:
    """The diagnostics of a saved world model: `folder` is a shared model's folder (finished or still training)
    or a run folder of LOMPO, LMBRL or Offline SLAC (its world model, and its actor once the policy phase began).
    `in_task` > 0: also that many evaluation episodes of the run's policy in the task (`measure_in_task`; a run
    folder only). Returns the values, the verdict's lines and what was measured; a folder with no world model, or
    `in_task` without a policy, is a UserError."""
    context_path = folder / "config.json"
    try:
        context = json.loads(context_path.read_text())
    except (OSError, ValueError):
        raise UserError(f"{folder} holds no world model (no readable config.json)") from None
    agent_state = None
    if context.get("model_format", MODEL_FORMAT) != MODEL_FORMAT or context.get("networks", NETWORKS) != NETWORKS:
        raise UserError(f"{folder} was trained with networks this version of lompo-bench no longer builds; retrain it")
    if "model" in context:  # a shared world model's folder
        config = _saved_config(context["model"])
        dataset_id, seed, model_folder = context["dataset_id"], context["seed"], folder
    elif "config" in context and {"conv_channels", "ensemble", "penalty"} <= set(context["config"]):
        config = _saved_config(context["config"])
        dataset_id, seed = context["dataset_id"], context["seed"]
        model_folder = world_model_dir(root_of_run(folder, dataset_id), dataset_id, seed, model_key(config))
        run_state = checkpoints.load_checkpoint(folder / "checkpoint.pt", device)
        if run_state is not None:
            agent_state = run_state["training"]["modules"]
    else:
        raise UserError(
            f"{folder} holds no world model: neither a world model folder nor a LOMPO / LMBRL / Offline SLAC run"
        )
    if in_task and agent_state is None:
        raise UserError(
            f"--in-task needs a LOMPO / LMBRL / Offline SLAC run folder whose policy phase has begun, not {folder}"
        )
    cache = open_cache(dataset_id)
    model = WorldModel(config, int(cache.actions.shape[1]), int(cache.proprio.shape[1]), device)
    agent = None
    if agent_state is not None:
        agent = Lompo(config, model, 1, 1)
        agent.load_state_dict(agent_state)
        agent.spread_floor = run_state["progress"].get("spread_floor", 0.0)  # as the run's rollouts penalized
        agent.measure_scale = run_state["progress"].get("measure_scale", 1.0)
        history = run_state["progress"]["history"]
    else:
        saved = checkpoints.load_checkpoint(model_folder / "model.pt", device)
        if saved is not None:
            modules, history = saved["modules"], saved["history"]
        else:  # still training: its last checkpoint
            state = checkpoints.load_checkpoint(model_folder / "checkpoint.pt", device)
            if state is None:
                raise UserError(f"{folder} holds no world model yet (nothing trained in {model_folder})")
            modules, history = state["training"]["modules"], state["progress"]["history"]
        model.load_state_dict(modules)
    steps = max((entry["step"] for entry in history if entry.get("phase") == "model"), default=0)
    used = diagnosis_penalty(config) if penalty is None else penalty
    values = model_diagnostics(model, cache, config, seed, agent, used)
    held_out = diagnosed_held_out(cache.num_episodes, config.holdout)
    task_values = {}
    if in_task:
        task_values = diagnostics.measure_in_task(agent, context["task"], in_task, seed, cache.frame_shape[0])
    return {
        "folder": str(folder),
        "dataset_id": dataset_id,
        "model_steps": steps,
        "held_out": held_out,
        "penalty": used,
        "actor": agent is not None,
        "values": values,
        "verdict": diagnostics.verdict(values, penalty=used, held_out=held_out, heads=config.ensemble),
        "in_task": task_values,
        "in_task_verdict": diagnostics.verdict_in_task(task_values) if task_values else [],
    }


def world_model_key(config: LompoConfig, task: str, image_size: int = 64) -> str:
    """Which shared world model a run of `config` on `task`'s images of `image_size` px trains or reuses: runs of
    equal keys on one dataset and seed (LOMPO and LMBRL of a profile) share one model, so a scheduler can train
    it once, first."""
    return model_key(resolve_for_task(config, task, image_size))


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
    fresh = not (folder / "checkpoint.pt").exists()
    # 1. The variational model (trained once, shared), before anything else draws random numbers here.
    model_state, model_record = (
        shared_world_model(
            dataset_id,
            config,
            cache,
            root_of_run(folder, dataset_id),
            seed,
            device,
            progress,
            (folder / metrics.TENSORBOARD).is_dir(),
        )  # fmt: skip
        if fresh
        else (None, None)
    )
    torch.manual_seed(seed)  # the policy phase starts alike whether this process trained the model or loaded it
    agent = build(config, cache, device)
    batches = model_batches(agent.model, cache, seed, device)
    reader = EpisodeReader(cache)
    run = runs.RunState(folder, phase="buffers", ac_step=0, next_episode=0)
    if not run.resume(device, agent, batches):
        agent.model.load_state_dict(model_state)
        run.data["history"] = list(model_record["history"])
        run.rewrite_csv()  # the shared model's losses head this run's log too
        run.data["model_seconds"] = model_record["seconds"]
        run.data["model_folder"] = model_record["folder"]
    agent.model.requires_grad_(False)
    p = run.data
    floor, means = config.penalty_floor == "data", config.penalty_measure == "means"
    if (floor and "spread_floor" not in p) or (means and "measure_scale" not in p):
        # Measured on the model's diagnosis episodes with their own generator: training's random numbers untouched.
        values = model_diagnostics(agent.model, cache, config, seed)
        if floor:  # u_data in u's own units: with "means" its scale makes u at the data's actions the spread there
            p["spread_floor"] = values["spread_data"]
        if means:
            p["measure_scale"] = values["spread_data"] / values["disagreement_data"]
        run.log("diagnostics", 0, values)
    agent.spread_floor = p.get("spread_floor", 0.0)
    agent.measure_scale = p.get("measure_scale", 1.0)

    def next_batch() -> dict[str, torch.Tensor]:
        return batches.sample()

    def add_real(count: int) -> None:
        episodes = (p["next_episode"] + np.arange(count)) % cache.num_episodes
        agent.add_real_episodes(reader, episodes, p["ac_step"])
        p["next_episode"] = int((p["next_episode"] + count) % cache.num_episodes)

    def checkpoint() -> None:
        run.checkpoint(agent, batches)

    # 2. Initial buffers: every real transition once; imagined ones from the initial actor.
    if p["phase"] == "buffers":
        initial_latent = min(config.initial_latent, agent.imagined.capacity)
        progress.start("latent buffers", cache.num_episodes + initial_latent)
        add_real(cache.num_episodes)
        while agent.imagined.size < initial_latent:
            run.log("rollout", 0, agent.add_imagined(next_batch(), born=0))
            progress.update(cache.num_episodes + min(agent.imagined.size, initial_latent))
        progress.finish()
        p["phase"] = "policy"
        checkpoint()

    # 3. Actor-critic cycles, each followed by fresh real and imagined data.
    if p["phase"] == "policy":
        progress.start("actor-critic", config.ac_updates)
        while p["ac_step"] < config.ac_updates:
            for _ in range(min(config.ac_cycle, config.ac_updates - p["ac_step"])):
                losses = agent.ac_update()
                p["ac_step"] += 1
                if p["ac_step"] % config.log_every == 0:
                    run.log("policy", p["ac_step"], losses)
                progress.update(p["ac_step"], f"critic loss {losses['critic_loss']:.3g}")
            add_real(config.cycle_real_episodes)
            for _ in range(config.cycle_rollout_batches):
                run.log("rollout", p["ac_step"], agent.add_imagined(next_batch(), born=p["ac_step"]))
            cycle = math.ceil(p["ac_step"] / config.ac_cycle)
            finished = p["ac_step"] >= config.ac_updates
            if cycle % config.eval_every == 0 and not finished:
                run.evaluate(agent.policy(), task, config.eval_episodes, seed, p["ac_step"])
            if cycle % config.checkpoint_cycles == 0 or finished:
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
