"""A short animated preview of one episode of a dataset, from the dataset's own frames: what a dataset card on the
leaderboard site shows, and what `lompo-bench datasets preview ID --out ep.gif` writes.

The frames are the dataset's pixels as stored (no re-rendering, no upscaling: the page scales them up with
`image-rendering: pixelated`), every k-th one so that at most `max_frames` are kept, encoded as a GIF (one
palette shared by every frame, so the colours do not flicker) or an animated WebP, and kept under `MAX_BYTES`
(a few hundred KB): a preview that comes out larger keeps every 2k-th frame instead, and so on. Reads one
episode's pixels and every episode's rewards (to pick the episode), never the whole dataset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lompo_bench.errors import UserError

FORMATS = (".gif", ".webp")
MAX_BYTES = 300_000  # "a few hundred KB at most"
MAX_FRAMES = 100
FPS = 20  # frames shown per second of the preview (every k-th of the episode's frames, so it plays k x fast)
MIN_FRAMES = 8  # a preview is never cut below this many frames to fit MAX_BYTES
PALETTE_COLORS = 96


@dataclass(frozen=True)
class Preview:
    path: Path
    episode: int  # the episode's index in the dataset
    episode_return: float
    frames: int  # frames in the preview
    episode_frames: int  # observations in the episode
    stride: int  # every stride-th observation was kept
    width: int
    height: int
    bytes: int


def preview_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(f"a preview is written as .gif or .webp, not {path.name!r}")
    return suffix


def _episode_keys(handle) -> list[str]:
    return sorted((k for k in handle if k.startswith("episode_")), key=lambda k: int(k.split("_")[1]))


def read_episode_frames(dataset_id: str, episode: int | None = None) -> tuple[int, float, np.ndarray]:
    """(episode index, its return, its frames (T+1, H, W, 3) uint8). `episode` None: the episode of the highest
    return (the first such), what a medium-expert or expert dataset was made to show."""
    import h5py

    from lompo_bench.data.inspect import episode_returns
    from lompo_bench.data.store import CorruptDataset, hdf5_file

    returns = episode_returns(dataset_id)
    if not len(returns):
        raise UserError(f"dataset {dataset_id!r} holds no episodes")
    if episode is None:
        episode = int(np.argmax(returns))
    elif not 0 <= episode < len(returns):
        raise UserError(f"dataset {dataset_id!r} has episodes 0 to {len(returns) - 1}, not {episode}")
    path = hdf5_file(dataset_id)
    try:
        with h5py.File(path, "r") as f:
            group = f[_episode_keys(f)[episode]]
            if "observations" not in group or "pixels" not in group["observations"]:
                raise UserError(f"dataset {dataset_id!r} has no pixel observations to preview")
            frames = group["observations"]["pixels"][()]
    except (OSError, KeyError, ValueError) as error:
        raise CorruptDataset(f"cannot read {path}: {type(error).__name__}: {error}") from None
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise UserError(f"dataset {dataset_id!r} stores pixels as {frames.dtype}{frames.shape}, not (T, H, W, 3) uint8")
    return episode, float(returns[episode]), frames


def encode(frames: np.ndarray, path: Path, fps: int = FPS) -> int:
    """Write `frames` (N, H, W, 3) uint8 as an animated GIF or WebP (by `path`'s suffix), looping; its size."""
    from PIL import Image

    from lompo_bench.files import atomic_file

    suffix = preview_format(path)
    duration = max(20, round(1000 / fps))
    images = [Image.fromarray(frame) for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        if suffix == ".gif":
            # One palette for all frames (from a strip of up to 16 of them): no colour flicker, smaller deltas.
            picks = frames[np.linspace(0, len(frames) - 1, min(16, len(frames))).astype(int)]
            palette = Image.fromarray(np.concatenate(list(picks), axis=1)).quantize(
                PALETTE_COLORS, method=Image.Quantize.MEDIANCUT
            )
            indexed = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
            indexed[0].save(
                tmp, format="GIF", save_all=True, append_images=indexed[1:], duration=duration, loop=0, optimize=False
            )
        else:
            images[0].save(
                tmp, format="WEBP", save_all=True, append_images=images[1:], duration=duration, loop=0, quality=75,
                method=4,
            )  # fmt: skip
    return path.stat().st_size


def episode_preview(
    dataset_id: str,
    out: Path,
    episode: int | None = None,
    max_frames: int = MAX_FRAMES,
    max_bytes: int = MAX_BYTES,
    fps: int = FPS,
) -> Preview:
    """Write the preview of one episode of `dataset_id` (by default its best) to `out` (.gif or .webp)."""
    preview_format(out)
    if max_frames < 1:
        raise UserError(f"--frames must be at least 1, not {max_frames}")
    index, episode_return, frames = read_episode_frames(dataset_id, episode)
    stride = max(1, math.ceil(len(frames) / max_frames))
    while True:
        kept = frames[::stride]
        size = encode(kept, out, fps)
        if size <= max_bytes or len(kept) <= MIN_FRAMES:
            break
        stride *= 2
    height, width = frames.shape[1:3]
    return Preview(out, index, episode_return, len(kept), len(frames), stride, width, height, size)
