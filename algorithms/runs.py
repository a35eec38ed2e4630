"""A training run's folder and lifecycle, shared by every algorithm: one process per run (`exclusive_run`), the
saved config (a rerun with another config is refused), the bookkeeping checkpoints carry (`RunState`: phase,
counters, history, seconds; logged values through `metrics`), and the final evaluation that writes the result
record (`finish_run`; its evaluate-then-record step, `evaluate_to_record`, is also `jobs.evaluate`'s and an outside
policy's). Checkpoint files: `checkpoints`; evaluation and the record: `evaluation`; profiles, overrides and the
device: `configs`; the model-free learners' loop: `model_free`.

A run lives in `$LOMPO_BENCH_HOME/runs/<algo>/<dataset id>/<profile>-seed<seed>/`:
    config.json       the resolved config, the dataset id, task, seed, device, code version and frame size
    overrides.json    the `train --set key=value` overrides (only in such runs: `<profile>+<digest>-seed<seed>`)
    checkpoint.pt     everything needed to continue bit for bit (rewritten atomically, never half-written)
    metrics.csv       the same history as it happens, one row per value (phase, step, metric, value), appended
                      at every log step; on resume rewritten from the checkpoint, so no row is doubled
    metrics.json      the loss and evaluation history so far (rewritten with every checkpoint)
    result.json       the final evaluation: returns and normalized score (plain JSON, no torch needed to read)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lompo_bench import seeds
from lompo_bench.algorithms.checkpoints import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from lompo_bench.algorithms.evaluation import EpisodePolicy, evaluate_policy, result_record
from lompo_bench.algorithms.metrics import CSV_HEADER, TENSORBOARD, TensorBoard, csv_rows
from lompo_bench.algorithms.nets import NETWORKS
from lompo_bench.errors import UserError
from lompo_bench.files import exclusive_folder, to_json, write_atomic, write_json
from lompo_bench.progress import Progress
from lompo_bench.provenance import code_permalink


@contextlib.contextmanager
def exclusive_run(folder: Path) -> Iterator[None]:
    """Hold the run folder for one training process: a second process on the same folder is refused in one line
    (two writers would interleave checkpoints). The lock dies with its holder, so a killed run can be resumed."""
    with exclusive_folder(folder, "training the run"):
        yield


def save_config(folder: Path, config: Any, **context: Any) -> dict[str, Any]:
    """Save the resolved config beside the run; refuse to continue a run that was started with another config."""
    record = {"config": dataclasses.asdict(config), **context}
    path = folder / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        _check_networks(folder, old)
        new = json.loads(to_json(record["config"]))
        # Settings added to a config after the run started (the world model's speed settings) are not compared:
        # such a run continues, and its saved config keeps the fields it was started with.
        if old["config"] != {key: value for key, value in new.items() if key in old["config"]}:
            raise UserError(
                f"{folder} holds a run with another config; delete it or pick another --seed / --out to start afresh"
            )
        return old
    folder.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return record


def start_run(
    folder: Path,
    config: Any,
    *,
    algo: str,
    dataset_id: str,
    task: str,
    seed: int,
    device: Any,
    cache: Any,
    speed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save (or check, on a rerun) the run's resolved config with what it trains on and where (and the `--set`
    overrides behind it, which `jobs.train` left in the run folder's `overrides.json`; and how the model computes
    there, `speed`, where the algorithm has such settings)."""
    overrides_file = folder / "overrides.json"
    overrides = json.loads(overrides_file.read_text()) if overrides_file.exists() else None
    return save_config(
        folder,
        config,
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        seed=seed,
        device=str(device),
        action_dim=int(cache.actions.shape[1]),
        proprio_dim=int(cache.proprio.shape[1]),
        image_size=int(cache.frame_shape[0]),  # the frames' size: evaluation renders the task at it
        code_version=code_permalink(),
        networks=NETWORKS,  # which networks the weights belong to (nets.NETWORKS): older runs are refused
        dataset_fingerprint=cache.fingerprint,  # the content trained on: the result record carries it
        **({"overrides": overrides} if overrides else {}),
        **({"speed": speed} if speed else {}),
    )


def run_image_size(folder: Path) -> int:
    """The frame size of the dataset the run in `folder` trains on (`start_run` saves it), which its policy is
    evaluated at. A run saved before the size was recorded trained on 64 px frames, the only size there was."""
    return int(json.loads((folder / "config.json").read_text()).get("image_size", 64))


def load_finished(folder: Path, device: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A finished run's saved config record and last checkpoint (for `evaluate`)."""
    state = load_checkpoint(folder / "checkpoint.pt", device)
    if state is None or not (folder / "config.json").exists():
        raise UserError(f"{folder} holds no trained run; train first")
    record = json.loads((folder / "config.json").read_text())
    _check_networks(folder, record)
    return record, state


def _check_networks(folder: Path, record: dict[str, Any]) -> None:
    """Refuse, in one line, a run whose weights belong to networks this version no longer builds (a run saved
    before the field existed has version 1): its checkpoint would load into other layers and act wrongly."""
    version = record.get("networks", 1)
    if version != NETWORKS:
        raise UserError(
            f"{folder} was trained with networks of version {version} (this lompo-bench builds version "
            f"{NETWORKS}: the official activations, layer rule and initialisation); delete it or pick another "
            "--seed / --out to train afresh"
        )


def set_proprio_stats(encoder: Any, cache: Any) -> None:
    """Give the encoder the dataset's proprio mean and std (stored in its buffers, so checkpoints carry them)."""
    if cache.proprio.shape[1]:
        encoder.proprio_mean.copy_(torch.as_tensor(cache.proprio.mean(0)))
        encoder.proprio_std.copy_(torch.as_tensor(cache.proprio.std(0) + 1e-3))  # constant joints: no zero division


class RunState:
    """A run's bookkeeping that checkpoints carry: phase, counters, loss and evaluation history, seconds spent.
    Every value logged also lands in `metrics.csv` at once (for a person or a plot to follow the run)."""

    def __init__(self, folder: Path, **counters: Any):
        self.folder = folder
        self.data: dict[str, Any] = {"phase": "train", **counters, "history": [], "evaluations": [], "seconds": 0.0}
        self._started = time.perf_counter()
        self._csv_ready = False
        self._board: TensorBoard | None = TensorBoard(folder / TENSORBOARD) if (folder / TENSORBOARD).is_dir() else None

    def restore(self, data: dict[str, Any]) -> None:
        self.data = data
        self._started = time.perf_counter() - data["seconds"]
        self.rewrite_csv()  # rows a killed process logged after its last checkpoint are dropped

    def rewrite_csv(self) -> None:
        """`metrics.csv` from the bookkeeping as it stands (a fresh run, a resumed one, an adopted history)."""
        rows = [csv_rows(entry) for entry in self.data["history"]]
        rows += [csv_rows(entry, "evaluation") for entry in self.data["evaluations"]]
        write_atomic(self.folder / "metrics.csv", CSV_HEADER + "".join(rows))
        self._csv_ready = True
        if self._board is not None:
            self._board.rewrite(self.data["history"], self.data["evaluations"])

    def _append(self, key: str, entry: dict[str, Any], rows: str) -> None:
        """Add `entry` to the bookkeeping's `key` list and its rows to `metrics.csv` (started first if needed)."""
        if not self._csv_ready:
            self.rewrite_csv()
        self.data[key].append(entry)
        with open(self.folder / "metrics.csv", "a") as f:
            f.write(rows)
        if self._board is not None:
            self._board.add(entry, "evaluation" if key == "evaluations" else entry["phase"])

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        """An image (H, W, 3 uint8) to TensorBoard, when the run logs there (else nothing)."""
        if self._board is not None:
            self._board.image(tag, step, image)

    def log(self, phase: str, step: int, values: dict[str, float]) -> None:
        entry = {"phase": phase, "step": step, **values}
        self._append("history", entry, csv_rows(entry))

    def evaluate(self, policy: EpisodePolicy, task: str, episodes: int, seed: int, step: int) -> None:
        """Evaluate the policy during training (the run's evaluation seeds) and log its mean return at `step`."""
        returns = evaluate_policy(
            policy, task, episodes, seeds.evaluation_seed(seed), image_size=run_image_size(self.folder)
        )
        self.log_evaluation(float(np.mean(returns)), step)

    def log_evaluation(self, mean_return: float, step: int | None = None) -> None:
        """An evaluation's mean return at `step` (None: the final one)."""
        entry = {"step": step, "mean_return": float(mean_return)} if step is not None else {
            "final": True, "mean_return": float(mean_return)}  # fmt: skip
        self._append("evaluations", entry, csv_rows(entry, "evaluation"))

    def save(self, training: dict[str, Any], sampler_state: dict[str, Any]) -> None:
        if self._board is not None:
            self._board.flush()
        self.data["seconds"] = time.perf_counter() - self._started
        state = {"training": training, "sampler": sampler_state, "rng": rng_state(), "progress": self.data}
        save_checkpoint(self.folder / "checkpoint.pt", state)
        write_json(self.folder / "metrics.json", {k: self.data[k] for k in ("history", "evaluations")})

    def load(self, device: Any) -> dict[str, Any] | None:
        """The saved checkpoint (its RNG and bookkeeping already restored), or None for a fresh run."""
        state = load_checkpoint(self.folder / "checkpoint.pt", device)
        if state is not None:
            set_rng_state(state["rng"])
            self.restore(state["progress"])
        return state

    def resume(self, device: Any, learner: Any, sampler: Any) -> bool:
        """Continue from the saved checkpoint, if any: RNG, bookkeeping, `learner.load_training_state(...)` and
        `sampler.set_state(...)`. True when there was one."""
        state = self.load(device)
        if state is not None:
            learner.load_training_state(state["training"])
            sampler.set_state(state["sampler"])
        return state is not None

    def checkpoint(self, learner: Any, sampler: Any) -> None:
        """Save what `resume` reads back: `learner.training_state()` and `sampler.get_state()`."""
        self.save(learner.training_state(), sampler.get_state())


def finish_run(
    run: RunState,
    *,
    algo: str,
    dataset_id: str,
    task: str,
    profile: str,
    seed: int,
    policy: EpisodePolicy,
    episodes: int,
    save: Callable[[], None],
    progress: Progress,
) -> dict[str, Any]:
    """The final evaluation of a trained policy: the result record, written once (a finished run returns it)."""
    result_path = run.folder / "result.json"
    if run.data["phase"] != "done" or not result_path.exists():
        record = evaluate_to_record(
            policy, task, episodes, seeds.evaluation_seed(seed), image_size=run_image_size(run.folder),
            progress=progress, algo=algo, dataset_id=dataset_id, profile=profile, seed=seed,
            seconds=run.data["seconds"] + run.data.get("model_seconds", 0.0),  # a shared model's time counts
            **saved_record_context(run.folder),
        )  # fmt: skip
        run.log_evaluation(record["mean_return"])
        run.data["phase"] = "done"
        save()
        write_json(result_path, record)
    return json.loads(result_path.read_text())


def saved_record_context(folder: Path) -> dict[str, Any]:
    """What the result record of the run in `folder` takes from its saved config (`start_run`): the code version
    that trained it, its `--set` overrides and the content of the dataset it trained on."""
    context = json.loads((folder / "config.json").read_text())
    return {
        "code_version": context["code_version"],
        "overrides": context.get("overrides"),
        "dataset_fingerprint": context.get("dataset_fingerprint"),
    }


def evaluate_to_record(
    policy: EpisodePolicy,
    task: str,
    episodes: int,
    first_seed: int,
    *,
    image_size: int,
    progress: Progress,
    clipped_actions: Callable[[], int] | None = None,
    **record: Any,
) -> dict[str, Any]:
    """Evaluate, then build the result record: `episodes` episodes of `policy` in `task` from the reset seeds
    `first_seed + i` at `image_size` px (an "evaluation" stage of `progress`), and `evaluation.result_record` of
    their returns with `record`'s fields (algo, dataset_id, profile, seed, seconds, code_version, ...), the final
    evaluation's (`finish_run`), a re-evaluation's (`jobs.evaluate`) and an outside policy's. `clipped_actions`:
    the policy's count of clipped action components, read once the episodes are done."""
    progress.start("evaluation", episodes)
    returns = evaluate_policy(policy, task, episodes, first_seed, progress=progress, image_size=image_size)
    progress.finish()
    if clipped_actions is not None:
        record["clipped_actions"] = clipped_actions()
    return result_record(task=task, returns=returns, **record)
