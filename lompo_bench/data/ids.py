"""The names of our datasets, in one place: the kinds of Table I, the ablation's sub-sampling factors, and the
Minari id rules. The dataset maker (`dataset_gen`) and the leaderboard both ask here, so naming a dataset needs
neither the maker nor MuJoCo."""

from __future__ import annotations

from lompo_bench.errors import UserError

KINDS = ("medium-replay", "medium-expert", "expert")

# The version of each task's datasets (the `-vN` of their ids). The rule, as Minari's: a dataset id names one
# content for good. Bump a task's version whenever what `generate` writes for it changes: its steps (observations,
# actions, rewards, flags: a changed task, renderer, SAC set-up, split rule or profile size) or its reference
# scores (`ref_min_score`, `ref_max_score`). Descriptive metadata (author, description, docs_url, requirements) may
# be corrected under the same version. Imported datasets keep the version they were published under.
DATASET_VERSIONS = {
    "walker_walk": 0,
    "dclaw_screw": 0,
    # v1: Pen's datasets were regenerated (the task changed) and had been written again under v0.
    "adroit_pen": 1,
    "door_open": 0,
}
# Appendix B: D'Claw medium-expert of 1M transitions from 3 SAC runs, sub-sampled by 5 and 25.
ABLATION_FACTORS = (1, 5, 25)


def dataset_id(task: str, kind: str, profile: str) -> str:
    """Minari id of a dataset: `lompo/<task>/<kind>-vN` for the paper profile, the profile in the name otherwise,
    so a small dataset never overwrites a paper-size one; N is the task's `DATASET_VERSIONS` entry."""
    suffix = "" if profile == "paper" else f"-{profile}"
    return f"lompo/{task}/{kind}{suffix}-v{DATASET_VERSIONS[task]}"


def ablation_dataset_id(factor: int, profile: str) -> str:
    name = "medium-expert-ablation" if factor == 1 else f"medium-expert-ablation-div{factor}"
    suffix = "" if profile == "paper" else f"-{profile}"
    return f"lompo/dclaw_screw/{name}{suffix}-v{DATASET_VERSIONS['dclaw_screw']}"


def resolve_kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    """`"all"`, one kind, kinds joined by commas, or a tuple of kinds, as a checked tuple; `UserError` naming the
    first unknown one."""
    kinds = KINDS if kind == "all" else (tuple(kind.split(",")) if isinstance(kind, str) else tuple(kind))
    for name in kinds:
        if name not in KINDS:
            raise UserError(f"unknown dataset kind {name!r}; choose from {', '.join(KINDS)} or all")
    return kinds
