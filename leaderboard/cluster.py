"""`reproduce --executor ray`: the plan's pending jobs as Ray tasks, a thin layer over `reproduce.plan`,
`reproduce.dependencies` and `reproduce.run_job`. Ray does all the scheduling.

- Each pending job is one task with its resource needs (`cpus_per_job`, `gpus_per_job`); a job's upstream jobs'
  results are its arguments, so Ray starts it only once they are done (a dataset's generation before anything on
  it, a shared world model before the runs that use it).
- What crosses the network is small and explicit: a train job returns its result record, which the driver writes
  to its own runs folder as soon as it lands (results need no shared filesystem, and killing the driver loses
  nothing finished); a model job returns the model's files, which a run on another node installs under its own
  runs folder before training, so the model is trained once even without shared storage.
- Datasets are found on the node (`MINARI_DATASETS_PATH` on storage all nodes see) or downloaded from
  `$LOMPO_BENCH_DATA_URL` when missing. Checkpoints stay under the node's `LOMPO_BENCH_HOME`: with a shared one a
  retried job resumes, without one it restarts.
- Faults: a failed job (an exception, its worker or its whole node dying) is retried `retries` times by Ray, on
  any node; then it is reported with the tail of its log and the rest go on. Rerunning the command resumes.

Ray is an optional extra (`pip install -e ".[cluster]"`); nothing else imports this module.
"""

from __future__ import annotations

import contextlib
import io
import os
import socket
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lompo_bench import paths
from lompo_bench.errors import UserError
from lompo_bench.files import write_atomic, write_json
from lompo_bench.leaderboard.reproduce import Job, JobAction, dependencies, pending, run_job
from lompo_bench.progress import LineProgress

LOG_TAIL = 25  # lines of a failed job's log in its report


class JobFailed(Exception):
    """A job's failure as the driver reports it: what failed, where, and the end of its log."""

    def __init__(self, description: str, node: str, tail: str) -> None:
        super().__init__(description, node, tail)
        self.description, self.node, self.tail = description, node, tail

    def __str__(self) -> str:
        return f"{self.description} failed on {self.node}; its log ends:\n{self.tail}"


@dataclass
class Outcome:
    """What a Ray execution did: jobs finished, failed (index -> report) and not run because a job they need
    failed."""

    finished: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    blocked: list[int] = field(default_factory=list)
    seconds: float = 0.0


def _job_slug(job: Job) -> str:
    name = "-".join(filter(None, (job.action, job.algo, job.model_key, job.dataset_ids[0], f"seed{job.seed}")))
    return name.replace("/", "__")


def _install(root: Path, files: dict[str, bytes]) -> None:
    """Put a model job's files under this node's runs root, unless they are there already (shared storage)."""
    for relative, data in files.items():
        target = root / relative
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)


def _ensure_dataset(dataset_id: str) -> None:
    """A dataset a job needs, on this node: already there, or fetched from the Minari remote or HTTP mirror the
    environment names."""
    from lompo_bench.data.download import BASE_URL_ENV, download
    from lompo_bench.data.store import dataset_exists, datasets_root

    if dataset_exists(dataset_id):
        return
    if os.environ.get("MINARI_REMOTE"):
        from lompo_bench.data.remote import download as download_from_remote

        download_from_remote(dataset_id, os.environ["MINARI_REMOTE"])
        return
    if not os.environ.get(BASE_URL_ENV):
        raise UserError(
            f"{dataset_id} is not on node {socket.gethostname()} (under {datasets_root()}): put "
            f"MINARI_DATASETS_PATH on storage every node sees, or set MINARI_REMOTE or {BASE_URL_ENV} so workers "
            "download it"
        )
    download(dataset_id)


def run_on_worker(
    job: Job, runs_root: Path | None, device: str, job_fn: Callable[..., Any], *upstream: Any
) -> tuple[str, Any]:
    """A Ray task's body: fetch what the job needs, run it with its output in a log file under the node's
    `LOMPO_BENCH_HOME/logs`, return what the driver keeps. A failure re-raises as `JobFailed` with the log's tail."""
    root = runs_root or paths.runs_root()
    log_path = paths.lompo_home() / "logs" / f"{_job_slug(job)}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=LOG_TAIL)
    node = socket.gethostname()
    with open(log_path, "a") as log:

        def write(text: str) -> None:
            for line in text.rstrip("\n").splitlines():
                tail.append(line)
                log.write(f"{time.strftime('%H:%M:%S')} {line}\n")
            log.flush()

        class _Stream(io.TextIOBase):
            def write(self, text: str) -> int:  # the job's prints and warnings go to its log
                if text.strip():
                    write(text)
                return len(text)

        write(f"== {job.describe()} on {node}, pid {os.getpid()}")
        try:
            for result in upstream:
                if result[0] == "model":
                    _install(root, result[1])
            if job.stage > 0:
                _ensure_dataset(job.dataset_ids[0])
            with contextlib.redirect_stdout(_Stream()), contextlib.redirect_stderr(_Stream()):
                value = job_fn(job, runs_root, device, LineProgress(write))
        except Exception:
            write(traceback.format_exc())
            raise JobFailed(job.describe(), node, "\n".join(tail)) from None
        write("== done")
    if job.action is JobAction.TRAIN:
        return "record", value
    if job.action is JobAction.MODEL:
        folder = Path(value)
        return "model", {str((folder / f.name).relative_to(root)): f.read_bytes() for f in folder.iterdir()
                         if f.is_file() and not f.name.startswith(".")}  # fmt: skip
    return "datasets", list(value)


def _failure_report(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    if isinstance(cause, JobFailed):
        return str(cause)
    return f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error).strip() else ''}"


def execute_ray(
    jobs: Sequence[Job],
    runs_root: Path | None = None,
    *,
    address: str | None = None,
    cpus_per_job: float = 1.0,
    gpus_per_job: float = 0.0,
    retries: int = 2,
    device: str = "auto",
    job_fn: Callable[..., Any] = run_job,
    on_event: Callable[[str], None] = print,
    status_every: float = 30.0,
) -> Outcome:
    """Run the plan's pending jobs on the Ray cluster at `address` ("auto", "HOST:PORT"; None: `$RAY_ADDRESS`,
    else a cluster of this machine alone). `on_event` gets one line per finished or failed job and a status line
    (done / running / failed, ETA) at least every `status_every` seconds."""
    try:
        import ray
    except ImportError:
        raise UserError('the ray executor needs Ray: pip install -e ".[cluster]"') from None
    if cpus_per_job <= 0 or gpus_per_job < 0 or retries < 0:
        raise UserError("--cpus-per-job must be positive, --gpus-per-job and --retries not negative")
    root = runs_root or paths.runs_root()
    todo = pending(jobs, root)
    needs = dependencies(jobs)
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        raise UserError(f"cannot reach a Ray cluster at {address or 'this machine'}: {error}") from None
    try:
        return _drive(jobs, root, runs_root, todo, needs, device, job_fn, on_event, status_every,
                      dict(num_cpus=cpus_per_job, num_gpus=gpus_per_job, max_retries=retries))  # fmt: skip
    finally:
        ray.shutdown()


def _drive(jobs, root, runs_root, todo, needs, device, job_fn, on_event, every, resources) -> Outcome:
    """Submit every pending job with its upstream jobs' results as arguments, then collect results as they land."""
    import ray
    from ray.exceptions import RayError

    cpus, gpus, retries = resources["num_cpus"], resources["num_gpus"], resources["max_retries"]
    task = ray.remote(run_on_worker).options(**resources, retry_exceptions=True)
    refs: dict[int, Any] = {}
    for index, job in enumerate(jobs):  # plan order: every job after the ones it needs
        if todo[index]:
            refs[index] = task.remote(job, runs_root, device, job_fn, *[refs[j] for j in needs[index] if j in refs])
    waiting = {ref: index for index, ref in refs.items()}
    outcome = Outcome()
    start = last_status = time.monotonic()

    def slots() -> int:  # jobs the cluster's live nodes can run at once (nodes come and go)
        total = ray.cluster_resources()
        return max(1, min(int(total.get("CPU", 1) // cpus), int(total.get("GPU", 0) // gpus) if gpus else 1 << 30))

    on_event(f"{len(refs)} jobs to run on Ray ({slots()} at a time), {len(jobs) - len(refs)} done already")
    while waiting:
        ready, _ = ray.wait(list(waiting), num_returns=1, timeout=min(every, 5.0))
        for ref in ready:
            index = waiting.pop(ref)
            job = jobs[index]
            if any(j in outcome.failed or j in outcome.blocked for j in needs[index]):
                outcome.blocked.append(index)
                on_event(f"not run: {job.describe()} (a job it needs failed)")
                continue
            try:
                kind, value = ray.get(ref)
            except RayError as error:
                outcome.failed[index] = _failure_report(error)
                on_event(f"FAILED after {retries} retries: {outcome.failed[index]}")
                continue
            if kind == "record":  # the driver's copy: the results store needs no shared filesystem
                write_json(_record_path(root, job), value)
            outcome.finished.append(index)
            on_event(f"done: {job.describe()}")
        now = time.monotonic()
        if ready or now - last_status >= every:
            last_status = now
            runnable = sum(all(j in outcome.finished for j in needs[i] if j in refs) for i in waiting.values())
            on_event(_status(outcome, len(refs), len(waiting), min(runnable, slots()), now - start))
    outcome.seconds = time.monotonic() - start
    return outcome


def _record_path(root: Path, job: Job) -> Path:
    folder = paths.run_dir(str(job.algo), job.dataset_ids[0], job.profile, job.seed, root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "result.json"


def _status(outcome: Outcome, total: int, waiting: int, running: int, elapsed: float) -> str:
    settled = len(outcome.finished) + len(outcome.failed) + len(outcome.blocked)
    eta = f", ETA ~{elapsed / settled * waiting / 60:.0f} min" if settled and waiting else ""
    return (f"[ray] {len(outcome.finished)}/{total} done, {running} running, {len(outcome.failed)} failed"
            f"{eta} ({elapsed / 60:.1f} min)")  # fmt: skip
