"""The shared world models of LOMPO, LMBRL and Offline SLAC: where a trained variational model is kept, under
which key, and how a run finds it, waits for it, or trains it (Algorithm 1's model phase, run once per dataset,
model config and seed, and shared by every run that needs the very same model).

A model lives in `<runs root>/_world_models/<dataset>/seed<S>-<key>/` (`paths.world_model_dir`), its key a digest
of the config's MODEL_FIELDS and MODEL_FORMAT (`model_key`: in the torch-free `lompo_config`, so that planning
needs no torch). The folder holds `config.json` (what trained it), `checkpoint.pt` while it trains, then `model.pt`
(weights, loss history, seconds) and `continue.pt` (the last training checkpoint, from which a longer training of
the same config goes on exactly). The model's training itself, Eq. 8, is `lompo.WorldModel.update`; this module
runs it under a lock on its batches (`model_batches`), keeps what it made, and hands it to a run (`adopt`).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lompo_bench.algorithms import checkpoints, metrics, runs
from lompo_bench.algorithms.lompo_config import MODEL_FIELDS, MODEL_FORMAT, model_key
from lompo_bench.data import SequenceSampler, TorchBatches
from lompo_bench.data.cache import DatasetCache
from lompo_bench.files import file_lock, write_json
from lompo_bench.paths import world_model_dir
from lompo_bench.progress import Progress


def holdout_episodes(num_episodes: int, holdout: float) -> np.ndarray:
    """The episodes a model of `holdout` keeps out of its training: round(holdout x N) (at least 1 when holdout
    > 0), evenly spaced through the dataset (so both halves of a medium-expert dataset are represented)."""
    count = min(num_episodes - 1, max(1, round(holdout * num_episodes))) if holdout > 0 else 0
    return np.unique(((np.arange(count) + 0.5) * num_episodes / max(count, 1)).astype(int))


def training_episodes(num_episodes: int, holdout: float) -> np.ndarray | None:
    """The episodes the model trains on (None: all of them, the official code's)."""
    if holdout <= 0:
        return None
    return np.setdiff1d(np.arange(num_episodes), holdout_episodes(num_episodes, holdout))


def model_batches(model: Any, cache: DatasetCache, seed: int, device: torch.device) -> TorchBatches:
    """Batches for `model` (a `lompo.WorldModel`: `model_batch` windows of `seq_len` steps) of `cache` on `device`,
    from the episodes it trains on: pinned for a GPU, and drawn ahead on a thread where the model's speed settings
    say (speed.resolve_prefetch: CUDA)."""
    c = model.config
    sampler = SequenceSampler(cache, c.model_batch, c.seq_len, seed=seed, pin_memory=device.type == "cuda",
                              episodes=training_episodes(cache.num_episodes, c.holdout))  # fmt: skip
    return TorchBatches(sampler, device, prefetch=model.speed["prefetch"])


def shared_world_model(
    dataset_id: str,
    config: Any,
    root: Path,
    seed: int,
    device: torch.device,
    progress: Progress,
    *,
    build: Callable[[], tuple[Any, Any]],
    diagnose: Callable[[Any], dict[str, float]],
    picture: Callable[[Any, dict[str, torch.Tensor]], np.ndarray],
    tensorboard: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trained world model of `config` (a resolved LompoConfig) on `dataset_id` and `seed` under the runs root
    `root`: its weights and record (loss history, seconds, folder). Trained here (resuming its own checkpoint, or
    going on from a shorter training of the same config) unless it is trained already; one process trains it and
    others wanting it wait on its lock, then load it. `build()` gives the model and its batches (called after the
    seed is set); `diagnose(model)` the diagnostics logged at each checkpoint. With `tensorboard`, its losses and,
    at each checkpoint, `picture(model, batch)` (true, reconstructed and open-loop predicted frames) go to
    TensorBoard too."""
    folder = world_model_dir(root, dataset_id, seed, model_key(config))
    final = folder / "model.pt"
    with file_lock(folder.with_name(folder.name + ".lock")):
        if not final.exists():
            folder.mkdir(parents=True, exist_ok=True)
            torch.manual_seed(seed)
            _train(folder, dataset_id, config, root, seed, device, progress, build, diagnose, picture, tensorboard)
        saved = checkpoints.load_checkpoint(final, device)
    return saved["modules"], {"history": saved["history"], "seconds": saved["seconds"], "folder": str(folder)}


def adopt(run: runs.RunState, model: Any, weights: dict[str, Any], record: dict[str, Any]) -> None:
    """A fresh run takes the shared model `shared_world_model` gave (`weights`, `record`): the weights into its
    `model`, and the model's loss history, seconds and folder into the run's bookkeeping."""
    model.load_state_dict(weights)
    run.data["history"] = list(record["history"])
    run.rewrite_csv()  # the shared model's losses head this run's log too
    run.data["model_seconds"] = record["seconds"]
    run.data["model_folder"] = record["folder"]


def _train(folder: Path, dataset_id: str, config: Any, root: Path, seed: int, device: torch.device,
           progress: Progress, build: Callable[[], tuple[Any, Any]], diagnose: Callable[[Any], dict[str, float]],
           picture: Callable[[Any, dict[str, torch.Tensor]], np.ndarray], tensorboard: bool) -> None:  # fmt: skip
    """`config.model_steps` updates of Eq. 8 into `folder`, checkpointed (and diagnosed) every `checkpoint_every`,
    kept as `model_snapshots` on the way, finished as `model.pt`."""
    model, batches = build()
    write_json(folder / "config.json", model_context(dataset_id, config, seed, model))
    if tensorboard:
        (folder / metrics.TENSORBOARD).mkdir(exist_ok=True)
    if not (folder / "checkpoint.pt").exists() and (shorter := _shorter_model(dataset_id, config, root, seed)):
        shutil.copyfile(shorter, folder / "checkpoint.pt")  # go on from the longest shorter training
    run = runs.RunState(folder, phase="model", model_step=0)
    run.resume(device, model, batches)
    progress.start("model (Eq. 8)", config.model_steps)
    seen = ""
    while run.data["model_step"] < config.model_steps:
        batch = batches.sample()
        losses = model.update(batch)
        run.data["model_step"] += 1
        step = run.data["model_step"]
        if step % config.log_every == 0 or step == 1:
            run.log("model", step, losses)
        progress.update(step, f"loss {losses['model_loss']:.1f} KL {losses['kl']:.2f}{seen}")
        snapshot = step in config.model_snapshots and step < config.model_steps
        if step % config.checkpoint_every == 0 or step == config.model_steps or snapshot:
            if tensorboard:  # draws no random numbers: the run is the same with or without it
                run.log_image("model/truth_reconstruction_open_loop", step, picture(model, batch))
            # Neither do the diagnostics (a forked generator): with or without them, the same model.
            values = diagnose(model)
            run.log("diagnostics", step, values)
            if config.ensemble > 1:  # one head (Offline SLAC): no spread to show
                seen = (f" | {'held-out' if config.holdout else 'in-sample'} spread at data / uniform "
                        f"actions {values['spread_data']:.3f} / {values['spread_uniform']:.3f}")  # fmt: skip
            run.checkpoint(model, batches)
        if snapshot:
            _keep_snapshot(dataset_id, config, root, seed, model, run, step)
    batches.close()
    progress.finish()
    _save_finished_model(folder, model, run)


def model_context(dataset_id: str, config: Any, seed: int, model: Any | None) -> dict[str, Any]:
    """A shared model's `config.json`: what trained it (MODEL_FIELDS as JSON values) and how it computed."""
    fields = json.loads(json.dumps({name: getattr(config, name) for name in MODEL_FIELDS}))
    speed_used = model.speed if model is not None else None
    return {"dataset_id": dataset_id, "seed": seed, "model_format": MODEL_FORMAT, "model": fields, "speed": speed_used}


def _save_finished_model(folder: Path, model: Any, run: runs.RunState) -> None:
    """The finished model's record (`model.pt`: weights, loss history, seconds). Its last training checkpoint
    (optimizer, sampler, RNG) is kept as `continue.pt`, from which a longer-trained model of the same config
    can go on exactly (the same updates as one trained that long from the start)."""
    record = {"modules": model.state_dict(), "history": run.data["history"], "seconds": run.data["seconds"]}
    checkpoints.save_checkpoint(folder / "model.pt", record)
    (folder / "checkpoint.pt").replace(folder / "continue.pt")


def _shorter_model(dataset_id: str, config: Any, root: Path, seed: int) -> Path | None:
    """The `continue.pt` of the longest-trained finished model of the same config with fewer updates, if any."""
    best, best_steps = None, 0
    for other in world_model_dir(root, dataset_id, seed, "*").parent.glob(f"seed{seed}-*/continue.pt"):
        try:
            context = json.loads((other.parent / "config.json").read_text())
            fields = context["model"] if context["model_format"] == MODEL_FORMAT else {}
        except (OSError, ValueError, KeyError):
            continue
        steps = fields.get("model_steps", 0)
        same = {**fields, "model_steps": config.model_steps} == model_context(dataset_id, config, seed, None)["model"]
        if same and best_steps < steps < config.model_steps:
            best, best_steps = other, steps
    return best


def _keep_snapshot(dataset_id: str, config: Any, root: Path, seed: int, model: Any, run: runs.RunState,
                   step: int) -> None:  # fmt: skip
    """At update `step` of a longer training, the finished model of the same config trained for `step` updates,
    written where that model would be (its own key), unless it exists already."""
    short = dataclasses.replace(config, model_steps=step)
    folder = world_model_dir(root, dataset_id, seed, model_key(short))
    with file_lock(folder.with_name(folder.name + ".lock")):
        if (folder / "model.pt").exists():
            return
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "config.json", {**model_context(dataset_id, short, seed, model), "snapshot_of": step})
        shutil.copyfile(run.folder / "checkpoint.pt", folder / "checkpoint.pt")
        _save_finished_model(folder, model, run)
