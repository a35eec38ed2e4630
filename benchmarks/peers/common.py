"""What the peer scripts share: the budget rule, the command line every one of them takes, the peer's checkout,
and the filing of a peer's record apart from Table I's (`leaderboard/results/peers/`).

No peer code lives here or anywhere in lompo-bench: the scripts import it from a checkout the user fetched
(README.md beside this file) and only convert our data to its format, call its training code and score its policy
with `lompo_bench.evaluate_policy` (our episodes, reset seeds and normalised score).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError

REPO = Path(__file__).resolve().parents[2]
PEERS_ROOT = REPO / "leaderboard" / "results" / "peers"  # records of peers' runs, apart from Table I's
DEFAULT_DATASET = "lompo/walker_walk/medium-expert-cpu-v0"
BUDGETS = ("samples", "ours")


def ours(method: str) -> tuple[int, int]:
    """(updates, batch) of our cpu profile for `method` (bc, cql, drqbc), read from the profile itself so that the
    budget follows it if it changes."""
    if method == "bc":
        from lompo_bench.algorithms.bc import PROFILES
    elif method == "cql":
        from lompo_bench.algorithms.cql import PROFILES
    elif method == "drqbc":
        from lompo_bench.algorithms.drqbc import PROFILES
    else:
        raise ValueError(f"no model-free profile {method!r}")
    config = PROFILES["cpu"]
    return int(config.steps), int(config.batch)


@dataclass(frozen=True)
class Budget:
    """How long a peer trains: `updates` gradient updates of `batch` samples. `mode`: "ours" (our cpu profile's
    updates x batch), "samples" (the peer's default batch, for as many samples as our cpu profile draws) or
    "custom" (given on the command line; such a run is never filed among the peers' records by default)."""

    updates: int
    batch: int
    mode: str

    @property
    def samples(self) -> int:
        return self.updates * self.batch


def pick_budget(method: str, peer_batch: int, args: argparse.Namespace) -> Budget:
    """The budget rule of issue 32: our cpu profile's updates x batch (`--budget ours`), or the peer's default
    batch at the same number of samples (`--budget samples`, the default: the peer as its users run it, for as
    many samples as ours sees). `--steps` / `--batch` override either (a custom budget)."""
    our_updates, our_batch = ours(method)
    if args.budget == "ours":
        updates, batch = our_updates, our_batch
    else:
        updates, batch = max(1, round(our_updates * our_batch / peer_batch)), peer_batch
    if args.steps is None and args.batch is None:
        return Budget(updates, batch, args.budget)
    return Budget(args.steps or updates, args.batch or batch, "custom")


def add_common_arguments(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
    """The flags every peer script takes; `resumable`: also `--checkpoint-minutes` and `--fresh` (a script whose
    training loop checkpoints with `LoopCheckpoint`)."""
    if resumable:
        parser.add_argument(
            "--checkpoint-minutes",
            type=float,
            default=10.0,
            help="minutes of training between checkpoints (10); a killed run resumes from its latest with the "
            "same command",
        )
        parser.add_argument("--fresh", action="store_true", help="discard this run's checkpoint; train from the start")
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help=f"a local lompo-bench dataset ({DEFAULT_DATASET})")
    parser.add_argument("--seed", type=int, default=0, help="run seed: the peer's seed and our evaluation's (0)")
    parser.add_argument(
        "--budget",
        choices=BUDGETS,
        default="samples",
        help="samples: the peer's default batch for our cpu profile's samples (default); "
        "ours: our cpu profile's updates x batch",
    )
    parser.add_argument("--steps", type=int, help="gradient updates (a custom budget: needs --root)")
    parser.add_argument("--batch", type=int, help="batch size (a custom budget: needs --root)")
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes (10, as our cpu profiles)")
    parser.add_argument(
        "--root", type=Path, help=f"where the record goes (default {PEERS_ROOT.relative_to(REPO)}, budget runs only)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing record of the same run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: two runs share the 2 cores)")


def record_root(args: argparse.Namespace, budget: Budget) -> Path:
    """Where the record goes: `--root`, else the peers' records folder; a custom budget must name its folder, so
    that a smoke run never lands among the records a report reads."""
    if args.root is not None:
        return args.root
    if budget.mode == "custom":
        raise UserError("a custom budget (--steps / --batch) is not a peer record: pass --root DIR for its record")
    return PEERS_ROOT


def check_target(args: argparse.Namespace, budget: Budget, name: str) -> Path:
    """Before any training: the record's root (`record_root`), the name (`check_algo_name`: not a built-in's) and
    no earlier record in the run's folder unless `--overwrite`. Returns the root."""
    from lompo_bench.algorithms.external_policy import check_algo_name
    from lompo_bench.data.store import dataset_path, read_metadata
    from lompo_bench.paths import run_dir

    root = record_root(args, budget)
    check_algo_name(name)
    dataset_path(args.dataset)  # an unknown dataset: one line, before anything runs
    profile = read_metadata(args.dataset).get("lompo_profile") or "paper"
    folder = run_dir(name, args.dataset, profile, args.seed, root)
    if (folder / "result.json").exists() and not args.overwrite:
        raise UserError(f"{folder} already holds a record: pass --overwrite to replace it")
    return root


def run_name(peer: str, method: str, batch: int, peer_batch: int) -> str:
    """The record's `algo`: the peer's name first, so that it can never be mistaken for ours (`d3rlpy_bc`,
    `vd4rl_drqbc`), and `_batch<B>` when it trained with another batch than the peer's default."""
    return f"{peer}_{method}" + ("" if batch == peer_batch else f"_batch{batch}")


def check_args(args: argparse.Namespace) -> None:
    for name in ("steps", "batch"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name} must be at least 1, not {value}")
    if args.episodes < 1:
        raise UserError(f"--episodes must be at least 1, not {args.episodes}")
    if args.threads < 1:
        raise UserError(f"--threads must be at least 1, not {args.threads}")
    if getattr(args, "checkpoint_minutes", 0) < 0:
        raise UserError(f"--checkpoint-minutes must be 0 or more, not {args.checkpoint_minutes}")


def limit_threads(threads: int) -> None:
    """One thread by default: two runs share the 2 cores, and seconds per update are quoted on one thread."""
    import torch

    torch.set_num_threads(threads)


def git_commit(checkout: Path) -> str:
    """The checkout's commit (and `-dirty` when it has local edits), or "unknown" outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=checkout, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def find_checkout(given: Path | None, env: str, marker: str, how: str) -> Path:
    """The peer's scratch checkout: `--checkout`, else `$<env>`; one line saying how to get it when neither holds
    `marker` (a file of the peer's tree)."""
    path = given or (Path(os.environ[env]) if os.environ.get(env) else None)
    if path is None:
        raise UserError(f"no peer checkout: pass --checkout DIR or set {env} ({how})")
    path = path.expanduser().resolve()
    if not (path / marker).is_file():
        raise UserError(f"{path} is not the peer's checkout (no {marker}); {how}")
    return path


class Timer:
    """Seconds of one phase (training): wall-clock `seconds` (what the run took on the machine as it was loaded)
    and `cpu_seconds`, this process's CPU time (on one thread, close to what the phase takes on a free core: the
    number to schedule runs by when other jobs share the cores). `carried`: (seconds, cpu_seconds) that earlier
    processes of a resumed run spent on the phase."""

    def __init__(self, carried: tuple[float, float] = (0.0, 0.0)) -> None:
        self.carried = carried

    def __enter__(self) -> Timer:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def so_far(self) -> tuple[float, float]:
        """(seconds, cpu_seconds) of the phase up to now, the carried ones included."""
        return (
            self.carried[0] + time.perf_counter() - self.start,
            self.carried[1] + time.process_time() - self.cpu_start,
        )

    def __exit__(self, *exc: Any) -> None:
        self.seconds, self.cpu_seconds = self.so_far()


class LoopCheckpoint:
    """A peer's training loop made resumable, as our own runs are: every `every_seconds` of wall clock (and at the
    loop's end) the loop's next step, the peer's objects (pickled whole with `torch.save`, as the peer's own
    snapshot saves its agent: modules and optimizers in one graph), python's, numpy's and torch's random states,
    the latest metrics and the seconds so far go to one file, written as our runs' checkpoints are
    (`checkpoints.save_checkpoint`: beside it, then renamed over it), so a kill at any moment leaves the previous
    checkpoint whole. A resumed run restores the random states after it has rebuilt
    what the peer rebuilds deterministically (the replay buffer from the data), so it continues with the same
    batches and noise as a run that was never stopped.

    `identity` (what must match to resume: peer commit, overrides, budget, dataset content) is stored with it; a
    checkpoint of another identity is refused in one line (`fresh` discards it instead)."""

    FORMAT = 2  # 2: the torch random state as `checkpoints.rng_state()` (with CUDA's); 1 held the CPU state alone

    def __init__(self, path: Path, identity: dict[str, Any], every_seconds: float = 600.0, fresh: bool = False):
        self.path, self.identity, self.every_seconds = (
            path,
            json.loads(json.dumps(identity, default=str)),
            every_seconds,
        )
        self._last = time.monotonic()
        if fresh:
            self.discard()

    def load(self) -> dict[str, Any] | None:
        """The saved state, its random states already restored; None when there is no checkpoint."""
        import random

        import numpy as np
        import torch

        from lompo_bench.algorithms.checkpoints import set_rng_state

        if not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as error:  # a checkpoint that does not load is a user's to discard, not a traceback
            raise UserError(f"{self.path} does not load ({type(error).__name__}); pass --fresh to discard it") from None
        if state.get("format") != self.FORMAT or state.get("identity") != self.identity:
            theirs = state.get("identity") or {}
            differ = sorted(k for k in {*theirs, *self.identity} if theirs.get(k) != self.identity.get(k))
            raise UserError(
                f"{self.path} is a checkpoint of another run (differs in {', '.join(differ) or 'format'}): "
                "pass --fresh to discard it"
            )
        random.setstate(state["random"]["python"])
        np.random.set_state(state["random"]["numpy"])
        set_rng_state(state["random"]["torch"])
        say(f"resuming from {self.path}")
        return state

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.every_seconds

    def save(self, step: int, objects: dict[str, Any], metrics: dict[str, float], timer: Timer) -> None:
        import random

        import numpy as np

        from lompo_bench.algorithms.checkpoints import rng_state, save_checkpoint

        state = {
            "format": self.FORMAT,
            "identity": self.identity,
            "step": step,
            "objects": objects,
            "metrics": dict(metrics),
            "seconds": timer.so_far(),
            "random": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": rng_state()},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.path, state)  # our runs' writer: whole or not at all, a full disk named as such
        self._last = time.monotonic()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def build_once(target: Path, dataset_id: str, write: Callable[[Path], None]) -> None:
    """A peer's copy of a dataset in its own format, built once per content: `write(folder)` fills a hidden folder
    that becomes `target` whole (`files.atomic_dir`, with a COMPLETE marker), under a lock beside it, so a second
    peer starting on the same dataset waits and then reuses it."""
    from lompo_bench.files import atomic_dir, file_lock

    with file_lock(target.with_name(target.name + ".lock")):
        if (target / "COMPLETE").exists():
            return
        with atomic_dir(target) as partial:
            write(partial)
            (partial / "COMPLETE").write_text(f"{dataset_id}\n")


def say(line: str) -> None:
    print(line, flush=True)


def evaluate_and_file(
    policy: Any,
    *,
    args: argparse.Namespace,
    budget: Budget,
    name: str,
    code_version: str,
    training: Timer,
    details: dict[str, Any],
) -> Path:
    """Score `policy` with `lompo_bench.evaluate_policy` (our episodes, reset seeds, normalised score), write its
    record under the peers' root (`write_result`) and `peer.json` beside it: what ran, with which settings and
    edits, and the seconds per update. Returns the record's path."""
    import lompo_bench
    from lompo_bench.progress import LineProgress

    root = record_root(args, budget)
    with Timer() as evaluation:
        record = lompo_bench.evaluate_policy(
            policy,
            args.dataset,
            algo=name,
            seed=args.seed,
            episodes=args.episodes,
            code_version=code_version,
            train_seconds=training.seconds,
            progress=LineProgress(say),
        )
    path = lompo_bench.write_result(record, root=root, overwrite=args.overwrite)
    seconds_per_update = training.seconds / budget.updates
    cpu_per_update = training.cpu_seconds / budget.updates
    peer = {
        "algo": name,
        "dataset_id": args.dataset,
        "seed": args.seed,
        "budget": {"mode": budget.mode, "updates": budget.updates, "batch": budget.batch, "samples": budget.samples},
        "train_seconds": round(training.seconds, 2),
        "seconds_per_update": round(seconds_per_update, 5),
        "train_cpu_seconds": round(training.cpu_seconds, 2),
        "cpu_seconds_per_update": round(cpu_per_update, 5),
        "evaluation_seconds": round(evaluation.seconds, 2),
        "threads": args.threads,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        **details,
    }
    (path.parent / "peer.json").write_text(json.dumps(peer, indent=2, default=str) + "\n")
    score = record["normalized_score"]
    say(
        f"{name} seed {args.seed}: mean return {record['mean_return']:.1f}"
        + (f", normalized {score:.1f}" if score is not None else "")
        + f" over {args.episodes} episodes; {budget.updates} updates x {budget.batch} in {training.seconds:.1f} s"
        + f" ({seconds_per_update:.4f} s/update wall, {cpu_per_update:.4f} s/update CPU, {args.threads} thread(s));"
        + f" record {path}"
    )
    return path


class _PolicyOverPipe:
    """In the evaluation's child process: the policy, its `reset` and `act` answered by the parent over a pipe."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def reset(self) -> None:
        self.connection.send(("reset", None))
        self.connection.recv()

    def act(self, observation: dict[str, Any]) -> Any:
        self.connection.send(("act", observation))
        return self.connection.recv()


def _evaluate_in_child(connection: Any, kwargs: dict[str, Any]) -> None:
    try:
        path = evaluate_and_file(_PolicyOverPipe(connection), **kwargs)
    except UserError as error:
        connection.send(("user_error", str(error)))
    except BaseException:
        import traceback

        connection.send(("error", traceback.format_exc()))
    else:
        connection.send(("done", str(path)))


def evaluate_and_file_apart(policy: Any, **kwargs: Any) -> Path:
    """`evaluate_and_file` with the task and its renderer in a fresh child process (multiprocessing's spawn: an
    interpreter that never imported the peer's framework), the policy staying here: the child sends each
    observation, this process answers with `policy.act` (or `policy(...)`) and runs `policy.reset` at each
    episode's start. For a peer whose framework cannot share a process with MuJoCo's renderer (TensorFlow 2.21 and
    MuJoCo's EGL segfault together: docs/BASELINES.md). The record, its seeds and scores are those of
    `evaluate_and_file` in one process."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    child = context.Process(target=_evaluate_in_child, args=(there, kwargs), name="lompo-bench evaluation")
    child.start()
    there.close()
    try:
        while True:
            try:
                kind, payload = here.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the evaluation process ended (exit code {child.exitcode}) before its record"
                ) from None
            if kind == "reset":
                if hasattr(policy, "reset"):
                    policy.reset()
                here.send(None)
            elif kind == "act":
                here.send(policy.act(payload) if hasattr(policy, "act") else policy(payload))
            elif kind == "user_error":
                raise UserError(payload)
            elif kind == "error":
                raise RuntimeError(f"the evaluation process failed:\n{payload}")
            else:
                return Path(payload)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def run_main(main: Callable[[], None]) -> None:
    """A script's errors the user can cause end in one line and exit code 2, as the CLI's."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
