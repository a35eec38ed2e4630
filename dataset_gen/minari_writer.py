"""Generated datasets into Minari: recorded episodes plus rendered pixels, through the data layer's writer
(`lompo_bench.data.writer`: lossless, one episode at a time, atomic)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lompo_bench.data.writer import write_minari_dataset
from lompo_bench.dataset_gen.recording import Episode


def write_dataset(
    dataset_id: str,
    env_spec: gym.envs.registration.EnvSpec,
    observation_space: gym.spaces.Dict,
    action_space: gym.spaces.Box,
    episodes: Iterable[tuple[Episode, np.ndarray]],
    metadata: dict[str, Any],
    extra_files: dict[str, Path] | None = None,
    *,
    replace: bool = True,
) -> Path:
    """Write recorded episodes with their rendered pixels as the Minari dataset `dataset_id`; returns its folder.
    `replace`: as `write_minari_dataset`'s."""

    def as_minari() -> Iterator[dict[str, Any]]:
        for episode, pixels in episodes:
            observations = {"pixels": np.asarray(pixels)}
            if "proprio" in observation_space.spaces:
                observations["proprio"] = episode.proprio
            observations["state"] = episode.state
            yield {
                "observations": observations,
                "actions": episode.actions,
                "rewards": episode.rewards,
                "terminations": episode.terminations,
                "truncations": episode.truncations,
            }

    return write_minari_dataset(
        dataset_id, env_spec, observation_space, action_space, as_minari(), metadata, extra_files, replace=replace
    )
