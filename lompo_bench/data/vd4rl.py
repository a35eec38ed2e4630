"""Import V-D4RL datasets (DMC from 64 px pixels, npz episodes) as Minari datasets of our layout.

V-D4RL stores episodes as `.npz` files with `image` (T+1, 64, 64, 3) uint8, `action` (T+1, A), `reward`,
`discount`, `is_first`, `is_last`, `is_terminal` (T+1,), where step 0 carries a zero action and reward (they
describe arriving at the first observation). A file may hold several episodes; `is_first` marks where each
begins. We drop step 0's action and reward, so observation t is followed by action t, as in Minari.

The result has our observation layout for the task minus what V-D4RL does not record: `pixels` (and no `state`:
it was never saved), and the task's env spec, so our samplers and algorithms train on it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np

from lompo_bench.data.store import datasets_root
from lompo_bench.data.writer import write_minari_dataset
from lompo_bench.errors import UserError
from lompo_bench.tasks import get_task_spec, make_task

KEYS = ("image", "action", "reward", "is_first", "is_last", "is_terminal")


def _episodes(path: Path) -> Iterator[dict[str, np.ndarray]]:
    try:
        with np.load(path) as data:
            missing = [k for k in KEYS if k not in data.files]
            if missing:
                raise UserError(f"{path} is not a V-D4RL episode file: missing {', '.join(missing)}")
            arrays = {k: data[k] for k in KEYS}
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    starts = list(np.flatnonzero(arrays["is_first"])) or [0]
    if starts[0] != 0:
        raise UserError(f"{path}: the first step is not marked is_first")
    for begin, end in zip(starts, starts[1:] + [len(arrays["image"])], strict=True):
        yield {k: v[begin:end] for k, v in arrays.items()}


def import_vd4rl(directory: Path, task: str, kind: str, dataset_id: str | None = None) -> tuple[str, int, int]:
    """Convert every `*.npz` in `directory` (sorted by name); returns (dataset id, episodes, transitions)."""
    spec = get_task_spec(task)
    files = sorted(Path(directory).glob("*.npz"))
    if not files:
        raise UserError(f"no .npz episode files in {directory}")
    dataset_id = dataset_id or f"vd4rl/{spec.name}/{kind}-v0"
    env = make_task(spec.name)
    pixels_space = env.observation_space["pixels"]
    action_space = env.action_space
    env.close()
    observation_space = gym.spaces.Dict({"pixels": pixels_space})
    final = datasets_root() / dataset_id
    if final.exists():
        raise UserError(f"dataset {dataset_id!r} already exists at {final}; pass another --id or delete it")
    counts = {"episodes": 0, "steps": 0}

    def converted() -> Iterator[dict]:
        for path in files:
            for ep in _episodes(path):
                if ep["image"].shape[1:] != pixels_space.shape:
                    raise UserError(
                        f"{path}: images of shape {ep['image'].shape[1:]}, {spec.name} uses {pixels_space.shape}"
                    )
                if ep["action"].shape[1:] != action_space.shape:
                    raise UserError(
                        f"{path}: actions of shape {ep['action'].shape[1:]}, {spec.name} has {action_space.shape}"
                    )
                n = len(ep["image"]) - 1
                if n < 1:
                    continue
                terminal = ep["is_terminal"][1:].astype(bool)
                last = ep["is_last"][1:].astype(bool)
                last[-1] = True  # an episode cut at the end of a file still ends there
                counts["episodes"] += 1
                counts["steps"] += n
                yield {
                    "observations": {"pixels": ep["image"].astype(np.uint8)},
                    "actions": ep["action"][1:],
                    "rewards": ep["reward"][1:],
                    "terminations": terminal,
                    "truncations": last & ~terminal,
                }

    metadata = {
        "algorithm_name": "V-D4RL (imported by lompo-bench)",
        "author": {"Cong Lu, Philip J. Ball, Tim G. J. Rudner, Jack Parker-Holder, Michael A. Osborne, Yee Whye Teh"},
        "docs_url": "https://github.com/conglu1997/v-d4rl",
        "description": f"V-D4RL {spec.name} {kind}, imported from {directory}",
        "ref_min_score": spec.ref_min_score,
        "lompo_kind": kind,
        "lompo_source": "vd4rl",
    }
    write_minari_dataset(dataset_id, gym.spec(spec.gym_id), observation_space, action_space, converted(), metadata)
    episodes, steps = counts["episodes"], counts["steps"]
    return dataset_id, episodes, steps
