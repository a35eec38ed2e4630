"""A read-optimised cache of each dataset, built once, verified against its Minari source.

Minari's HDF5 keeps one group per episode; sampling thousands of short windows a second from it is slow, and a
1M-transition Adroit dataset (~12 GB of pixels) does not fit in RAM. The cache is plain `.npy` files in
`$LOMPO_BENCH_HOME/cache/<dataset id>/<fingerprint>/`, outside the dataset's folder (which holds only what Minari
wrote, so `minari upload` sends no second copy of the pixels), written episode by episode (memory stays at one
episode):

- `pixels.npy` uint8 (N_obs, H, W, 3), all observations of all episodes back to back, read with `pread`;
- `proprio.npy`, `state.npy` float32 (N_obs, .); `actions.npy` float32, `rewards.npy` float32,
  `terminals.npy`, `truncations.npy` bool (N_steps, .);
- `obs_starts.npy`, `step_starts.npy` int64 (E + 1): where each episode begins;
- `manifest.json`: the source's fingerprint (size, total steps and episodes, sha256 of its first and last MiB),
  and a sha256 of every cache file, for `datasets verify`.

`<fingerprint>` is a digest of the source's fingerprint: a changed or replaced dataset gets a new cache, and the
one of its old content is deleted when the new one is built. A half-built cache lives in a hidden folder and is
renamed into place, so a killed build never leaves a cache that looks whole. Any number of processes may open a
dataset at once: the check and the build happen under a file lock (`cache/<dataset id>/.lock`), so one builds
while the others wait, then use what it built.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.data.store import CorruptDataset, dataset_path, hdf5_file, load_minari, read_metadata
from lompo_bench.errors import disk_full
from lompo_bench.files import atomic_dir, file_lock
from lompo_bench.paths import lompo_home
from lompo_bench.progress import NoProgress, Progress

# Where lompo-bench up to 0.1.0 kept the cache (inside the dataset folder): no longer adopted; only `download.pack`
# still names it, to leave one out of an archive. Goes when that does.
LEGACY_CACHE_DIR = "lompo_cache"
CACHE_VERSION = 1
ARRAYS = ("pixels", "proprio", "state", "actions", "rewards", "terminals", "truncations", "obs_starts", "step_starts")
_MIB = 1 << 20


def source_fingerprint(dataset_id: str) -> dict[str, Any]:
    """Cheap identity of the Minari source: a changed or replaced dataset changes it."""
    path = hdf5_file(dataset_id)
    if not path.exists():
        raise CorruptDataset(f"{path} is missing")
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        digest.update(f.read(_MIB))
        f.seek(max(0, size - _MIB))
        digest.update(f.read(_MIB))
    metadata = read_metadata(dataset_id)
    return {
        "version": CACHE_VERSION,
        "size": size,
        "head_tail_sha256": digest.hexdigest(),
        "total_steps": metadata.get("total_steps"),
        "total_episodes": metadata.get("total_episodes"),
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(16 * _MIB):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class DatasetCache:
    """Memory-light views of a built cache: small arrays in RAM, pixels read on demand from `pixels_path`."""

    path: Path
    pixels_path: Path
    pixels_offset: int  # byte offset of the first pixel in the .npy file (after its header)
    frame_shape: tuple[int, int, int]
    proprio: np.ndarray
    state: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    truncations: np.ndarray
    obs_starts: np.ndarray
    step_starts: np.ndarray

    @property
    def fingerprint(self) -> str:
        """The digest of the source content this cache was built from (`fingerprint_key`, its folder's name)."""
        return self.path.name

    @property
    def num_episodes(self) -> int:
        return len(self.obs_starts) - 1

    @property
    def num_steps(self) -> int:
        return len(self.actions)

    @property
    def frame_bytes(self) -> int:
        return int(np.prod(self.frame_shape))

    def episode_lengths(self) -> np.ndarray:
        """Transitions per episode."""
        return np.diff(self.step_starts)

    def read_frames(self, fd: int, first: int, out: np.ndarray) -> None:
        """Read `len(out)` consecutive frames starting at observation `first` into `out` (no intermediate copy)."""
        view = memoryview(out).cast("B")
        offset = self.pixels_offset + first * self.frame_bytes
        while len(view):
            got = os.preadv(fd, [view], offset)
            if got <= 0:
                raise CorruptDataset(f"{self.pixels_path} ends early (truncated cache)")
            view, offset = view[got:], offset + got

    @classmethod
    def open(cls, path: Path) -> DatasetCache:
        pixels_path = path / "pixels.npy"
        with open(pixels_path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, _, _ = read_header(f)
            offset = f.tell()
        small = {name: np.load(path / f"{name}.npy") for name in ARRAYS if name != "pixels"}
        return cls(path, pixels_path, offset, tuple(shape[1:]), **small)


def cache_root(dataset_id: str) -> Path:
    """`$LOMPO_BENCH_HOME/cache/<dataset id>`: the caches of one dataset id and their lock."""
    dataset_path(dataset_id)  # a clear error for a dataset that is not there, before any folder is made
    return lompo_home() / "cache" / dataset_id


def fingerprint_key(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


def _current(dataset_id: str) -> tuple[dict[str, Any], Path]:
    """The source's fingerprint and the cache folder of that content (one reading of the source per call)."""
    fingerprint = source_fingerprint(dataset_id)
    return fingerprint, cache_root(dataset_id) / fingerprint_key(fingerprint)


def dataset_fingerprint(dataset_id: str) -> str:
    """The digest of the dataset's current content (what a cache of it is named by and a result record carries)."""
    return fingerprint_key(source_fingerprint(dataset_id))


def cache_path(dataset_id: str) -> Path:
    """The cache folder of the dataset's current content."""
    return _current(dataset_id)[1]


def _manifest_in(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / "manifest.json").read_text())
    except (FileNotFoundError, ValueError):
        return None


def read_manifest(dataset_id: str) -> dict[str, Any] | None:
    return _manifest_in(cache_path(dataset_id))


def _is_built(folder: Path, fingerprint: dict[str, Any]) -> bool:
    manifest = _manifest_in(folder)
    return manifest is not None and manifest.get("source") == fingerprint


def is_stale(dataset_id: str) -> bool:
    fingerprint, folder = _current(dataset_id)
    return not _is_built(folder, fingerprint)


def _lock(dataset_id: str) -> Any:
    return file_lock(cache_root(dataset_id) / ".lock")


def build_cache(dataset_id: str, progress: Progress | None = None) -> Path:
    """Write the cache of `dataset_id` from its Minari source (again, if one exists), under the cache's lock; the
    build is one stage of `progress` (a 1M-transition dataset takes minutes)."""
    with _lock(dataset_id):
        return _build(dataset_id, progress, *_current(dataset_id))


def _build(dataset_id: str, progress: Progress | None, fingerprint: dict[str, Any], final: Path) -> Path:
    """Write the cache of the source `fingerprint` names into `final`, one episode at a time; the caller holds
    the cache's lock."""
    dataset = load_minari(dataset_id)
    progress = progress or NoProgress()
    progress.start(f"read cache of {dataset_id}", dataset.total_steps)
    with atomic_dir(final) as partial:
        steps = _write_arrays(dataset, partial, progress, hdf5_file(dataset_id))
        progress.finish()
        if steps != dataset.total_steps:
            raise CorruptDataset(
                f"{hdf5_file(dataset_id)}: episodes hold {steps} steps, metadata says {dataset.total_steps}"
            )
        manifest = {
            "dataset_id": dataset_id,
            "source": fingerprint,
            "files": {f"{name}.npy": file_sha256(partial / f"{name}.npy") for name in ARRAYS},
        }
        (partial / "manifest.json").write_text(json.dumps(manifest, indent=2))
    for old in final.parent.iterdir():  # caches of this id's earlier contents (open readers keep their files)
        if old.is_dir() and not old.name.startswith(".") and old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _write_arrays(dataset: Any, folder: Path, progress: Progress, source: Path) -> int:
    """Every episode of the Minari `dataset` (read from `source`) into `folder`'s arrays; returns the steps
    written."""
    steps, n_obs = dataset.total_steps, dataset.total_steps + dataset.total_episodes
    spaces = dataset.observation_space.spaces
    frame_shape = spaces["pixels"].shape
    widths = {key: (spaces[key].shape[0] if key in spaces else 0) for key in ("proprio", "state")}

    def create(name: str, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
        array = np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)
        _reserve(folder / f"{name}.npy")  # a full disk: ENOSPC now, not SIGBUS at a write into the map
        return array

    arrays = {
        "proprio": create("proprio", np.float32, (n_obs, widths["proprio"])),
        "state": create("state", np.float32, (n_obs, widths["state"])),
        "actions": create("actions", np.float32, (steps, dataset.action_space.shape[0])),
        "rewards": create("rewards", np.float32, (steps,)),
        "terminals": create("terminals", bool, (steps,)),
        "truncations": create("truncations", bool, (steps,)),
    }
    obs_starts, step_starts = [0], [0]
    # Pixels are appended with plain writes, episode by episode: a memory map being written would count every
    # page it touched in the process's RSS (12 GB for a 1M-transition dataset) until unmapped.
    with open(folder / "pixels.npy", "wb") as pixels_file:
        header = {"descr": "|u1", "fortran_order": False, "shape": (n_obs, *frame_shape)}
        np.lib.format.write_array_header_2_0(pixels_file, header)
        _reserve(folder / "pixels.npy", pixels_file.tell() + n_obs * int(np.prod(frame_shape)))
        try:
            for episode in dataset.iterate_episodes():
                o, s = obs_starts[-1], step_starts[-1]
                n = len(episode.actions)
                pixels = np.ascontiguousarray(episode.observations["pixels"], dtype=np.uint8)
                if pixels.shape != (n + 1, *frame_shape):
                    raise ValueError(f"episode {episode.id}: pixels of shape {pixels.shape}")
                pixels_file.write(pixels.tobytes())
                for key in ("proprio", "state"):
                    if widths[key]:
                        arrays[key][o : o + n + 1] = episode.observations[key]
                arrays["actions"][s : s + n] = episode.actions
                arrays["rewards"][s : s + n] = episode.rewards
                arrays["terminals"][s : s + n] = episode.terminations
                arrays["truncations"][s : s + n] = episode.truncations
                obs_starts.append(o + n + 1)
                step_starts.append(s + n)
                progress.update(step_starts[-1])
        except (OSError, KeyError, ValueError) as error:
            if isinstance(error, OSError) and (error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space" in str(error)):
                raise disk_full(folder / "pixels.npy") from None  # the cache's disk, not the source, is at fault
            raise CorruptDataset(f"cannot read {source}: {type(error).__name__}: {error}") from None
    if obs_starts[-1] != n_obs:
        raise CorruptDataset(f"{source}: episodes hold {obs_starts[-1]} observations, metadata says {n_obs}")
    for array in arrays.values():
        array.flush()
    np.save(folder / "obs_starts.npy", np.asarray(obs_starts, dtype=np.int64))
    np.save(folder / "step_starts.npy", np.asarray(step_starts, dtype=np.int64))
    return step_starts[-1]


def _reserve(path: Path, size: int | None = None) -> None:
    """Allocate `path`'s blocks (to `size` bytes, or its length) so that a full disk shows as ENOSPC here."""
    with open(path, "r+b") as f:
        length = size if size is not None else os.fstat(f.fileno()).st_size
        try:
            if length:
                os.posix_fallocate(f.fileno(), 0, length)
        except OSError as error:
            raise OSError(error.errno, error.strerror, str(path)) from None  # name the file: the message says where


def open_cache(dataset_id: str, progress: Progress | None = None) -> DatasetCache:
    """The dataset's cache, built first if missing or stale (safe beside other processes doing the same; the
    build reports to `progress` as a stage of its own)."""
    with _lock(dataset_id):
        fingerprint, folder = _current(dataset_id)
        if not _is_built(folder, fingerprint):
            _build(dataset_id, progress, fingerprint, folder)
        return DatasetCache.open(folder)


def verify_cache(dataset_id: str) -> list[str]:
    """Problems found in the cache (empty when sound): stale source, missing files, checksum mismatches."""
    fingerprint, folder = _current(dataset_id)
    manifest = _manifest_in(folder)
    if manifest is None:
        return ["no cache yet (it is built on first use)"]
    problems = []
    if manifest.get("source") != fingerprint:
        problems.append("cache is stale: the Minari source changed since it was built")
    for name, expected in manifest.get("files", {}).items():
        path = folder / name
        if not path.exists():
            problems.append(f"{path} is missing")
        elif file_sha256(path) != expected:
            problems.append(f"{path} checksum mismatch")
    return problems
