"""Import V-D4RL datasets (DMC from 64 px pixels, npz episodes) as Minari datasets of our layout.

V-D4RL stores episodes as `.npz` files with `image` (T+1, 64, 64, 3) uint8, `action` (T+1, A), `reward`,
`discount`, `is_first`, `is_last`, `is_terminal` (T+1,), where step 0 carries a zero action and reward (they
describe arriving at the first observation). A file may hold several episodes; `is_first` marks where each
begins. We drop step 0's action and reward, so observation t is followed by action t, as in Minari.

The result has our observation layout for the task minus what V-D4RL does not record: `pixels` (and no `state`:
it was never saved), and the task's env spec, so our samplers and algorithms train on it unchanged.

Nothing is written until every episode of every file has been checked (`_minari_episodes`: arrays of one length,
the task's image and action shapes, finite actions in the action space and finite rewards, at least
`MIN_EPISODE_STEPS` steps, episode-end flags only at the end); the dataset is then built in a hidden folder and
renamed into place (`writer.write_minari_dataset`), under an id checked as `generate`'s are (`ids`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np

from lompo_bench.data.ids import check_dataset_id, check_kind_name
from lompo_bench.data.store import datasets_root, is_dataset
from lompo_bench.data.writer import write_minari_dataset
from lompo_bench.errors import UserError
from lompo_bench.tasks import get_task_spec, make_task

KEYS = ("image", "action", "reward", "is_first", "is_last", "is_terminal")
# V-D4RL's episodes are 500 steps; one of 0 or 1 step is a broken recording (is_first on consecutive frames, a file
# cut short), and an episode of no step cannot be stored at all (Minari writes an unreadable dataset).
MIN_EPISODE_STEPS = 2


def _episodes(path: Path) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """The (first step, arrays) of each episode of a V-D4RL file, its arrays checked to be of one length."""
    try:
        with np.load(path) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise UserError(f"{path} is not a V-D4RL episode file: missing {', '.join(missing)}")
            arrays = {k: data[k] for k in KEYS}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    scalars = [k for k, v in arrays.items() if v.ndim == 0]
    if scalars:
        raise UserError(f"{path}: {', '.join(scalars)} hold a single value, not one per step")
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise UserError(f"{path}: arrays of different lengths ({', '.join(f'{k} {n}' for k, n in lengths.items())})")
    starts = list(np.flatnonzero(arrays["is_first"])) or [0]
    if starts[0] != 0:
        raise UserError(f"{path}: the first step is not marked is_first")
    for begin, end in zip(starts, starts[1:] + [len(arrays["image"])], strict=True):
        yield int(begin), {k: v[begin:end] for k, v in arrays.items()}


def _minari_episodes(files: list[Path], task: str, pixels: gym.spaces.Box, actions: gym.spaces.Box) -> Iterator[dict]:
    """Every episode of `files` in Minari's layout, each checked first (`UserError` naming the file and the step
    the episode starts at)."""
    for path in files:
        for begin, ep in _episodes(path):
            where = f"{path}, episode at step {begin}"
            image, action = ep["image"], ep["action"]
            if image.dtype != np.uint8 or image.shape[1:] != pixels.shape:
                raise UserError(f"{where}: images of {image.dtype} {image.shape[1:]}, {task} uses uint8 {pixels.shape}")
            if action.shape[1:] != actions.shape:
                raise UserError(f"{where}: actions of shape {action.shape[1:]}, {task} has {actions.shape}")
            n = len(image) - 1
            if n < MIN_EPISODE_STEPS:
                raise UserError(f"{where}: {max(n, 0)} steps; an episode needs at least {MIN_EPISODE_STEPS}")
            taken = np.asarray(action[1:], dtype=np.float32)
            if not np.isfinite(taken).all():
                raise UserError(f"{where}: actions that are not finite numbers (NaN or infinity)")
            if not ((taken >= actions.low) & (taken <= actions.high)).all():
                raise UserError(
                    f"{where}: actions outside {task}'s action space [{actions.low.min()}, {actions.high.max()}] "
                    f"(from {taken.min()} to {taken.max()})"
                )
            try:
                rewards = np.asarray(ep["reward"][1:], dtype=np.float64).reshape(n)
            except (TypeError, ValueError):
                raise UserError(f"{where}: rewards of shape {ep['reward'].shape[1:]}, not one per step") from None
            if not np.isfinite(rewards).all():
                raise UserError(f"{where}: rewards that are not finite numbers (NaN or infinity)")
            terminal = ep["is_terminal"][1:].astype(bool)
            last = ep["is_last"][1:].astype(bool)
            if terminal[:-1].any() or last[:-1].any():
                raise UserError(f"{where}: is_last or is_terminal before the episode's last step")
            last[-1] = True  # an episode cut at the end of a file still ends there
            yield {
                "observations": {"pixels": image},
                "actions": taken,
                "rewards": rewards,
                "terminations": terminal,
                "truncations": last & ~terminal,
            }


def import_vd4rl(directory: Path, task: str, kind: str, dataset_id: str | None = None) -> tuple[str, int, int]:
    """Convert every `*.npz` in `directory` (sorted by name); returns (dataset id, episodes, transitions)."""
    spec = get_task_spec(task)
    check_kind_name(kind)
    dataset_id = check_dataset_id(dataset_id if dataset_id is not None else f"vd4rl/{spec.name}/{kind}-v0")
    if dataset_id.split("/")[0] == "lompo":
        raise UserError(f"{dataset_id!r}: lompo/ ids name the datasets `lompo-bench generate` makes; pass another --id")
    root = datasets_root()
    final = root / dataset_id
    if final.exists():
        raise UserError(f"dataset {dataset_id!r} already exists at {final}; pass another --id or delete it")
    inside = next((root / p for p in Path(dataset_id).parents if is_dataset(root / p)), None)
    if inside is not None:
        raise UserError(f"{dataset_id!r} would lie inside the dataset in {inside}; pass another --id")
    files = sorted(Path(directory).glob("*.npz"))
    if not files:
        raise UserError(f"no .npz episode files in {directory}")
    env = make_task(spec.name)
    pixels_space = env.observation_space["pixels"]
    action_space = env.action_space
    env.close()
    # Every episode checked before anything is written; the files are read again to write them.
    episodes = steps = 0
    for episode in _minari_episodes(files, spec.name, pixels_space, action_space):
        episodes += 1
        steps += len(episode["actions"])
    metadata = {
        "algorithm_name": "V-D4RL (imported by lompo-bench)",
        "author": {"Cong Lu, Philip J. Ball, Tim G. J. Rudner, Jack Parker-Holder, Michael A. Osborne, Yee Whye Teh"},
        "docs_url": "https://github.com/conglu1997/v-d4rl",
        "description": f"V-D4RL {spec.name} {kind}, imported from {directory}",
        "ref_min_score": spec.ref_min_score,
        "lompo_kind": kind,
        "lompo_source": "vd4rl",
    }
    write_minari_dataset(
        dataset_id,
        gym.spec(spec.gym_id),
        gym.spaces.Dict({"pixels": pixels_space}),
        action_space,
        _minari_episodes(files, spec.name, pixels_space, action_space),
        metadata,
        replace=False,
    )
    return dataset_id, episodes, steps
