"""LMBRL, the paper's latent model-based baseline: "an MBPO based model, which also carries out policy rollouts in
latent space similar to LOMPO, but does not apply an uncertainty penalty" (Section V-A).

It is LOMPO's machinery (`algorithms/lompo.py`: the same variational model with its forward ensemble, MBPO-style
rollouts through a random member, the same 50/50 real/imagined actor-critic) with the penalty switched off, so a
difference between the two in the table is the penalty's doing and nothing else.
"""

from __future__ import annotations

from lompo_bench.algorithms import lompo
from lompo_bench.algorithms.lompo_config import LMBRL

NAME = "lmbrl"
# LOMPO with the penalty switched off (`lompo_config.LMBRL`, torch-free for planning): its profiles so changed, its
# keyword-only `train` (records named after this algorithm), its policy loading and its (shared) model phase.
PROFILES, make_config, train, load_policy, world_model_key, train_world_model = lompo.variant(LMBRL)
