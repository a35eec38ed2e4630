"""LMBRL, the paper's latent model-based baseline: "an MBPO based model, which also carries out policy rollouts in
latent space similar to LOMPO, but does not apply an uncertainty penalty" (Section V-A).

It is LOMPO's machinery (`algorithms/lompo.py`: the same variational model with its forward ensemble, MBPO-style
rollouts through a random member, the same 50/50 real/imagined actor-critic) with the penalty switched off, so a
difference between the two in the table is the penalty's doing and nothing else.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

from lompo_bench.algorithms import configs, lompo

NAME = "lmbrl"
PROFILES = {name: dataclasses.replace(config, penalty=0.0) for name, config in lompo.PROFILES.items()}


def make_config(profile: str, **overrides: Any) -> lompo.LompoConfig:
    return configs.pick_profile(NAME, PROFILES, profile, **overrides)


# LOMPO's keyword-only `train`, its records named after this algorithm.
train = partial(lompo.train, algo=NAME)
load_policy = lompo.load_policy
world_model_key = lompo.world_model_key
train_world_model = lompo.train_world_model
