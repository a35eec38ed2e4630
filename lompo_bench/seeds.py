"""Every environment reset seed the project uses, named once, each purpose in its own block.

A reset seed fixes an episode's initial state, so the rule is: an algorithm's evaluation never starts an episode
from a seed that made a dataset episode, or that any other purpose uses. Where each seed goes:

Dataset generation (these seeds are part of what a dataset version contains; they stay as the datasets were made):
- SAC's training env and SB3's own generators: the generation seed s (0, 1, 2, ...; `SAC(seed=s)`), and `s + 1`
  for the expert's action sampling in its rollouts;
- expert evaluations during SAC training: `EXPERT_TRAINING_EVALUATION + step`, step < the SAC run's length;
- the expert choice between the final and best policies: `EXPERT_CHOICE + episode`;
- expert rollouts (the expert and medium-expert datasets' expert half): `EXPERT_ROLLOUTS + s * 1000 + episode`.
  The three generation blocks overlap one another in long SAC runs (an evaluation at step 20,000 starts where
  rollout 0 of generation seed 0 does): harmless for the datasets, and left as is, since moving them would change
  the datasets' content.
- the random-policy reference return: seeds `0 .. RANDOM_EPISODES - 1`.

Algorithms (above every generation block: 10^9 > any step count a SAC run reaches):
- a run of seed s, evaluated during training and at the end: `evaluation_seed(s) + episode`;
- `lompo-bench evaluate`, a fresh sample of start states for the same run: `reevaluation_seed(s) + episode`.
"""

from __future__ import annotations

from lompo_bench.errors import UserError

EXPERT_TRAINING_EVALUATION = 10_000
EXPERT_CHOICE = 20_000
EXPERT_ROLLOUTS = 30_000
ROLLOUTS_PER_SEED = 1_000  # room for each generation seed's expert episodes
# Algorithm evaluations: their own blocks, far from generation's.
EVALUATION = 1_000_000_000
REEVALUATION = 1_500_000_000
EPISODES_PER_SEED = 10_000  # room for each run seed's evaluation episodes (reset seeds stay below 2**31)


# The seeds a user may pass, so that every reset seed above stays below 2**31 (what every task's simulator takes):
MAX_RUN_SEED = (2**31 - REEVALUATION) // EPISODES_PER_SEED - 1  # a run's: 64,747
MAX_GENERATION_SEED = (2**31 - EXPERT_ROLLOUTS) // ROLLOUTS_PER_SEED - 1  # a dataset generation's: 2,147,452


def check_run_seed(seed: int) -> int:
    """A training or evaluation run's seed, or one line (UserError) saying which seeds are valid."""
    return _check("seed", seed, MAX_RUN_SEED)


def check_generation_seed(seed: int) -> int:
    """A dataset generation's seed, or one line (UserError) saying which seeds are valid."""
    return _check("generation seed", seed, MAX_GENERATION_SEED)


def _check(what: str, seed: int, top: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= top:
        raise UserError(f"the {what} must be a whole number from 0 to {top:,}, not {seed!r}")
    return seed


def expert_rollout_seed(seed: int, episode: int) -> int:
    return EXPERT_ROLLOUTS + seed * ROLLOUTS_PER_SEED + episode


def evaluation_seed(seed: int) -> int:
    """The first reset seed of a run's evaluation episodes (during training and at the end)."""
    return EVALUATION + seed * EPISODES_PER_SEED


def reevaluation_seed(seed: int) -> int:
    """The first reset seed of `lompo-bench evaluate`'s episodes for a finished run."""
    return REEVALUATION + seed * EPISODES_PER_SEED
