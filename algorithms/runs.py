"""What every algorithm's training run shares: the run folder, the saved config, versioned checkpoints written
atomically, the device choice, evaluation in the task, and the result record the leaderboard reads.

A run lives in `$LOMPO_BENCH_HOME/runs/<algo>/<dataset id>/<profile>-seed<seed>/`:
    config.json       the resolved config, the dataset id, task, seed, device and code version
    checkpoint.pt     everything needed to continue bit for bit (rewritten atomically, never half-written)
    metrics.json      the loss and evaluation history so far (rewritten with every checkpoint)
    result.json       the final evaluation: returns and normalized score (plain JSON, no torch needed to read)
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from lompo_bench.errors import UserError
from lompo_bench.provenance import code_permalink

CHECKPOINT_VERSION = 1


class Progress(Protocol):
    """Stage progress, as the CLI's bars implement it (the same protocol as dataset generation's)."""

    def start(self, stage: str, total: int) -> None: ...

    def update(self, completed: int, message: str = "") -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def update(self, completed: int, message: str = "") -> None:
        pass

    def finish(self) -> None:
        pass


def resolve_device(name: str) -> torch.device:
    """`auto`: the GPU when one is present, else the CPU; `cpu`, `cuda`, `cuda:N` as asked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but torch sees no CUDA GPU here (use --device auto or cpu)")
    return device


def runs_root() -> Path:
    """`$LOMPO_BENCH_HOME/runs`, by default `~/.lompo_bench/runs`."""
    return Path(os.environ.get("LOMPO_BENCH_HOME", Path.home() / ".lompo_bench")) / "runs"


def run_dir(algo: str, dataset_id: str, profile: str, seed: int, root: Path | None = None) -> Path:
    return (root or runs_root()) / algo / dataset_id / f"{profile}-seed{seed}"


def write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so a killed job never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_jsonable))
    os.replace(tmp, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def save_config(folder: Path, config: Any, **context: Any) -> dict[str, Any]:
    """Save the resolved config beside the run; refuse to continue a run that was started with another config."""
    record = {"config": dataclasses.asdict(config), **context}
    path = folder / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        if json.loads(json.dumps(old["config"])) != json.loads(json.dumps(record["config"], default=_jsonable)):
            raise UserError(
                f"{folder} holds a run with another config; delete it or pick another --seed / --out to start afresh"
            )
        return old
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return record


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save({"version": CHECKPOINT_VERSION, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint at `path` (None when there is none); a checkpoint of another format version is refused."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises several types for a damaged file
        raise UserError(f"cannot read checkpoint {path}: {type(error).__name__}; delete it to start afresh") from None
    if state.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint format {state.get('version')}, this code reads {CHECKPOINT_VERSION}")
    return state


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


class EpisodePolicy(Protocol):
    """What evaluation needs of a trained agent: start an episode, then map each observation to an action."""

    def reset(self) -> None: ...

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray: ...


def evaluate_policy(
    policy: EpisodePolicy, task: str, episodes: int, seed: int, progress: Callable[[int], None] | None = None
) -> list[float]:
    """Undiscounted returns of `episodes` episodes in the pixel task, seeded `seed`, `seed + 1`, ..."""
    from lompo_bench.tasks import make_task

    env = make_task(task)
    returns = []
    try:
        for episode in range(episodes):
            observation, _ = env.reset(seed=seed + episode)
            policy.reset()
            total, done = 0.0, False
            while not done:
                observation, reward, terminated, truncated, _ = env.step(policy.act(observation))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
            if progress is not None:
                progress(episode + 1)
    finally:
        env.close()
    return returns


def normalized_score(value: float, ref_min: float, ref_max: float | None) -> float | None:
    """D4RL's normalized score, 100 (R - R_random) / (R_expert - R_random); None without an expert reference."""
    if ref_max is None or ref_max == ref_min:
        return None
    return 100.0 * (value - ref_min) / (ref_max - ref_min)


def result_record(
    *, algo: str, dataset_id: str, task: str, profile: str, seed: int, returns: list[float], seconds: float
) -> dict[str, Any]:
    """The result of one run as the leaderboard reads it; references from the dataset's metadata."""
    from lompo_bench.data.store import read_metadata
    from lompo_bench.tasks import get_task_spec

    # The dataset's references (those it was generated with); an imported dataset without them uses the task's.
    metadata = read_metadata(dataset_id)
    spec = get_task_spec(task)
    ref_min = metadata.get("ref_min_score", spec.ref_min_score)
    ref_max = metadata.get("ref_max_score", spec.ref_max_score)
    mean = float(np.mean(returns))
    return {
        "format": 1,
        "algo": algo,
        "dataset_id": dataset_id,
        "task": task,
        "kind": metadata.get("lompo_kind"),
        "profile": profile,
        "seed": seed,
        "episodes": len(returns),
        "returns": returns,
        "mean_return": mean,
        "std_return": float(np.std(returns)),
        "normalized_score": normalized_score(mean, ref_min, ref_max) if ref_min is not None else None,
        "ref_min_score": ref_min,
        "ref_max_score": ref_max,
        "reference_provisional": metadata.get("lompo_reference_provisional", spec.ref_provisional),
        "train_seconds": seconds,
        "code_version": code_permalink(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
