"""The one registry of algorithms: name -> the module holding its config, profiles, whole update and `train`.

The contract is `Algorithm`: a module is an algorithm when it has what the protocol lists (a type checker holds
a module to a protocol, and `tests/test_algorithms.py` holds every registered one to it at run time). Those with a
latent world model that runs can share (LOMPO, LMBRL, Offline SLAC) are also a `WorldModelAlgorithm`, so a
scheduler can train each shared model once, as a job of its own, before the runs that use it. Every call is made
with keyword arguments.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from lompo_bench.errors import UserError

if TYPE_CHECKING:
    import torch

    from lompo_bench.progress import Progress


@runtime_checkable
class Algorithm(Protocol):
    NAME: str  # the registry key, and the `algo` of its result records
    PROFILES: dict[str, Any]  # "smoke", "cpu", "paper" -> a frozen config dataclass

    def make_config(self, profile: str, **overrides: Any) -> Any:
        """The profile's config with `overrides` (config field -> value) applied; `UserError` for a bad one."""

    def train(
        self,
        *,
        dataset_id: str,
        task: str,
        profile: str,
        config: Any,
        folder: Path,
        seed: int,
        device: torch.device,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Train (resuming `folder`'s checkpoint), evaluate, and return the result record (also in `folder`)."""

    def load_policy(self, folder: Path, device: torch.device) -> Any:
        """The trained policy of a run folder: `reset()` at an episode start, `act(observation) -> action`."""


@runtime_checkable
class WorldModelAlgorithm(Algorithm, Protocol):
    def world_model_key(self, config: Any, task: str) -> str:
        """A digest of what decides the world model: runs with equal keys share one."""

    def train_world_model(
        self,
        *,
        dataset_id: str,
        task: str,
        config: Any,
        seed: int,
        device: torch.device,
        root: Path,
        progress: Progress | None = None,
        tensorboard: bool = False,
    ) -> Path:
        """Train the shared world model under the runs root `root` (or find it trained); returns its folder."""


# name -> module path; imported on use, so listing algorithms needs no torch.
ALGORITHMS: dict[str, str] = {
    "lompo": "algorithms.lompo",
    "lmbrl": "algorithms.lmbrl",
    "offline_slac": "algorithms.offline_slac",
    "cql": "algorithms.cql",
    "bc": "algorithms.bc",
}
DESCRIPTIONS: dict[str, str] = {
    "lompo": "LOMPO: variational latent model with a forward ensemble, penalized latent rollouts, latent actor-critic",
    "lmbrl": "latent model-based RL (MBPO-style latent rollouts): LOMPO without the uncertainty penalty",
    "offline_slac": "Offline SLAC: the same latent model, SAC on inferred real transitions only",
    "cql": "CQL(H) from stacked frames: conservative SAC with a DrQ-style encoder",
    "bc": "behavior cloning from stacked frames",
}


def algorithm_names() -> list[str]:
    return list(ALGORITHMS)


def get_algorithm(name: str) -> Algorithm:
    """The algorithm's module; a one-line `UserError` with close matches for an unknown name."""
    key = name.lower().replace("-", "_")
    if key not in ALGORITHMS:
        close = difflib.get_close_matches(key, ALGORITHMS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown algorithm {name!r}{hint}; known: {', '.join(ALGORITHMS)}")
    return importlib.import_module(ALGORITHMS[key])
