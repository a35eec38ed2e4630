"""Writing a Minari dataset one episode at a time, losslessly, and atomically.

Minari 0.5.4 JPEG-encodes image observations unless told otherwise; we store raw pixels (`jpeg_encoding=False`).
`MinariStorage.new` + `update_episodes` per episode keeps memory at one episode however large the dataset (the
helper `create_dataset_from_buffers` wants every episode in one list). The dataset is built in a hidden sibling
folder (Minari skips hidden folders) and renamed into place at the end, so a half-written dataset is never
visible under its id: a killed write leaves only the hidden folder, which the next write deletes. One process
builds an id at a time (a lock file beside the hidden folder): two would build in the same hidden folder.

A full disk is an OSError (ENOSPC) naming the dataset, never a crash: HDF5 (h5py 3.16, HDF5 2.0) segfaults when
it closes a file after a write failed for want of room, so the room for each episode is allocated in the HDF5
file before Minari appends it (`_reserve_room`).

Every dataset starts from `metadata.standard_metadata` (author, requirements, code permalink), and its Minari
namespaces are created with their description and citation (`metadata.ensure_namespaces`), so `minari list`
shows who made it and `minari upload` can take it.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from lompo_bench.data.metadata import ensure_namespaces, standard_metadata
from lompo_bench.data.store import datasets_root, is_dataset
from lompo_bench.errors import UserError, disk_full, is_disk_full
from lompo_bench.files import atomic_dir, file_lock


class DatasetExists(UserError):
    """A dataset is already installed under the id (`write_minari_dataset(..., replace=False)`)."""


def write_minari_dataset(
    dataset_id: str,
    env_spec: gym.envs.registration.EnvSpec,
    observation_space: gym.spaces.Dict,
    action_space: gym.spaces.Box,
    episodes: Iterable[dict[str, Any]],
    metadata: dict[str, Any],
    extra_files: dict[str, Path] | None = None,
    *,
    replace: bool = True,
) -> Path:
    """Write `episodes` (dicts of `observations` (a dict of (T+1, ...) arrays), `actions`, `rewards`,
    `terminations`, `truncations`) as dataset `dataset_id`; returns its folder. An existing one is replaced, or,
    with `replace=False`, refused (`DatasetExists`, also when another process installed it meanwhile).

    `extra_files` are copied into the dataset folder beside Minari's `data/` (e.g. the SAC expert policy). A full
    disk is an OSError (ENOSPC) naming the dataset's folder, and leaves nothing under its id.
    """
    final = datasets_root() / dataset_id
    try:
        _write(final, dataset_id, env_spec, observation_space, action_space, episodes, metadata, extra_files, replace)
    except OSError as error:  # wherever it ran out (HDF5, metadata.json, an extra file): the dataset's folder
        if is_disk_full(error):
            raise disk_full(final) from error
        raise
    ensure_namespaces(dataset_id)
    return final


def _write(
    final: Path,
    dataset_id: str,
    env_spec: gym.envs.registration.EnvSpec,
    observation_space: gym.spaces.Dict,
    action_space: gym.spaces.Box,
    episodes: Iterable[dict[str, Any]],
    metadata: dict[str, Any],
    extra_files: dict[str, Path] | None,
    replace: bool,
) -> None:
    import minari
    from minari.data_collector import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    with file_lock(final.parent / f".{final.name}.lock"):
        if not replace and is_dataset(final):
            raise DatasetExists(f"dataset {dataset_id!r} already exists at {final}")
        with atomic_dir(final) as partial:
            storage = MinariStorage.new(
                partial / "data",
                observation_space=observation_space,
                action_space=action_space,
                env_spec=env_spec,
                data_format="hdf5",
                jpeg_encoding=False,
            )
            written = 0
            for episode in episodes:
                written += 1
                _reserve_room(partial / "data" / MAIN_FILE, episode)
                storage.update_episodes(
                    [
                        EpisodeBuffer(
                            observations=episode["observations"],
                            actions=np.asarray(episode["actions"], dtype=np.float32),
                            rewards=list(np.asarray(episode["rewards"], dtype=np.float64)),
                            terminations=list(np.asarray(episode["terminations"], dtype=bool)),
                            truncations=list(np.asarray(episode["truncations"], dtype=bool)),
                        )
                    ]
                )
            if not written:  # Minari would leave a dataset without its HDF5 file, which breaks `minari list`
                raise UserError(f"dataset {dataset_id!r} would hold no episode; nothing was written")
            defaults = standard_metadata(_task_source(env_spec))
            storage.update_metadata(
                {"dataset_id": dataset_id, "minari_version": minari.__version__, **defaults, **metadata}
            )
            for name, source in (extra_files or {}).items():
                shutil.copy2(source, partial / name)


MAIN_FILE = "main_data.hdf5"  # Minari's HDF5 file in a dataset's data/
RESERVE_FACTOR, RESERVE_EXTRA = 3, 1 << 20  # room per episode: 3x its arrays (HDF5's chunks pad them) + 1 MiB


def _reserve_room(path: Path, episode: dict[str, Any]) -> None:
    """Allocate room for `episode` at the end of the HDF5 file Minari appends it to next, so that a full disk is
    ENOSPC here rather than a failed write inside HDF5 (which then segfaults when the file is closed).

    HDF5 writes from its own end of allocation on, inside the blocks allocated here, and truncates the file to it
    when closed: the file's bytes are those written without the reservation (a test checks). Minari's file is
    empty before its first episode, and HDF5 opens no empty file grown by zeros: it is made an empty HDF5 file
    first, as Minari's first append would make it."""
    import h5py

    if path.stat().st_size == 0:
        room = os.statvfs(path.parent)
        if room.f_bavail * room.f_frsize < RESERVE_EXTRA:  # HDF5's own first write (its superblock) would fail
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        with h5py.File(path, "a", track_order=True):
            pass
    arrays = [*episode["observations"].values()]
    arrays += [episode[key] for key in ("actions", "rewards", "terminations", "truncations")]
    size = RESERVE_FACTOR * sum(np.asarray(array).nbytes for array in arrays) + RESERVE_EXTRA
    with open(path, "r+b") as f:
        end = os.fstat(f.fileno()).st_size
        try:
            os.posix_fallocate(f.fileno(), end, size)
        except OSError as error:
            os.ftruncate(f.fileno(), end)  # what was allocated, given back: HDF5 never saw it
            if error.errno in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                return  # a filesystem that cannot allocate ahead: written as before, without the guard
            raise OSError(error.errno, error.strerror, str(path)) from None


def _task_source(env_spec: gym.envs.registration.EnvSpec) -> str | None:
    """The physics library of the lompo-bench task `env_spec` makes (None for another env)."""
    from lompo_bench.tasks import task_for_gym_id

    spec = task_for_gym_id(env_spec.id)
    return spec.source if spec is not None else None
