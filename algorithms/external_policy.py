"""Scoring a policy trained anywhere: the built-ins' own evaluation (the same episodes, reset seeds and D4RL
normalized score) for any callable or object with `reset()` / `act(observation)`, on the task of a lompo-bench
dataset, and its result record written where `report` reads it (a run folder under the runs root).

The public face is `lompo_bench.evaluate_policy` / `lompo_bench.write_result` (this module's functions) and
`lompo-bench evaluate-policy FILE` for a policy saved from torch (TorchScript or `torch.export`), or saved by
d3rlpy (`--format d3rlpy`, `lompo_bench.adapters.d3rlpy`). docs/ALGORITHMS.md shows them.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench import seeds
from lompo_bench.algorithms.registry import ALGORITHMS, NAME_PATTERN, PROFILE_NAMES
from lompo_bench.algorithms.runs import evaluate_to_record
from lompo_bench.data.store import dataset_frame_shape, dataset_path, dataset_task, read_metadata
from lompo_bench.errors import UserError
from lompo_bench.files import write_json
from lompo_bench.paths import run_dir
from lompo_bench.progress import NoProgress, Progress
from lompo_bench.records import ResultRecord, standard_episodes

EXTERNAL_CODE = "external"  # a record's code_version when the caller names none: not trained by lompo-bench


class PolicyError(UserError):
    """A policy under evaluation failed: it raised (its own error is the `__cause__`), or returned an action that is
    not one (wrong shape, integers, NaN or infinite values). The message is one line naming the episode and step."""


class ClippedActionsWarning(UserWarning):
    """An evaluated policy returned actions outside [-1, 1], which the task clipped (counted in the record)."""


class _CheckedPolicy:
    """The caller's policy as evaluation calls it: observations without the low-dimensional `state` (agents learn
    from pixels), every action checked against the task's action space before the task sees it (its shape, a
    floating-point dtype, finite values; components outside [-1, 1] counted, as the task clips them), and whatever
    the policy raises turned into a `PolicyError` naming the episode and step."""

    def __init__(self, policy: Any, action_shape: tuple[int, ...], task: str, episodes: int = 0) -> None:
        act = getattr(policy, "act", None)
        if callable(act):
            self._act, reset = act, getattr(policy, "reset", None)
        elif callable(policy):
            self._act, reset = policy, None
        else:
            raise UserError(
                f"a policy is a callable observation -> action or an object with act(observation) (and reset()), "
                f"not a {type(policy).__name__}"
            )
        self._reset = reset if callable(reset) else None
        self.action_shape, self.task, self.episodes = action_shape, task, episodes
        self.episode, self.step = 0, 0  # the current episode and step, from 1 (evaluation resets before each)
        self.clipped = 0  # action components outside [-1, 1] so far

    def _where(self) -> str:
        of = f" (of {self.episodes})" if self.episodes else ""
        return f"step {self.step} of episode {self.episode}{of}"

    def reset(self) -> None:
        self.episode, self.step = self.episode + 1, 0
        if self._reset is not None:
            try:
                self._reset()
            except Exception as error:  # the policy's own failure (torch.jit.Error is no RuntimeError)
                raise PolicyError(
                    f"the policy's reset() raised before episode {self.episode}: {_error_line(error)}"
                ) from error

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        self.step += 1
        try:
            action = self._act({key: value for key, value in observation.items() if key != "state"})
            if hasattr(action, "detach"):  # a torch tensor, on whatever device
                action = action.detach().cpu().numpy()
        except Exception as error:  # the policy's own failure (torch.jit.Error is no RuntimeError)
            raise PolicyError(f"the policy raised at {self._where()}: {_error_line(error)}") from error
        try:
            raw = np.asarray(action)
        except (TypeError, ValueError):
            raw = np.asarray(None)
        if raw.dtype.kind in "iub":
            # An integer action in a [-1, 1] box can only be -1, 0 or 1: a discrete policy's index or a missing
            # scaling, far likelier than meant; a cast would score it silently.
            raise PolicyError(
                f"at {self._where()} the policy returned an action of dtype {raw.dtype}; actions are floating-point "
                "numbers in [-1, 1] (cast or scale it in the policy if integers are really meant)"
            )
        if raw.dtype.kind != "f":
            shown = type(action).__name__
            raise PolicyError(f"at {self._where()} the policy returned {shown}, not an array of numbers")
        array = raw.astype(np.float32)
        if array.shape != self.action_shape:
            raise PolicyError(
                f"at {self._where()} the policy returned an action of shape {array.shape}; {self.task} takes actions "
                f"of shape {self.action_shape} (one observation in, one action out: no batch dimension)"
            )
        if not np.all(np.isfinite(array)):
            raise PolicyError(
                f"at {self._where()} the policy returned an action with NaN or infinite values: {raw.tolist()}"
            )
        self.clipped += int(np.count_nonzero(np.abs(array) > 1.0))
        return array


def _error_line(error: BaseException) -> str:
    """The last line of what a policy raised: TorchScript's message is its own traceback, the error on its last
    line ("builtins.ValueError: ..."); a Python error's is one line, given with its type."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if len(lines) > 1:
        return lines[-1]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def clipped_warning(record: dict[str, Any]) -> str | None:
    """The warning line for a record whose policy returned actions outside [-1, 1] (None for one that did not)."""
    clipped = record.get("clipped_actions")
    if not clipped:
        return None
    return (
        f"the policy returned {clipped:,} action component{'s' if clipped != 1 else ''} outside [-1, 1] over "
        f"{record['episodes']} episodes, which the task clipped; the record counts them (clipped_actions) and "
        "report marks its cell (§)"
    )


def episodes_warning(record: dict[str, Any]) -> str | None:
    """The warning line for a record of another evaluation episode count than its profile's standard."""
    standard = standard_episodes(record["profile"])
    if standard is None or record["episodes"] == standard:
        return None
    return (
        f"{record['episodes']} evaluation episode{'s' if record['episodes'] != 1 else ''}, not the "
        f"{record['profile']} profile's standard {standard}: "
        f"report never pools this record with {standard}-episode ones (its cell is marked ◊, or listed apart)"
    )


def check_algo_name(algo: str) -> str:
    """The name a record of an outside policy goes under (its report column); one line for one that is no plain
    name or that is a built-in's (its records would be pooled with the built-in's)."""
    if not NAME_PATTERN.match(algo):
        raise UserError(f"algo {algo!r} must be lowercase letters, digits and _ (it names a run folder and a column)")
    if algo in ALGORITHMS:
        raise UserError(f"algo {algo!r} is a built-in algorithm's name: its records would mix with the built-in's")
    return algo


def evaluate_policy(
    policy: Any,
    dataset_id: str,
    *,
    algo: str,
    seed: int = 0,
    episodes: int = 10,
    profile: str | None = None,
    code_version: str | None = None,
    train_seconds: float = 0.0,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate `policy` in the task of `dataset_id` as lompo-bench evaluates its own runs, and return the result
    record (`lompo_bench.records.ResultRecord` as JSON; `write_result` puts it where `report` reads).

    policy: a callable `observation -> action`, or an object with `act(observation) -> action` and optionally
        `reset()` (called at each episode's start). `observation` is a dict: `pixels` uint8 (H, W, 3) at the size
        of the dataset's frames (64 px; 128 px for D'Claw, Pen and Door at the paper profile) and, in tasks with
        proprioception (Adroit Pen, D'Claw), `proprio` float32; never `state`. The action: an array of the task's
        action shape, floating-point, finite, in [-1, 1]: the task clips components outside it, and the record
        counts them (`clipped_actions`; a `ClippedActionsWarning` says so, and `report` marks the cell); an action
        of integers, NaN or infinity, or of another shape is refused (`PolicyError`, naming the episode and step),
        as is anything the policy raises (its error the `__cause__`).
    dataset_id: a local dataset; its task, reference scores (normalization) and profile come from it.
    algo: the name the record goes under (its column in `report`): lowercase, not a built-in's.
    seed: the run seed the record is filed as; the episodes start from the reset seeds a built-in run of that seed
        is evaluated from (`lompo_bench.seeds.evaluation_seed(seed) + i`), apart from every dataset's.
    episodes: 10, as the cpu and paper profiles' final evaluations (`report` pools records of 10 episodes only:
        those of another count are marked or listed apart).
    profile: the profile the record counts for in `report --profile`; default the dataset's (else "paper").
    code_version: what trained the policy (a commit, a URL); default "external".
    """
    seeds.check_run_seed(seed)
    check_algo_name(algo)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise UserError(f"episodes must be a whole number of at least 1, not {episodes!r}")
    dataset_path(dataset_id)  # an unknown dataset fails here, before any episode
    task = dataset_task(dataset_id)
    image_size = dataset_frame_shape(dataset_id)[0]  # the policy sees frames as the dataset's
    profile = profile or read_metadata(dataset_id).get("lompo_profile") or "paper"
    if profile not in PROFILE_NAMES:
        raise UserError(f"profile must be one of {', '.join(PROFILE_NAMES)}, not {profile!r}")
    checked = _CheckedPolicy(policy, _action_shape(task), task, episodes)
    record = evaluate_to_record(
        checked, task, episodes, seeds.evaluation_seed(seed), image_size=image_size,
        progress=progress or NoProgress(), clipped_actions=lambda: checked.clipped, algo=algo,
        dataset_id=dataset_id, profile=profile, seed=seed, seconds=float(train_seconds),
        code_version=code_version or EXTERNAL_CODE,
    )  # fmt: skip
    clipped = clipped_warning(record)
    if clipped is not None:
        warnings.warn(ClippedActionsWarning(clipped), stacklevel=2)
    return record


def _action_shape(task: str) -> tuple[int, ...]:
    from lompo_bench.tasks import make_task

    env = make_task(task, pixels=False)  # the simulator alone: the action space without a renderer
    try:
        return tuple(env.action_space.shape)
    finally:
        env.close()


def result_folder(algo: str, dataset_id: str, profile: str, seed: int, root: Path | None = None) -> Path:
    """The run folder an outside policy's record goes to (`lompo_bench.paths.run_dir`, as a trained run's)."""
    return run_dir(algo, dataset_id, profile, seed, root)


def _check_target(folder: Path, overwrite: bool) -> None:
    if (folder / "checkpoint.pt").exists():
        raise UserError(f"{folder} holds a training run; an outside policy's record needs another --algo or --seed")
    if (folder / "result.json").exists() and not overwrite:
        raise UserError(f"{folder} already holds a result; pass overwrite=True (--overwrite) to replace it")


def write_result(record: dict[str, Any], root: Path | None = None, overwrite: bool = False) -> Path:
    """Write an `evaluate_policy` record where `report` and `runs` read it: `result.json` (and a `config.json`
    saying what it is) in `<runs root>/<algo>/<dataset id>/<profile>-seed<seed>/`; returns the result's path.
    `root`: the runs root (default `$LOMPO_BENCH_HOME/runs`). An existing result is kept unless `overwrite`."""
    checked = ResultRecord.from_dict(record, "the record to write").to_dict()
    check_algo_name(checked["algo"])
    folder = result_folder(checked["algo"], checked["dataset_id"], checked["profile"], checked["seed"], root)
    _check_target(folder, overwrite)
    folder.mkdir(parents=True, exist_ok=True)
    context = {key: checked[key] for key in ("algo", "dataset_id", "task", "seed", "code_version")}
    write_json(folder / "config.json", {"config": {"episodes": checked["episodes"]}, **context,
                                        "evaluated_by": "lompo_bench.evaluate_policy"})  # fmt: skip
    write_json(folder / "result.json", checked)
    return folder / "result.json"


class SavedTorchPolicy:
    """A policy saved from torch for one observation: `forward(pixels, proprio) -> action`, pixels a uint8 tensor
    (H, W, 3), proprio float32 (P,) (empty in tasks without proprioception), the action (A,). A TorchScript file
    (`torch.jit.save`; an exported `reset()`, `@torch.jit.export`, is called at each episode's start, e.g. to clear
    a frame stack), or a `torch.export.save` program (`.pt2`, stateless: torch 2.13 deprecates TorchScript)."""

    def __init__(self, path: Path, device: Any) -> None:
        import torch

        if not path.is_file():
            raise UserError(f"no policy file {path}")
        kind = "torch.export program" if path.suffix == ".pt2" else "TorchScript policy"
        try:
            if path.suffix == ".pt2":
                self.module = torch.export.load(str(path)).module().to(device)
            else:
                self.module = torch.jit.load(str(path), map_location=device)
                self.module.eval()
        except Exception as error:  # torch raises many kinds (RuntimeError, zip and pickle errors) for a bad file
            raise UserError(f"cannot load {path} as a {kind}: {_last_line(error)}") from None
        self.device = device

    def reset(self) -> None:
        if hasattr(self.module, "reset"):
            self.module.reset()

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        pixels = torch.as_tensor(observation["pixels"], device=self.device)
        proprio = torch.as_tensor(observation.get("proprio", np.zeros(0, np.float32)), device=self.device)
        with torch.no_grad():  # what it raises (torch.jit.Error, no RuntimeError) becomes a one-line PolicyError
            return self.module(pixels, proprio)


def _last_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__


POLICY_FORMATS = ("torch", "d3rlpy")  # `evaluate-policy --format`


def evaluate_policy_file(
    path: Path,
    dataset_id: str,
    *,
    algo: str | None = None,
    seed: int = 0,
    episodes: int = 10,
    profile: str | None = None,
    device: str = "cpu",
    root: Path | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
    policy_format: str = "torch",
    frame_stack: int | None = None,
) -> tuple[dict[str, Any], Path]:
    """`lompo-bench evaluate-policy`: a saved policy evaluated on `dataset_id`'s task and its record written
    (`write_result`); `algo` defaults to the file's name. Every input is checked before an episode runs, and
    nothing is written unless the evaluation finished.

    policy_format: "torch", our contract (`SavedTorchPolicy`), or "d3rlpy", a TorchScript file d3rlpy's
    `save_policy` wrote (`lompo_bench.adapters.d3rlpy.policy_from_d3rlpy`: frames stacked as `to_mdp_dataset`
    stacks them; torch alone reads it). frame_stack: d3rlpy's only; default: read from the file."""
    from lompo_bench.algorithms.configs import resolve_device

    seeds.check_run_seed(seed)
    if policy_format not in POLICY_FORMATS:
        raise UserError(f"--format must be one of {', '.join(POLICY_FORMATS)}, not {policy_format!r}")
    if frame_stack is not None and policy_format != "d3rlpy":
        raise UserError("--frame-stack is for --format d3rlpy (a torch-format policy stacks its own frames)")
    name = algo or re.sub(r"[^a-z0-9_]", "_", path.stem.lower())
    if algo is None and not NAME_PATTERN.match(name):
        raise UserError(f"cannot name the record after {path.name}: pass --algo NAME (lowercase letters, digits, _)")
    check_algo_name(name)
    dataset_path(dataset_id)
    chosen = profile or read_metadata(dataset_id).get("lompo_profile") or "paper"
    if chosen in PROFILE_NAMES:  # (a bad profile is refused by evaluate_policy, in one line)
        _check_target(result_folder(name, dataset_id, chosen, seed, root), overwrite)
    if policy_format == "d3rlpy":
        from lompo_bench.adapters.d3rlpy import policy_from_d3rlpy

        policy: Any = policy_from_d3rlpy(path, frame_stack=frame_stack, device=str(resolve_device(device)))
        code_version = f"d3rlpy saved policy {path.name}"
    else:
        policy, code_version = SavedTorchPolicy(path, resolve_device(device)), f"saved policy {path.name}"
    record = evaluate_policy(
        policy, dataset_id, algo=name, seed=seed, episodes=episodes, profile=chosen, code_version=code_version,
        progress=progress,
    )  # fmt: skip
    return record, write_result(record, root, overwrite)
