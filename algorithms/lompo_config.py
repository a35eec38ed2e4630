"""LOMPO's config, with no torch: `LompoConfig` (each field's meaning and evidence beside it), the smoke / cpu /
paper profiles, the sizes a task and image size fill in (`resolve_for_task`), and the key of the shared world model
a config trains (`model_key`, `world_model_key`). LMBRL's and Offline SLAC's configs are LOMPO's with parts switched
off (`variant`: `LMBRL`, `OFFLINE_SLAC`).

They live apart from the algorithm (`algorithms/lompo.py`, which re-exports all of them) so that planning a
reproduction (`lompo-bench reproduce --plan`: which world models the runs share) needs no torch: the registry
names `LOMPO`, `LMBRL` and `OFFLINE_SLAC` as the planning side of those three algorithms (`WORLD_MODEL_CONFIGS`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from lompo_bench.algorithms import configs, speed
from lompo_bench.algorithms.configs import Count, NonNegFloat, NonNegInt, Part, PositiveFloat, Range, Share
from lompo_bench.algorithms.paper_sizes import paper_width, scaled_conv_channels
from lompo_bench.errors import UserError

NAME = "lompo"
ACTORS = ("deterministic", "sac")
PENALTY_FLOORS = ("none", "data")
PENALTY_MEASURES = ("log_likelihood", "means")


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
    # Evidence: docs/FIDELITY.md, "Config evidence: head_layers".
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
    # code. Below 1 a departure, a speed lever (docs/PERFORMANCE.md).
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
    # disagreement the model shows on the data itself. A candidate departure, a default of no profile
    # (docs/FIDELITY.md, rule 2).
    penalty_floor: str = "none"
    # What u measures: "log_likelihood" (official): the std over the heads of their log-likelihoods of the sampled
    # next state; "means": the std over the heads of their means of the next latent state, averaged over its
    # dimensions, times a scale measured once when the policy phase starts (on the diagnosis episodes, as the
    # floor) so that u at the data's own actions equals the official spread there: the penalty's shape changes,
    # not its scale. A candidate departure, a default of no profile (docs/FIDELITY.md, "Config evidence:
    # penalty_measure").
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
    # 13% a cycle, near the official code's 16% (16,000 in 100K). Each departure's evidence: docs/FIDELITY.md,
    # "Config evidence: the cpu profile".
    "cpu": LompoConfig(
        conv_scale=0.5,
        deter=128,
        hidden=128,
        model_steps=9_000,  # rule 1 (docs/FIDELITY.md): the held-out model loss has levelled off by then
        model_batch=16,
        seq_len=32,
        decode_fraction=0.5,  # departure (speed): half of each window's frames decoded, 1.5x faster per update
        precision="fp32",  # fp32 on every CPU, so that a cpu record does not depend on which CPU trained it
        # 1 episode in 20 held out of the model's training, for the diagnostics to measure on data the model did
        # not fit (departure: the official model trains on all; the policy phase still uses every episode).
        holdout=0.05,
        initial_latent=10_000,  # half the dataset-sized imagined buffer, as the official 50K of V-D4RL's 100K
        # 40K updates of 128 real + 128 imagined (official: 150K of 256 + 256): with Polyak targets the critic's
        # progress is set by the number of updates, so the same compute buys it twice as many with half the batch.
        ac_updates=40_000,
        ac_batch=256,
        # Departure from the official deterministic actor (docs/FIDELITY.md rule 3: SAC's mean over 3 seeds was
        # higher on both medium-expert datasets). LMBRL's cpu profile gets it too: the two still differ only in
        # the penalty.
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
        model_steps=100,  # enough for the model loss to fall clearly (docs/FIDELITY.md, "Config evidence: smoke")
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
    """The profile's config with `overrides` (field -> value) applied, every field's range checked."""
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


def saved_config(fields: dict[str, Any]) -> LompoConfig:
    """A config from saved fields (a run's config, a model's MODEL_FIELDS): tuples back from JSON lists, unknown
    names refused by the dataclass."""
    return LompoConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


# The config fields that determine the trained world model: runs that agree on these (and on dataset and seed)
# share one model. MODEL_FORMAT changes whenever the model's training changes meaning, so no stale model is reused.
MODEL_FIELDS = (
    "conv_channels", "deter", "hidden", "stoch", "ensemble", "model_steps", "model_batch", "seq_len", "model_lr",
    "grad_clip", "kl_scale", "precision", "decode_fraction", "head_layers", "holdout",
)  # fmt: skip
# 3: the official networks (nets.NETWORKS 2) and training windows (the previous action at a window's start).
MODEL_FORMAT = 3


def model_key(config: Any) -> str:
    """A digest of what determines the trained world model (a resolved config's MODEL_FIELDS and MODEL_FORMAT)."""
    fields = {"format": MODEL_FORMAT, **{name: getattr(config, name) for name in MODEL_FIELDS}}
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=list).encode()).hexdigest()[:12]


def world_model_key(config: LompoConfig, task: str, image_size: int = 64) -> str:
    """Which shared world model a run of `config` on `task`'s images of `image_size` px trains or reuses: runs of
    equal keys on one dataset and seed (LOMPO and LMBRL of a profile) share one model, so a scheduler can train
    it once, first."""
    return model_key(resolve_for_task(config, task, image_size))


@dataclass(frozen=True)
class AlgorithmConfigs:
    """What planning asks of an algorithm sharing LOMPO's world model, with no torch: its NAME, its configs
    (`make_config`) and the key of the world model a config trains (`world_model_key`). `lompo.variant` makes the
    algorithm itself from one."""

    NAME: str
    PROFILES: dict[str, LompoConfig]

    def make_config(self, profile: str, **overrides: Any) -> LompoConfig:
        return configs.pick_profile(self.NAME, self.PROFILES, profile, **overrides)

    @staticmethod
    def world_model_key(config: LompoConfig, task: str, image_size: int = 64) -> str:
        return world_model_key(config, task, image_size)


def variant(name: str, **changes: Any) -> AlgorithmConfigs:
    """The configs of algorithm `name`: LOMPO's profiles with `changes`."""
    return AlgorithmConfigs(
        name, {profile: dataclasses.replace(config, **changes) for profile, config in PROFILES.items()}
    )


LOMPO = AlgorithmConfigs(NAME, PROFILES)
# LMBRL (algorithms/lmbrl.py): LOMPO with the penalty switched off. Its model's key is LOMPO's (the penalty is no
# MODEL_FIELD): the two share one world model.
LMBRL = variant("lmbrl", penalty=0.0)
# Offline SLAC (algorithms/offline_slac.py): LOMPO with one forward model and no imagined data.
OFFLINE_SLAC = variant(
    "offline_slac",
    ensemble=1,
    penalty=0.0,
    real_fraction=1.0,
    initial_latent=0,
    cycle_rollout_batches=0,
    latent_buffer=1,  # never written
    actor="sac",  # SLAC's actor-critic is SAC (LOMPO's official actor is deterministic)
)
