"""The one registry of tasks: names, aliases, tags and the per-task facts every later layer reads.

Each source module (dm_control, gymnasium-robotics, Meta-World, our own D'Claw) adds its tasks here at import
time. A name or alias that is already taken is refused, so two modules can never shadow each other's task.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lompo_bench.errors import UnknownTaskError

if TYPE_CHECKING:
    from lompo_bench.tasks.core import Simulator


@dataclass(frozen=True)
class TaskSpec:
    """Everything fixed about a task. One place for each fact: episode settings, camera, reference metadata."""

    name: str
    source: str  # the library the physics comes from: "dm_control", "gymnasium-robotics", "metaworld", "lompo"
    make_simulator: Callable[[], Simulator]  # builds a fresh simulator (lazily imports its library)
    action_repeat: int  # the paper's action repeat; rewards are summed over the repeats
    episode_length: int  # agent steps (after action repeat) until truncation
    camera: str | int  # MuJoCo camera (name or id) that the `pixels` observation is rendered from
    description: str
    aliases: tuple[str, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)
    flip_vertical: bool = False  # Meta-World's corner cameras look at the scene upside down
    randomized_start: bool = True  # whether different seeds give different initial states
    reward_kind: str = "dense"  # "dense" or "sparse", as the paper describes the task
    # Normalized score = 100 (R - ref_min_score) / (ref_max_score - ref_min_score), fixed here so that it means
    # the same on every machine. ref_min_score: uniform random policy, 100 episodes (`python -m
    # dataset_gen.reference`). ref_max_score: the paper-profile SAC expert; None until one has been trained,
    # and `ref_provisional` stays True until then (datasets then carry their own expert's return, flagged).
    ref_min_score: float | None = None
    ref_max_score: float | None = None
    ref_provisional: bool = True

    @property
    def gym_id(self) -> str:
        """The gymnasium id the task is registered under, and that Minari datasets record as their env spec."""
        return f"lompo_bench/{self.name}-v0"

    @property
    def env_steps_per_episode(self) -> int:
        """Underlying simulator steps per episode (agent steps times action repeat)."""
        return self.episode_length * self.action_repeat


class TaskRegistry:
    """Maps task names and aliases to specs; refuses duplicates; answers unknown names with close matches."""

    def __init__(self) -> None:
        self._specs: dict[str, TaskSpec] = {}
        self._lookup: dict[str, str] = {}  # name or alias -> name

    def add(self, spec: TaskSpec) -> TaskSpec:
        for key in (spec.name, *spec.aliases):
            if key in self._lookup:
                raise ValueError(f"task name or alias {key!r} is already registered for {self._lookup[key]!r}")
        self._specs[spec.name] = spec
        for key in (spec.name, *spec.aliases):
            self._lookup[key] = spec.name
        return spec

    def resolve(self, name_or_alias: str) -> str:
        """The canonical task name for a name or alias; UnknownTaskError naming the close matches otherwise."""
        key = name_or_alias.strip().lower().replace("-", "_")
        if key in self._lookup:
            return self._lookup[key]
        close = difflib.get_close_matches(key, list(self._lookup), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownTaskError(f"unknown task {name_or_alias!r}.{hint} Known tasks: {', '.join(self.names())}.")

    def get(self, name_or_alias: str) -> TaskSpec:
        return self._specs[self.resolve(name_or_alias)]

    def names(self, tag: str | None = None) -> list[str]:
        """Task names in registration order, optionally only those carrying `tag`."""
        return [name for name, spec in self._specs.items() if tag is None or tag in spec.tags]

    def __iter__(self) -> Iterator[TaskSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, name_or_alias: object) -> bool:
        return isinstance(name_or_alias, str) and name_or_alias in self._lookup


TASKS = TaskRegistry()
