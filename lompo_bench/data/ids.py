"""The names of our datasets, in one place: the kinds of Table I, the ablation's sub-sampling factors, the frame
size of each (task, profile), and the Minari id rules. The dataset maker (`dataset_gen`), the algorithms and the
leaderboard all ask here, so naming a dataset needs neither the maker nor MuJoCo."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lompo_bench.errors import UserError

KINDS = ("medium-replay", "medium-expert", "expert")

# The frame size (pixels a side) of the paper's images per task. The official LOMPO code picks its conv networks by
# image size, not by task (`_build_model`: `im_size == 64` takes the 4-layer `ConvEncoder` / `ConvDecoder`, any
# other size the 5-layer `ConvEncoderLarge` / `ConvDecoderLarge`, built for 128 px: 128 -> 63 -> 30 -> 14 -> 6 -> 2
# with valid padding). Appendix C gives D'Claw Screw, Adroit Pen and Door Open 5-layer encoders, so their images
# were 128 px; Walker's 4 layers are the 64 px nets.
PAPER_IMAGE_SIZES = {"walker_walk": 64, "dclaw_screw": 128, "adroit_pen": 128, "door_open": 128}
# Every dataset of the cpu and smoke profiles, and any task the paper does not have, is 64 px: a departure for
# cost (128 px is 4x the pixels to render, store and learn from).
DEFAULT_IMAGE_SIZE = 64


def dataset_image_size(task: str, profile: str) -> int:
    """The frame size `generate` renders `task`'s datasets at under `profile` (and that a policy trained on them
    is evaluated at): the paper's (`PAPER_IMAGE_SIZES`) at the paper profile, 64 px otherwise."""
    return PAPER_IMAGE_SIZES.get(task, DEFAULT_IMAGE_SIZE) if profile == "paper" else DEFAULT_IMAGE_SIZE


# The version of each task's datasets (the `-vN` of their ids). The rule, as Minari's: a dataset id names one
# content for good. Bump a task's version whenever what `generate` writes for it changes: its steps (observations,
# actions, rewards, flags: a changed task, renderer, SAC set-up, split rule or profile size) or its reference
# scores (`ref_min_score`, `ref_max_score`). Descriptive metadata (author, description, docs_url, requirements) may
# be corrected under the same version. Imported datasets keep the version they were published under.
# `dataset_version` answers for a (task, profile): these entries, one above them where the profile renders at
# another size than 64 px (see there).
DATASET_VERSIONS = {
    "walker_walk": 0,
    "dclaw_screw": 0,
    # v1: Pen's datasets were regenerated (the task changed) and had been written again under v0.
    "adroit_pen": 1,
    "door_open": 0,
}
# Appendix B: D'Claw medium-expert of 1M transitions from 3 SAC runs, sub-sampled by 5 and 25.
ABLATION_FACTORS = (1, 5, 25)


def dataset_version(task: str, profile: str) -> int:
    """The `-vN` of `task`'s datasets under `profile`: the task's `DATASET_VERSIONS` entry, plus one where the
    profile renders at another size than 64 px (`dataset_image_size`). The paper profile's D'Claw, Pen and Door
    datasets became 128 px (issue 31): a content their earlier paper-profile ids (64 px) named otherwise, so those
    ids moved one version up (D'Claw and Door v1, Pen v2, the D'Claw ablation's too), while the cpu and smoke
    profiles' ids, whose content did not change, stay where they were. A later bump of a task's entry moves all
    its ids on together, so no id ever comes back to an earlier content."""
    return DATASET_VERSIONS[task] + (1 if dataset_image_size(task, profile) != DEFAULT_IMAGE_SIZE else 0)


def dataset_id(task: str, kind: str, profile: str) -> str:
    """Minari id of a dataset: `lompo/<task>/<kind>-vN` for the paper profile, the profile in the name otherwise,
    so a small dataset never overwrites a paper-size one; N is `dataset_version(task, profile)`."""
    suffix = "" if profile == "paper" else f"-{profile}"
    return str(DatasetId(("lompo", task), f"{kind}{suffix}", dataset_version(task, profile)))


def ablation_dataset_id(factor: int, profile: str) -> str:
    name = "medium-expert-ablation" if factor == 1 else f"medium-expert-ablation-div{factor}"
    suffix = "" if profile == "paper" else f"-{profile}"
    return str(DatasetId(("lompo", "dclaw_screw"), f"{name}{suffix}", dataset_version("dclaw_screw", profile)))


def resolve_kinds(kind: str | tuple[str, ...]) -> tuple[str, ...]:
    """`"all"`, one kind, kinds joined by commas, or a tuple of kinds, as a checked tuple; `UserError` naming the
    first unknown one."""
    kinds = KINDS if kind == "all" else (tuple(kind.split(",")) if isinstance(kind, str) else tuple(kind))
    for name in kinds:
        if name not in KINDS:
            raise UserError(f"unknown dataset kind {name!r}; choose from {', '.join(KINDS)} or all")
    return kinds


# A dataset id or kind given by a user (`import vd4rl --id/--kind`) names folders inside the datasets folder and
# nothing else: Minari's form `namespace/.../name-vN`, each part ASCII letters, digits, '-' and '_' (so no '..', no
# '/' at either end or twice, no spaces), as every id `dataset_id` makes is.
_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_DATASET_ID = re.compile(rf"(?:{_NAME}/){{0,7}}{_NAME}-v[0-9]{{1,6}}")
_KIND = re.compile(_NAME)


def check_dataset_id(dataset_id: str) -> str:
    """`dataset_id` when it is one (`_DATASET_ID`); `UserError` otherwise."""
    if not isinstance(dataset_id, str) or not _DATASET_ID.fullmatch(dataset_id):
        raise UserError(
            f"{dataset_id!r} is not a dataset id: namespace/name-vN (like vd4rl/walker_walk/expert-v0), each part "
            "made of letters, digits, '-' and '_'"
        )
    return dataset_id


def check_kind_name(kind: str) -> str:
    """`kind` when it can be a dataset id's name (letters, digits, '-' and '_'); `UserError` otherwise."""
    if not isinstance(kind, str) or not _KIND.fullmatch(kind):
        raise UserError(f"{kind!r} is not a dataset kind: letters, digits, '-' and '_' (like medium-replay)")
    return kind


@dataclass(frozen=True)
class DatasetId:
    """A dataset id as a value: its namespaces, its name and its version, as Minari forms it (`namespace/.../name-vN`,
    `check_dataset_id`'s rules). Ours are `lompo/<task>/<kind>[-<profile>]-vN` (`dataset_id`). `parse` reads one,
    `format()` (or `str()`) writes it back as the same text."""

    namespace: tuple[str, ...]  # ("lompo", "walker_walk"); () for an id with none
    name: str  # "medium-expert-cpu": the kind, and the profile where it is not the paper's
    version: int  # the N of -vN

    @classmethod
    def parse(cls, text: str) -> DatasetId:
        """The id `text` names; a one-line `UserError` when it is none (`check_dataset_id`), or its version has a
        leading zero (which would not read back as the same text)."""
        *namespace, leaf = check_dataset_id(text).split("/")
        name, _, version = leaf.rpartition("-v")
        if version != str(int(version)):
            raise UserError(f"{text!r} is not a dataset id: its version -v{version} has a leading zero")
        return cls(tuple(namespace), name, int(version))

    def format(self) -> str:
        return "/".join((*self.namespace, self.leaf))

    def __str__(self) -> str:
        return self.format()

    @property
    def leaf(self) -> str:
        """The last part of the id: `name-vN` (`medium-expert-cpu-v0`)."""
        return f"{self.name}-v{self.version}"

    @property
    def task(self) -> str | None:
        """The task of an id `<namespace>/<task>/<name>-vN` (ours, V-D4RL's): its innermost namespace; None when it
        has none."""
        return self.namespace[-1] if self.namespace else None

    @property
    def top(self) -> str:
        """The id's first part: its outermost namespace (a Hugging Face repository's name), or the leaf when it has
        none."""
        return self.namespace[0] if self.namespace else self.leaf

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The namespaces the id sits in, outermost first: `lompo`, `lompo/walker_walk`."""
        return tuple("/".join(self.namespace[:depth]) for depth in range(1, len(self.namespace) + 1))
