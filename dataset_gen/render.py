"""Rendering recorded episodes from their physics states, in parallel on all cores.

Each work unit (a run of whole episodes, about `render_chunk` frames) becomes one file `unit_00000.npy` of uint8
frames (sum of T+1 over its episodes, H, W, 3), written atomically; units already on disk are skipped, so a killed
render resumes where it stopped. Workers are separate processes (spawned, each with its own GL context and
Mesa's llvmpipe on one thread), so N workers render about N times as fast on N cores.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lompo_bench.dataset_gen.recording import EpisodeRef, EpisodeStore
from lompo_bench.files import atomic_file
from lompo_bench.progress import NoProgress, Progress


@dataclass(frozen=True)
class RenderUnit:
    index: int
    episodes: tuple[tuple[str, int, int], ...]  # (recording folder, chunk, index in chunk)
    frames: int


def plan_units(episodes: list[EpisodeRef], folders: dict[str, Path], frames_per_unit: int) -> list[RenderUnit]:
    """Group episodes, in order, into units of about `frames_per_unit` frames (never splitting an episode)."""
    units, current, frames = [], [], 0
    for ref in episodes:
        current.append((str(folders[ref.source]), ref.chunk, ref.index))
        frames += ref.length + 1
        if frames >= frames_per_unit:
            units.append(RenderUnit(len(units), tuple(current), frames))
            current, frames = [], 0
    if current:
        units.append(RenderUnit(len(units), tuple(current), frames))
    return units


def unit_path(directory: Path, index: int) -> Path:
    return Path(directory) / f"unit_{index:05d}.npy"


class _Renderer:
    """One env and the recordings it reads from; lives in a worker process (or the caller's, for 1 worker)."""

    def __init__(self, task: str, image_size: int) -> None:
        from lompo_bench.tasks import make_task

        self.env = make_task(task, image_size=image_size)
        self.stores: dict[str, EpisodeStore] = {}

    def render_unit(self, unit: RenderUnit, out_dir: str) -> int:
        frames = []
        for folder, chunk, index in unit.episodes:
            if folder not in self.stores:  # indexing a recording reads every chunk: once per worker
                self.stores[folder] = EpisodeStore(Path(folder), source=folder)
            store = self.stores[folder]
            for physics in store.load(store.get(chunk, index)).physics:
                frames.append(self.env.render_physics_state(physics))
        path = unit_path(Path(out_dir), unit.index)
        with atomic_file(path) as tmp, open(tmp, "wb") as f:
            np.save(f, np.stack(frames))
        return len(frames)


_worker: _Renderer | None = None


def _init_worker(task: str, image_size: int) -> None:
    global _worker
    os.environ.setdefault("LP_NUM_THREADS", "1")  # llvmpipe: one thread per worker, one worker per core
    import lompo_bench  # noqa: F401  (selects the headless GL backend before mujoco loads)

    _worker = _Renderer(task, image_size)


def _render_in_worker(args: tuple[RenderUnit, str]) -> int:
    assert _worker is not None
    return _worker.render_unit(*args)


def render_units(
    task: str,
    units: list[RenderUnit],
    out_dir: Path,
    *,
    workers: int,
    image_size: int = 64,
    progress: Progress | None = None,
) -> int:
    """Render every unit not yet on disk into `out_dir`, with `workers` processes (in-process for 1); reports the
    frames on disk so far to `progress` (a started stage); returns the frames rendered by this call."""
    progress = progress or NoProgress()
    out_dir.mkdir(parents=True, exist_ok=True)
    todo = [u for u in units if not unit_path(out_dir, u.index).exists()]
    done = sum(u.frames for u in units) - sum(u.frames for u in todo)
    progress.update(done, f"{workers} workers")
    if not todo:
        return 0
    with contextlib.ExitStack() as stack:
        if workers <= 1:
            renderer = _Renderer(task, image_size)
            stack.callback(renderer.env.close)
            results: Iterator[int] = (renderer.render_unit(u, str(out_dir)) for u in todo)
        else:
            context = multiprocessing.get_context("spawn")
            pool = stack.enter_context(
                context.Pool(min(workers, len(todo)), initializer=_init_worker, initargs=(task, image_size))
            )
            results = pool.imap_unordered(_render_in_worker, [(u, str(out_dir)) for u in todo])
        for frames in results:  # one progress loop for both
            done += frames
            progress.update(done, f"{workers} workers")
    return sum(u.frames for u in todo)


def read_unit_frames(out_dir: Path, index: int) -> np.ndarray:
    """A unit's frames, memory-mapped (the writer streams them into the dataset episode by episode)."""
    return np.load(unit_path(out_dir, index), mmap_mode="r")
