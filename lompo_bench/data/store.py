"""Finding and opening Minari datasets, with one clear error for each thing a user can get wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError


class DatasetNotFound(UserError):
    """No dataset under that id where Minari looks."""


class CorruptDataset(UserError):
    """A dataset whose files cannot be read or do not agree with each other."""


def datasets_root() -> Path:
    """Where Minari looks for datasets: `MINARI_DATASETS_PATH`, or `~/.minari/datasets`."""
    from minari.storage import get_dataset_path

    return Path(get_dataset_path())


def is_dataset(folder: Path) -> bool:
    """Whether `folder` holds a whole Minari dataset: the one test of "this dataset exists" (a dataset is renamed
    into place whole, so its metadata file is there exactly when all of it is)."""
    return (folder / "data" / "metadata.json").exists()


def dataset_exists(dataset_id: str) -> bool:
    return is_dataset(datasets_root() / dataset_id)


def dataset_path(dataset_id: str) -> Path:
    """The folder of dataset `dataset_id` (holding Minari's `data/`); `DatasetNotFound` when there is none."""
    if not dataset_id or dataset_id.startswith("/") or ".." in dataset_id.split("/"):
        raise UserError(f"{dataset_id!r} is not a dataset id (like lompo/walker_walk/expert-v0)")
    path = datasets_root() / dataset_id
    if not is_dataset(path):
        raise DatasetNotFound(
            f"no dataset {dataset_id!r} in {datasets_root()}; make it with `lompo-bench generate --env TASK` "
            f"or fetch it with `lompo-bench download {dataset_id}`"
        )
    return path


def read_metadata(dataset_id: str) -> dict[str, Any]:
    path = dataset_path(dataset_id) / "data" / "metadata.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CorruptDataset(f"cannot read {path}: {error}") from None


def dataset_task(dataset_id: str) -> str:
    """The registered task a dataset was recorded in, read from its env spec (`lompo_bench/<task>-v0`)."""
    from lompo_bench.tasks import task_for_gym_id

    metadata = read_metadata(dataset_id)
    try:
        env_id = json.loads(metadata["env_spec"])["id"]
    except (KeyError, TypeError, ValueError):
        raise CorruptDataset(f"dataset {dataset_id!r} has no readable env_spec in its metadata") from None
    spec = task_for_gym_id(env_id)
    if spec is None:
        raise UserError(f"dataset {dataset_id!r} was recorded in {env_id}, not in a lompo-bench task")
    return spec.name


def dataset_frame_shape(dataset_id: str) -> tuple[int, ...]:
    """The shape (H, W, 3) of a dataset's frames, from the observation space in its metadata (no episode read):
    what a policy trained on it sees, so what it is evaluated at."""
    try:
        space = json.loads(read_metadata(dataset_id)["observation_space"])
        return tuple(int(n) for n in space["subspaces"]["pixels"]["shape"])
    except (KeyError, TypeError, ValueError):
        raise CorruptDataset(f"dataset {dataset_id!r} has no readable pixels space in its metadata") from None


def hdf5_file(dataset_id: str) -> Path:
    return dataset_path(dataset_id) / "data" / "main_data.hdf5"


def load_minari(dataset_id: str):
    """`minari.load_dataset`, with a missing or unreadable dataset turned into a one-line `UserError`."""
    import minari

    path = dataset_path(dataset_id)
    try:
        return minari.load_dataset(dataset_id)
    except (OSError, KeyError, ValueError) as error:
        raise CorruptDataset(
            f"cannot read {path / 'data' / 'main_data.hdf5'} (dataset {dataset_id!r}): {type(error).__name__}: {error}"
        ) from None


def local_dataset_ids() -> list[str]:
    """Ids of every dataset under the Minari root (hidden folders, e.g. half-written ones, are skipped)."""
    root = datasets_root()
    ids = []
    if not root.exists():
        return ids
    for current, dirs, _ in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if "data" in dirs and is_dataset(Path(current)):
            ids.append(Path(current).relative_to(root).as_posix())
            dirs[:] = []
    return ids
