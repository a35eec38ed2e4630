"""The one registry of algorithms: name -> the module holding its config, profiles, whole update and `train`.

Each module exposes NAME, PROFILES (smoke / cpu / paper), make_config(profile, **overrides),
train(dataset_id, task, profile, config, folder, seed, device, progress) -> result record, and
load_policy(folder, device) -> a policy with reset() / act(observation).
Those with a latent world model that runs can share (LOMPO, LMBRL, Offline SLAC) also expose
world_model_key(config, task) -> str and train_world_model(dataset_id, task, config, seed, device, root, progress),
so a scheduler can train each shared model once, as a job of its own, before the runs that use it.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from lompo_bench.errors import UserError

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


def get_algorithm(name: str) -> ModuleType:
    """The algorithm's module; a one-line `UserError` with close matches for an unknown name."""
    key = name.lower().replace("-", "_")
    if key not in ALGORITHMS:
        close = difflib.get_close_matches(key, ALGORITHMS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(f"unknown algorithm {name!r}{hint}; known: {', '.join(ALGORITHMS)}")
    return importlib.import_module(ALGORITHMS[key])
