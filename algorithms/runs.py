"""What every algorithm's training run shares: the run folder, the saved config, versioned checkpoints written
atomically, the device choice, evaluation in the task, and the result record the leaderboard reads.

A run lives in `$LOMPO_BENCH_HOME/runs/<algo>/<dataset id>/<profile>-seed<seed>/`:
    config.json       the resolved config, the dataset id, task, seed, device and code version
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
import difflib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from lompo_bench import seeds
from lompo_bench.data import to_torch
from lompo_bench.errors import UserError
from lompo_bench.files import LockHeld, file_lock, to_json, write_atomic, write_json
from lompo_bench.progress import NoProgress, Progress
from lompo_bench.provenance import code_permalink
from lompo_bench.records import ResultRecord, normalized_score

CHECKPOINT_VERSION = 2
# Format 2 came with LOMPO's rework to the official implementation: LOMPO, LMBRL and Offline SLAC changed their
# networks (the world model became its own module, a deeper reward head, 64-d latents, deeper actor and critic, a
# deterministic actor), so a format-1 policy of theirs is a different algorithm's and is refused. BC's and CQL's
# networks did not change: their format-1 checkpoints are read as they are.
FORMAT_1_READABLE = ("bc", "cql")


def parse_overrides(algo: str, config: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings (`train --set`) as typed values of `config`'s fields: ints, floats, booleans
    (true/false), strings, comma lists for tuples, `none` where a field may be None. One line for a bad one."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserError(f"--set wants key=value, not {pair!r}")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise UserError(f"{algo} has no setting {key!r}: {hint}its settings: {', '.join(fields)}")
        parsed[key] = _typed(algo, key, text.strip(), str(fields[key].type), getattr(config, key))
    return parsed


def _typed(algo: str, key: str, text: str, annotation: str, current: Any) -> Any:
    if text.lower() == "none" and "None" in annotation:
        return None
    try:
        if "tuple" in annotation:
            return tuple(int(part) for part in text.split(",") if part.strip())
        if "bool" in annotation or isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if "int" in annotation.replace("tuple", "") and "float" not in annotation:
            return int(text.replace("_", ""))
        if "float" in annotation:
            return float(text)
    except ValueError:
        raise UserError(f"{algo} setting {key} wants a value of type {annotation}, not {text!r}") from None
    return text


def overrides_key(overrides: dict[str, Any]) -> str | None:
    """A short digest naming a set of overrides (None for none): part of the run folder's name."""
    if not overrides:
        return None
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, default=list).encode()).hexdigest()[:8]


def pick_profile(algo: str, profiles: dict[str, Any], profile: str, **overrides: Any) -> Any:
    """An algorithm's config for `profile` (smoke / cpu / paper), with `overrides` applied; one line if unknown."""
    if profile not in profiles:
        raise UserError(f"unknown profile {profile!r} for {algo}: choose from {', '.join(profiles)}")
    return dataclasses.replace(profiles[profile], **overrides)


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


@contextlib.contextmanager
def exclusive_run(folder: Path) -> Iterator[None]:
    """Hold the run folder for one training process: a second process on the same folder is refused in one line
    (two writers would interleave checkpoints). The lock dies with its holder, so a killed run can be resumed."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(folder / ".lock", wait=False))
        except LockHeld as held:
            raise UserError(
                f"another process ({held.holder}) is training the run in {folder}; wait for it to finish "
                "(rerun then to resume), or pick another --seed / --out"
            ) from None
        yield


def save_config(folder: Path, config: Any, **context: Any) -> dict[str, Any]:
    """Save the resolved config beside the run; refuse to continue a run that was started with another config."""
    record = {"config": dataclasses.asdict(config), **context}
    path = folder / "config.json"
    if path.exists():
        old = json.loads(path.read_text())
        new = json.loads(to_json(record["config"]))
        # Settings added to a config after the run started (the speed settings of issue 13) are not compared:
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
        code_version=code_permalink(),
        **({"overrides": overrides} if overrides else {}),
        **({"speed": speed} if speed else {}),
    )


def load_finished(folder: Path, device: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A finished run's saved config record and last checkpoint (for `evaluate`)."""
    state = load_checkpoint(folder / "checkpoint.pt", device)
    if state is None or not (folder / "config.json").exists():
        raise UserError(f"{folder} holds no trained run; train first")
    return json.loads((folder / "config.json").read_text()), state


def set_proprio_stats(encoder: Any, cache: Any) -> None:
    """Give the encoder the dataset's proprio mean and std (stored in its buffers, so checkpoints carry them)."""
    if cache.proprio.shape[1]:
        encoder.proprio_mean.copy_(torch.as_tensor(cache.proprio.mean(0)))
        encoder.proprio_std.copy_(torch.as_tensor(cache.proprio.std(0) + 1e-3))  # constant joints: no zero division


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
    version = state.get("version")
    if version == 1:
        return _from_format_1(path, state)
    if version != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint format {version}, this code reads {CHECKPOINT_VERSION}")
    return state


def _from_format_1(path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Convert a format-1 checkpoint to format 2 where the algorithm's networks did not change (BC, CQL); refuse
    the others in one line that says why."""
    config = path.parent / "config.json"
    algo = json.loads(config.read_text()).get("algo") if config.exists() else None
    if algo not in FORMAT_1_READABLE:
        raise UserError(
            f"{path} has checkpoint format 1 of {algo or 'an unknown algorithm'}: its networks predate LOMPO's "
            f"rework to the official implementation (format 2), so it cannot act as trained; train it again"
        )
    return {**state, "version": CHECKPOINT_VERSION}


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
    policy: EpisodePolicy, task: str, episodes: int, seed: int, progress: Progress | None = None
) -> list[float]:
    """Undiscounted returns of `episodes` episodes in the pixel task, seeded `seed`, `seed + 1`, ...; episodes
    done go to `progress` (a started stage)."""
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
                progress.update(episode + 1)
    finally:
        env.close()
    return returns


def result_record(
    *,
    algo: str,
    dataset_id: str,
    task: str,
    profile: str,
    seed: int,
    returns: list[float],
    seconds: float,
    code_version: str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The result of one run (`lompo_bench.records.ResultRecord`, as JSON), references from the dataset's
    metadata. A run trained with `--set` overrides carries them (`report` keeps such runs out of Table I unless
    asked)."""
    from lompo_bench.data.store import read_metadata
    from lompo_bench.tasks import get_task_spec

    # The dataset's references (those it was generated with); an imported dataset without them uses the task's.
    metadata = read_metadata(dataset_id)
    spec = get_task_spec(task)
    ref_min = metadata.get("ref_min_score", spec.ref_min_score)
    ref_max = metadata.get("ref_max_score", spec.ref_max_score)
    mean = float(np.mean(returns))
    return ResultRecord(
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        kind=metadata.get("lompo_kind"),
        dataset_profile=metadata.get("lompo_profile"),
        dataset_source=metadata.get("lompo_source", "lompo-bench"),
        ablation_factor=metadata.get("lompo_ablation_factor"),
        dataset_transitions=metadata.get("total_steps"),
        profile=profile,
        seed=seed,
        episodes=len(returns),
        returns=returns,
        mean_return=mean,
        std_return=float(np.std(returns)),
        normalized_score=normalized_score(mean, ref_min, ref_max) if ref_min is not None else None,
        ref_min_score=ref_min,
        ref_max_score=ref_max,
        reference_provisional=metadata.get("lompo_reference_provisional", spec.ref_provisional),
        train_seconds=seconds,
        code_version=code_version,
        evaluation_code_version=code_permalink(),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        overrides=overrides or None,
    ).to_dict()


CSV_HEADER = "phase,step,metric,value\n"
TENSORBOARD = "tensorboard"  # a run whose folder holds this folder also logs there (`train --logger tensorboard`)


class TensorBoard:
    """TensorBoard event files of a run (the `tensorboard` extra): scalars under `scalars/`, rewritten from the
    bookkeeping whenever metrics.csv is (so a resumed run shows no doubled steps), images under `images/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._scalars: Any = None
        self._images: Any = None

    @staticmethod
    def require() -> Any:
        """torch's SummaryWriter; one line naming the extra when TensorBoard is not installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError('--logger tensorboard needs TensorBoard: pip install -e ".[tensorboard]"') from None
        return SummaryWriter

    @classmethod
    def writer(cls, path: Path) -> Any:
        return cls.require()(str(path), flush_secs=30)

    def rewrite(self, history: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> None:
        if self._scalars is not None:
            self._scalars.close()
        shutil.rmtree(self.folder / "scalars", ignore_errors=True)
        self._scalars = self.writer(self.folder / "scalars")
        for entry in history:
            self.add(entry, entry["phase"])
        for entry in evaluations:
            self.add(entry, "evaluation")
        self._scalars.flush()

    def add(self, entry: dict[str, Any], phase: str) -> None:
        if self._scalars is None:
            self.rewrite([], [])
        prefix, step = ("final_", 0) if entry.get("final") else ("", entry.get("step", 0))
        for key, value in _values(entry):
            self._scalars.add_scalar(f"{phase}/{prefix}{key}", value, step)

    def image(self, tag: str, step: int, image: np.ndarray) -> None:
        if self._images is None:
            self._images = self.writer(self.folder / "images")
        self._images.add_image(tag, image, step, dataformats="HWC")
        self._images.flush()

    def flush(self) -> None:
        for writer in (self._scalars, self._images):
            if writer is not None:
                writer.flush()


def _values(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """The logged values of a history entry ({"phase", "step", metric: value...}) or an evaluation ({"step" or
    "final", "mean_return"}): everything but its labels."""
    return [(key, float(value)) for key, value in entry.items() if key not in ("phase", "step", "final")]


def _csv_rows(entry: dict[str, Any], phase: str | None = None) -> str:
    """An entry as CSV rows, one per value."""
    phase = phase or entry["phase"]
    step = "final" if entry.get("final") else entry.get("step", "")
    return "".join(f"{phase},{step},{key},{value!r}\n" for key, value in _values(entry))


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
        rows = [_csv_rows(entry) for entry in self.data["history"]]
        rows += [_csv_rows(entry, "evaluation") for entry in self.data["evaluations"]]
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
        self._append("history", entry, _csv_rows(entry))

    def log_evaluation(self, mean_return: float, step: int | None = None) -> None:
        """An evaluation's mean return at `step` (None: the final one)."""
        entry = {"step": step, "mean_return": float(mean_return)} if step is not None else {
            "final": True, "mean_return": float(mean_return)}  # fmt: skip
        self._append("evaluations", entry, _csv_rows(entry, "evaluation"))

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
        progress.start("evaluation", episodes)
        returns = evaluate_policy(policy, task, episodes, seeds.evaluation_seed(seed), progress=progress)
        progress.finish()
        context = json.loads((run.folder / "config.json").read_text())
        record = result_record(
            algo=algo,
            dataset_id=dataset_id,
            task=task,
            profile=profile,
            seed=seed,
            returns=returns,
            seconds=run.data["seconds"] + run.data.get("model_seconds", 0.0),  # a shared model's time counts
            code_version=context["code_version"],
            overrides=context.get("overrides"),
        )
        run.log_evaluation(record["mean_return"])
        run.data["phase"] = "done"
        save()
        write_json(result_path, record)
    return json.loads(result_path.read_text())


class FrameStackPolicy:
    """Acting for the model-free learners: keeps the last `frames` frames (the first one repeated at an episode's
    start, as `TransitionSampler` stacks them) and maps them, with proprio, to an action."""

    def __init__(self, act_fn: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor], frames: int, device: Any):
        self.act_fn, self.frames, self.device = act_fn, frames, device
        self.stack: list[np.ndarray] = []

    def reset(self) -> None:
        self.stack = []

    @torch.no_grad()
    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        frame = observation["pixels"]
        self.stack = (self.stack or [frame] * self.frames)[1:] + [frame]
        pixels = torch.as_tensor(np.stack(self.stack), device=self.device).unsqueeze(0)
        proprio = observation.get("proprio")
        if proprio is not None:
            proprio = torch.as_tensor(proprio, dtype=torch.float32, device=self.device).unsqueeze(0)
        return self.act_fn(pixels, proprio)[0].cpu().numpy()


def train_model_free(
    agent: Any,
    sampler: Any,
    *,
    algo: str,
    stage: str,
    config: Any,
    dataset_id: str,
    task: str,
    profile: str,
    seed: int,
    folder: Path,
    device: Any,
    progress: Progress | None,
) -> dict[str, Any]:
    """The schedule of the single-phase learners (BC, CQL): `config.steps` calls of `agent.update(batch)` with the
    loss history, evaluations every `config.eval_every` steps, checkpoints every `config.checkpoint_every` (a
    killed run continues from the last one), then the final evaluation. `agent` exposes update,
    training_state, load_training_state and policy_for_task; `sampler` get_state / set_state."""
    progress = progress or NoProgress()
    run = RunState(folder, step=0)
    run.resume(device, agent, sampler)

    def checkpoint() -> None:
        run.checkpoint(agent, sampler)

    if run.data["phase"] == "train":
        progress.start(stage, config.steps)
        while run.data["step"] < config.steps:
            losses = agent.update(to_torch(sampler.sample(), device))
            run.data["step"] += 1
            step = run.data["step"]
            if step % config.log_every == 0 or step == 1:
                run.log("train", step, losses)
            progress.update(step, " ".join(f"{k} {v:.3g}" for k, v in list(losses.items())[:2]))
            if step % config.eval_every == 0 and step < config.steps:
                returns = evaluate_policy(
                    agent.policy_for_task(device), task, config.eval_episodes, seeds.evaluation_seed(seed)
                )
                run.log_evaluation(float(np.mean(returns)), step)
            if step % config.checkpoint_every == 0:
                checkpoint()
        progress.finish()
        run.data["phase"] = "evaluate"
        checkpoint()
    return finish_run(
        run,
        algo=algo,
        dataset_id=dataset_id,
        task=task,
        profile=profile,
        seed=seed,
        policy=agent.policy_for_task(device),
        episodes=config.eval_episodes,
        save=checkpoint,
        progress=progress,
    )
