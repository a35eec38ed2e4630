"""Offline SLAC, the paper's representation-learning baseline: SLAC's recipe (a latent variable model learned from
the image sequences, an actor-critic on its latent states) trained on the offline data only.

Ours runs LOMPO's machinery (`algorithms/lompo.py`) with a single forward model and no imagined data at all:
the actor-critic (SAC, as SLAC's) sees only real transitions inferred from the dataset. A departure from SLAC:
SLAC's actor reads the observation history directly and its critic the sampled latents; here both act on the
filtered latent state, as LOMPO's do ("we deploy model inference for the policy as well as the critic"), so the
comparison isolates the use of model rollouts.
"""

from __future__ import annotations

from lompo_bench.algorithms import lompo
from lompo_bench.algorithms.lompo_config import OFFLINE_SLAC

NAME = "offline_slac"
# LOMPO with one forward model and no imagined data (`lompo_config.OFFLINE_SLAC`, torch-free for planning): its
# profiles so changed, its keyword-only `train` (records named after this algorithm), its policy loading and its
# model phase.
PROFILES, make_config, train, load_policy, world_model_key, train_world_model = lompo.variant(OFFLINE_SLAC)
