"""Writing Minari datasets one episode at a time, losslessly, and atomically.

Minari 0.5.4 JPEG-encodes image observations unless told otherwise; we store raw pixels (`jpeg_encoding=False`).
`MinariStorage.new` + `update_episodes` per episode keeps memory at one episode however large the dataset (the
helper `create_dataset_from_buffers` wants every episode in one list). The dataset is built in a hidden sibling
folder (Minari skips hidden folders) and renamed into place at the end, so a half-written dataset is never
visible under its id: a killed write leaves only the hidden folder, which the next run deletes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dataset_gen.recording import Episode
from lompo_bench.data.store import datasets_root


def dataset_dir(dataset_id: str) -> Path:
    """Where dataset `dataset_id` lives (or will), under Minari's root."""
    return datasets_root() / dataset_id


def code_permalink() -> str:
    """The git commit of this code (with `-dirty` for uncommitted changes), or the package version outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True).stdout
        return f"lompo-bench@{commit}" + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        from lompo_bench import __version__

        return f"lompo-bench=={__version__}"


def write_dataset(
    dataset_id: str,
    env_spec: gym.envs.registration.EnvSpec,
    observation_space: gym.spaces.Dict,
    action_space: gym.spaces.Box,
    episodes: Iterable[tuple[Episode, np.ndarray]],
    metadata: dict[str, Any],
    extra_files: dict[str, Path] | None = None,
) -> Path:
    """Write (episode, pixels) pairs as the Minari dataset `dataset_id`; returns its folder.

    `extra_files` are copied into the dataset folder beside Minari's `data/` (e.g. the SAC expert policy).
    """
    from minari.data_collector import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    final = dataset_dir(dataset_id)
    partial = final.parent / f".{final.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    storage = MinariStorage.new(
        partial / "data",
        observation_space=observation_space,
        action_space=action_space,
        env_spec=env_spec,
        data_format="hdf5",
        jpeg_encoding=False,
    )
    for episode, pixels in episodes:
        observations = {"pixels": np.asarray(pixels)}
        if "proprio" in observation_space.spaces:
            observations["proprio"] = episode.proprio
        observations["state"] = episode.state
        storage.update_episodes(
            [
                EpisodeBuffer(
                    observations=observations,
                    actions=episode.actions,
                    rewards=list(episode.rewards),
                    terminations=list(episode.terminations),
                    truncations=list(episode.truncations),
                )
            ]
        )
    storage.update_metadata({"dataset_id": dataset_id, "minari_version": _minari_version(), **metadata})
    for name, source in (extra_files or {}).items():
        shutil.copy2(source, partial / name)
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return final


def _minari_version() -> str:
    import minari

    return minari.__version__
