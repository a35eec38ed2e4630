"""The reset-seed blocks of `lompo_bench.seeds`: an algorithm's evaluation never starts an episode where dataset
generation (SAC evaluations, the expert choice, expert rollouts, the random reference) or another evaluation does."""

from __future__ import annotations

from lompo_bench import seeds
from lompo_bench.dataset_gen.config import PROFILES as GENERATION_PROFILES
from lompo_bench.dataset_gen.config import generation_config
from lompo_bench.dataset_gen.experts import expert_episodes
from lompo_bench.dataset_gen.reference import RANDOM_EPISODES
from lompo_bench.tasks import task_names

RUN_SEEDS = range(100)
EPISODES = 1_000  # more evaluation episodes than any profile runs


def generation_seeds() -> set[int]:
    used = set(range(RANDOM_EPISODES))
    for task in task_names():
        for profile in GENERATION_PROFILES:
            config = generation_config(task, profile)
            last_eval = seeds.EXPERT_TRAINING_EVALUATION + config.sac_steps
            used.update(range(seeds.EXPERT_TRAINING_EVALUATION, last_eval + config.eval_episodes))
            used.update(range(seeds.EXPERT_CHOICE, seeds.EXPERT_CHOICE + expert_episodes(config)))
            for seed in range(10):
                used.update(seeds.expert_rollout_seed(seed, episode) for episode in range(seeds.ROLLOUTS_PER_SEED))
    return used


def test_evaluation_seeds_never_start_where_generation_or_another_evaluation_does() -> None:
    evaluation = {seeds.evaluation_seed(s) + e for s in RUN_SEEDS for e in range(EPISODES)}
    reevaluation = {seeds.reevaluation_seed(s) + e for s in RUN_SEEDS for e in range(EPISODES)}
    assert len(evaluation) == len(reevaluation) == len(RUN_SEEDS) * EPISODES  # no two runs share a start
    assert not evaluation & reevaluation
    generation = generation_seeds()
    assert not evaluation & generation and not reevaluation & generation
    assert max(reevaluation) < 2**31 - 1  # every simulator takes it
