"""The paper's dataset kinds, as a precise rule over recorded episodes (episodes are always kept whole).

Appendix A: "medium-replay: data from the training replay buffer up to the point where the policy reaches
about half the expert level performance; medium-expert: the second half of the replay buffer after the agent
reaches medium-level performance; expert: data sampled from the stochastic SAC expert policy."

A kind's episodes depend only on the task, profile, seed and kind, never on which other kinds a `generate` call
writes: the kinds are trimmed from one generator in the fixed order of `KINDS` (`trim_kinds`), and every kind
before the last one written is drawn too (the numbers it takes are what the next kind's draw starts after).

Our rule (stored in every dataset's metadata as `lompo_split_rule`):
1. the expert policy is the better of SAC's final policy and its best-evaluated one (saved at each new best
   evaluation), both re-evaluated on the same 10+ episodes; expert level E = the expert's mean return there
   (deterministic actions); random level R = the task's `ref_min_score` (uniform random policy, 100 episodes).
2. medium threshold M = R + 0.5 (E - R); the medium point is the first evaluation during training whose return
   is >= M (evaluations run every `eval_every` agent steps, at an episode end); if none is, the last one (no
   medium-expert data: generation stops and says so), except in the smoke profile, whose few episodes test code
   paths, not data: there it is the evaluation nearest the middle of training.
3. medium-replay: training episodes that ended at or before the medium point. medium-expert: training episodes
   that started at or after it (the replay buffer's part after medium level, to the end of training).
   expert: rollouts of the expert policy, sampling its stochastic actions.
4. Each kind is trimmed to its size by drawing whole episodes uniformly without replacement (seeded) until the
   size is reached, then restored to recording order. A kind with fewer transitions than its size keeps all.
"""

from __future__ import annotations

import numpy as np

from lompo_bench.data.ids import KINDS
from lompo_bench.dataset_gen.recording import EpisodeRef

SPLIT_RULE = " ".join(line.strip() for line in __doc__.split("Our rule")[1].splitlines()[1:] if line.strip())


def medium_point(
    evals: list[tuple[int, float]],
    random_level: float,
    expert_level: float,
    fraction: float,
    never_reached: str = "last",
) -> int:
    """Agent step of the first evaluation at or above the medium threshold; if none is, the last evaluation
    (`never_reached="last"`) or the one nearest the middle of training (`"middle"`, the smoke profile's)."""
    if not evals:
        raise ValueError("training recorded no evaluation; the medium point is undefined")
    threshold = random_level + fraction * (expert_level - random_level)
    for step, level in evals:
        if level >= threshold:
            return step
    if never_reached == "middle":
        middle = evals[-1][0] / 2
        return min((step for step, _ in evals), key=lambda step: (abs(step - middle), step))
    return evals[-1][0]


def split_training_episodes(episodes: list[EpisodeRef], point: int) -> tuple[list[EpisodeRef], list[EpisodeRef]]:
    """(medium-replay, medium-expert) candidates: episodes that ended by `point`, and those that began after it."""
    before = [e for e in episodes if e.start_step + e.length <= point]
    after = [e for e in episodes if e.start_step >= point]
    return before, after


def trim_to_size(episodes: list[EpisodeRef], size: int, rng: np.random.Generator) -> list[EpisodeRef]:
    """Whole episodes drawn without replacement until `size` transitions, kept in their original order."""
    chosen, total = [], 0
    # The whole permutation is drawn whatever the size, so what a later draw from `rng` gets depends on this
    # list's length only (`trim_kinds` relies on it; drawing lazily would change every published dataset).
    for i in rng.permutation(len(episodes)):
        if total >= size:
            break
        chosen.append(int(i))
        total += episodes[int(i)].length
    return [episodes[i] for i in sorted(chosen)]


def trim_kinds(
    candidates: dict[str, list[EpisodeRef]], sizes: dict[str, int], seed: int
) -> dict[str, list[EpisodeRef]]:
    """Each kind of `candidates` trimmed to its size by one generator seeded with `seed`, in the order of `KINDS`
    (medium-replay, medium-expert, expert: the order every `--kind all` run has drawn in, so its datasets keep
    their content). A kind's draw starts where the previous kind's permutation left the generator, so
    `candidates` must hold every kind before the last one it holds; a kind nobody writes may have no episodes."""
    held = [kind for kind in KINDS if kind in candidates]
    if held != list(KINDS[: len(held)]) or len(held) != len(candidates):
        raise ValueError(f"candidates must be a prefix of {KINDS} (kinds drawn in that order), not {list(candidates)}")
    rng = np.random.default_rng(seed)
    return {kind: trim_to_size(candidates[kind], sizes[kind], rng) for kind in held}


def subsample(episodes: list[EpisodeRef], factor: int, rng: np.random.Generator) -> list[EpisodeRef]:
    """Every `factor`-th of the transitions, as whole episodes drawn at random (the ablation's /5 and /25)."""
    return trim_to_size(episodes, sum(e.length for e in episodes) // factor, rng)
