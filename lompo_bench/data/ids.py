"""The names of our datasets, in one place: the kinds of Table I, the ablation's sub-sampling factors, and the
Minari id rules. The dataset maker (`dataset_gen`) and the leaderboard both ask here, so naming a dataset needs
neither the maker nor MuJoCo."""

from __future__ import annotations

from lompo_bench.errors import UserError

KINDS = ("medium-replay", "medium-expert", "expert")
# Appendix B: D'Claw medium-expert of 1M transitions from 3 SAC runs, sub-sampled by 5 and 25.
ABLATION_FACTORS = (1, 5, 25)


def dataset_id(task: str, kind: str, profile: str) -> str:
    """Minari id of a dataset: `lompo/<task>/<kind>-v0` for the paper profile, the profile in the name otherwise,
    so a small dataset never overwrites a paper-size one."""
    suffix = "" if profile == "paper" else f"-{profile}"
    return f"lompo/{task}/{kind}{suffix}-v0"


def ablation_dataset_id(factor: int, profile: str) -> str:
    name = "medium-expert-ablation" if factor == 1 else f"medium-expert-ablation-div{factor}"
    suffix = "" if profile == "paper" else f"-{profile}"
    return f"lompo/dclaw_screw/{name}{suffix}-v0"


def resolve_kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    """`"all"`, one kind, kinds joined by commas, or a tuple of kinds, as a checked tuple; `UserError` naming the
    first unknown one."""
    kinds = KINDS if kind == "all" else (tuple(kind.split(",")) if isinstance(kind, str) else tuple(kind))
    for name in kinds:
        if name not in KINDS:
            raise UserError(f"unknown dataset kind {name!r}; choose from {', '.join(KINDS)} or all")
    return kinds
