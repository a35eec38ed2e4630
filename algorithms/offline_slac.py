"""Offline SLAC, the paper's representation-learning baseline: SLAC's recipe (a latent variable model learned from
the image sequences, an actor-critic on its latent states) trained on the offline data only.

Ours runs LOMPO's machinery (`algorithms/lompo.py`) with a single forward model and no imagined data at all:
the actor-critic (SAC, as SLAC's) sees only real transitions inferred from the dataset. A departure from SLAC:
SLAC's actor reads the observation history directly and its critic the sampled latents; here both act on the
filtered latent state, as LOMPO's do ("we deploy model inference for the policy as well as the critic"), so the
comparison isolates the use of model rollouts.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

from lompo_bench.algorithms import configs, lompo

NAME = "offline_slac"
PROFILES = {
    name: dataclasses.replace(
        config,
        ensemble=1,
        penalty=0.0,
        real_fraction=1.0,
        initial_latent=0,
        cycle_rollout_batches=0,
        latent_buffer=1,  # never written
        actor="sac",  # SLAC's actor-critic is SAC (LOMPO's official actor is deterministic)
    )
    for name, config in lompo.PROFILES.items()
}


def make_config(profile: str, **overrides: Any) -> lompo.LompoConfig:
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


# LOMPO's keyword-only `train`, its records named after this algorithm.
train = partial(lompo.train, algo=NAME)
load_policy = lompo.load_policy
world_model_key = lompo.world_model_key
train_world_model = lompo.train_world_model
