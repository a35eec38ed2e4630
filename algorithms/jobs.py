"""The jobs a user starts (`lompo-bench train`, `train --model-only` and `evaluate`): checks every input before
any work, finds the run folder, and calls the algorithm's module. The leaderboard's runners call these same
functions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lompo_bench import seeds
from lompo_bench.algorithms import configs, metrics, runs
from lompo_bench.algorithms.registry import WorldModelAlgorithm, get_algorithm
from lompo_bench.data.store import dataset_path, dataset_task
from lompo_bench.errors import UserError
from lompo_bench.files import write_json
from lompo_bench.paths import run_dir, runs_root
from lompo_bench.progress import NoProgress, Progress


def train(
    algo: str,
    dataset_id: str,
    profile: str = "cpu",
    seed: int = 0,
    device: str = "auto",
    out: Path | None = None,
    progress: Progress | None = None,
    overrides: Sequence[str] = (),
    logger: str = "csv",
) -> dict[str, Any]:
    """Train `algo` on `dataset_id` (resuming a killed run of the same config) and return its result record.
    `overrides` (`key=value`, as `--set`) change the profile's config; such a run gets a folder of its own.
    `logger`: "csv" (metrics.csv, always written) or "tensorboard" (event files as well)."""
    module, config, changed, task, torch_device = _prepare(algo, dataset_id, profile, seed, device, overrides, logger)
    folder = run_dir(module.NAME, dataset_id, profile, seed, out, configs.overrides_key(changed))
    with runs.exclusive_run(folder):
        if changed:
            write_json(folder / "overrides.json", changed)
        if logger == "tensorboard":
            (folder / metrics.TENSORBOARD).mkdir(exist_ok=True)
        record = module.train(
            dataset_id=dataset_id,
            task=task,
            profile=profile,
            config=config,
            folder=folder,
            seed=seed,
            device=torch_device,
            progress=progress,
        )
    _check_result(module.NAME, dataset_id, folder)
    return record


def _check_result(name: str, dataset_id: str, folder: Path) -> None:
    """Hold a finished run (a plugin's as a built-in's) to the one record format, where `report` reads it: a
    `result.json` in its run folder whose `algo` and `dataset_id` are the run's."""
    from lompo_bench.records import read_record

    path = folder / "result.json"
    if not path.exists():
        raise UserError(f"{name}'s train() finished without writing {path} (docs/ALGORITHMS.md: finish_run writes it)")
    record = read_record(path)
    if (record["algo"], record["dataset_id"]) != (name, dataset_id):
        raise UserError(
            f"{path} is a record of {record['algo']} on {record['dataset_id']}, not of {name} on {dataset_id}: a "
            "record's algo must be its algorithm's NAME"
        )


LOGGERS = ("csv", "tensorboard")


def _check_logger(logger: str) -> None:
    if logger not in LOGGERS:
        raise UserError(f"unknown logger {logger!r}: choose from {', '.join(LOGGERS)}")
    if logger == "tensorboard":
        metrics.TensorBoard.require()


def _prepare(
    algo: str,
    dataset_id: str,
    profile: str,
    seed: int,
    device: str,
    overrides: Sequence[str],
    logger: str,
    world_model: bool = False,
) -> tuple[Any, Any, dict[str, Any], str, Any]:
    """Every input of a training job checked before any work, each refused in one line: the algorithm's module (one
    with a world model, where `world_model`), its config and parsed overrides, the dataset's task, the device."""
    seeds.check_run_seed(seed)
    module, config, changed = _config(algo, profile, overrides)
    if world_model and not isinstance(module, WorldModelAlgorithm):
        raise UserError(f"{module.NAME} has no world model to train (only lompo, lmbrl and offline_slac have one)")
    dataset_path(dataset_id)  # a missing dataset fails here, before anything is built
    task = dataset_task(dataset_id)
    _check_logger(logger)
    return module, config, changed, task, configs.resolve_device(device)


def _config(algo: str, profile: str, overrides: Sequence[str]) -> tuple[Any, Any, dict[str, Any]]:
    """The algorithm's module, its config for `profile` with `overrides` applied, and the parsed overrides."""
    module = get_algorithm(algo)
    base = module.make_config(profile)
    changed = configs.parse_overrides(module.NAME, base, overrides)
    return module, module.make_config(profile, **changed), changed


def train_model(
    algo: str,
    dataset_id: str,
    profile: str = "cpu",
    seed: int = 0,
    device: str = "auto",
    out: Path | None = None,
    progress: Progress | None = None,
    overrides: Sequence[str] = (),
    logger: str = "csv",
) -> Path:
    """Train only the world model a run of `algo` would train first (shared by LOMPO and LMBRL runs of one dataset,
    profile and seed under one runs folder); returns its folder. A first stage for cluster jobs."""
    module, config, _, task, torch_device = _prepare(
        algo, dataset_id, profile, seed, device, overrides, logger, world_model=True
    )
    return module.train_world_model(
        dataset_id=dataset_id,
        task=task,
        config=config,
        seed=seed,
        device=torch_device,
        root=out or runs_root(),
        progress=progress,
        tensorboard=logger == "tensorboard",
    )


def evaluate(
    algo: str,
    dataset_id: str,
    profile: str = "cpu",
    seed: int = 0,
    episodes: int = 10,
    device: str = "auto",
    out: Path | None = None,
    progress: Progress | None = None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Evaluate the policy of a finished training run in its task; writes `evaluation.json` beside the run.
    `overrides`: the run's `--set` overrides, which name its folder."""
    seeds.check_run_seed(seed)
    module, _, changed = _config(algo, profile, overrides)
    if episodes < 1:
        raise UserError(f"--episodes must be at least 1, not {episodes}")
    folder = run_dir(module.NAME, dataset_id, profile, seed, out, configs.overrides_key(changed))
    if not (folder / "result.json").exists():
        raise UserError(
            f"no finished {module.NAME} run for {dataset_id} ({profile}, seed {seed}) in {folder}; "
            f"train it first: lompo-bench train --algo {module.NAME} --dataset {dataset_id} --profile {profile}"
        )
    task = json.loads((folder / "config.json").read_text())["task"]
    policy = module.load_policy(folder, configs.resolve_device(device))
    # Seeds apart from training's final evaluation, so this is a fresh sample of start states.
    record = runs.evaluate_to_record(
        policy, task, episodes, seeds.reevaluation_seed(seed), image_size=runs.run_image_size(folder),
        progress=progress or NoProgress(), algo=module.NAME, dataset_id=dataset_id, profile=profile, seed=seed,
        seconds=json.loads((folder / "result.json").read_text())["train_seconds"], **runs.saved_record_context(folder),
    )  # fmt: skip
    write_json(folder / "evaluation.json", record)
    return record


def diagnose(folder: Path, device: str = "auto", penalty: float | None = None, in_task: int = 0) -> dict[str, Any]:
    """World-model diagnostics (algorithms/diagnostics.py) of a saved world model: a shared model's folder or a
    LOMPO / LMBRL / Offline SLAC run folder (then its actor's actions are measured too, and with `in_task`
    episodes, its policy in the task against the model's predictions)."""
    from lompo_bench.algorithms import diagnostics

    if not folder.is_dir():
        raise UserError(f"no such folder: {folder}")
    if penalty is not None and penalty < 0:
        raise UserError(f"--penalty must be at least 0, not {penalty}")
    if in_task < 0:
        raise UserError(f"--in-task is a number of episodes (0: none), not {in_task}")
    return diagnostics.diagnose(folder, configs.resolve_device(device), penalty=penalty, in_task=in_task)
