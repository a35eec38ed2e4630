"""What `lompo-bench datasets list / info / verify` report about local datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lompo_bench.data.cache import read_manifest, verify_cache
from lompo_bench.data.store import (
    CorruptDataset,
    dataset_path,
    hdf5_file,
    load_minari,
    local_dataset_ids,
    read_metadata,
)


@dataclass(frozen=True)
class DatasetSummary:
    dataset_id: str
    transitions: int
    episodes: int
    bytes_on_disk: int
    profile: str  # lompo profile, or "-" for datasets made elsewhere (e.g. imported)
    provisional_reference: bool | None  # None when the dataset carries no lompo reference flag
    cached: bool


def _folder_bytes(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def summarize(dataset_id: str) -> DatasetSummary:
    metadata = read_metadata(dataset_id)
    return DatasetSummary(
        dataset_id,
        int(metadata.get("total_steps", 0)),
        int(metadata.get("total_episodes", 0)),
        _folder_bytes(dataset_path(dataset_id)),
        str(metadata.get("lompo_profile", "-")),
        metadata.get("lompo_reference_provisional"),
        read_manifest(dataset_id) is not None,
    )


def list_datasets() -> list[DatasetSummary]:
    return [summarize(ds_id) for ds_id in local_dataset_ids()]


def episode_returns(dataset_id: str) -> np.ndarray:
    """Return of every episode, reading only the rewards (Minari's HDF5: one `episode_<i>/rewards` per episode);
    iterating Minari episodes would read every frame of a dataset that may be 12 GB."""
    import h5py

    path = hdf5_file(dataset_id)
    try:
        with h5py.File(path, "r") as f:
            keys = sorted((k for k in f if k.startswith("episode_")), key=lambda k: int(k.split("_")[1]))
            return np.array([float(np.sum(f[k]["rewards"][()])) for k in keys])
    except (OSError, KeyError, ValueError) as error:
        raise CorruptDataset(f"cannot read {path}: {type(error).__name__}: {error}") from None


def info(dataset_id: str) -> dict[str, Any]:
    """Metadata worth showing, and a summary of the episode returns (quantiles and a 10-bin histogram)."""
    metadata = read_metadata(dataset_id)
    returns = episode_returns(dataset_id)
    counts, edges = np.histogram(returns, bins=10) if len(returns) else (np.zeros(0), np.zeros(1))
    shown = {k: v for k, v in metadata.items() if k not in ("observation_space", "action_space", "lompo_split_rule")}
    return {
        "metadata": shown,
        "split_rule": metadata.get("lompo_split_rule"),
        "returns": {
            "episodes": len(returns),
            **(
                {
                    "min": float(returns.min()),
                    "p25": float(np.percentile(returns, 25)),
                    "median": float(np.median(returns)),
                    "mean": float(returns.mean()),
                    "p75": float(np.percentile(returns, 75)),
                    "max": float(returns.max()),
                }
                if len(returns)
                else {}
            ),
            "histogram": {"counts": counts.astype(int).tolist(), "edges": edges.tolist()},
        },
    }


def verify(dataset_id: str) -> list[str]:
    """Integrity problems (empty list: sound). Reads every episode once; checks the cache if one is built."""
    problems = []
    metadata = read_metadata(dataset_id)
    try:
        dataset = load_minari(dataset_id)
        spaces = dataset.observation_space.spaces
        steps = episodes = 0
        for episode in dataset.iterate_episodes():
            n = len(episode.actions)
            where = f"episode {episode.id}"
            for key, space in spaces.items():
                obs = episode.observations[key]
                if obs.shape != (n + 1, *space.shape) or obs.dtype != space.dtype:
                    problems.append(
                        f"{where}: {key} is {obs.dtype}{obs.shape}, expected {space.dtype}{(n + 1, *space.shape)}"
                    )
            if episode.actions.shape[1:] != dataset.action_space.shape:
                problems.append(f"{where}: actions of shape {episode.actions.shape}")
            ends = np.logical_or(episode.terminations, episode.truncations)
            if n and (not ends[-1] or ends[:-1].any()):
                problems.append(f"{where}: episode boundary flags are not set on the last step only")
            if len(episode.rewards) != n:
                problems.append(f"{where}: {len(episode.rewards)} rewards for {n} actions")
            steps, episodes = steps + n, episodes + 1
    except (OSError, KeyError, ValueError) as error:
        raise CorruptDataset(f"cannot read {hdf5_file(dataset_id)}: {type(error).__name__}: {error}") from None
    if (steps, episodes) != (metadata.get("total_steps"), metadata.get("total_episodes")):
        problems.append(
            f"holds {steps} steps in {episodes} episodes; metadata says "
            f"{metadata.get('total_steps')} in {metadata.get('total_episodes')}"
        )
    if read_manifest(dataset_id) is not None:
        problems += [f"cache: {p}" for p in verify_cache(dataset_id)]
    return problems
