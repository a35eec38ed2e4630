"""`lompo-bench reproduce`: the plan of jobs behind Table I (and the ablation), and a local executor that runs
them one after another through the same functions the `generate` and `train` commands call.

Every job resumes (generation stages and training checkpoints), and a finished job is skipped, so the executor
can be killed and restarted at will; the table is rebuilt from whatever has finished.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_gen.config import ABLATION_FACTORS, ablation_dataset_id, dataset_id
from leaderboard.paper import ALGORITHMS, TABLE_I
from lompo_bench import paths
from lompo_bench.errors import UserError


@dataclass(frozen=True)
class Job:
    action: str  # "generate", "generate-ablation" or "train"
    task: str
    profile: str
    dataset_ids: tuple[str, ...]  # what a generate job makes, or the one a train job reads
    kinds: tuple[str, ...] = ()  # a generate job's dataset kinds
    algo: str | None = None
    seed: int = 0

    def describe(self) -> str:
        if self.action == "train":
            return f"train {self.algo} on {self.dataset_ids[0]} ({self.profile}, seed {self.seed})"
        what = "the D'Claw ablation datasets" if self.action == "generate-ablation" else f"{self.task} datasets"
        return f"generate {what} ({self.profile}, seed {self.seed})"

    def done(self, runs_root: Path) -> bool:
        if self.action == "train":
            return (paths.run_dir(str(self.algo), self.dataset_ids[0], self.profile, self.seed, runs_root)
                    / "result.json").exists()  # fmt: skip
        return all(_dataset_exists(ds) for ds in self.dataset_ids)


def _dataset_exists(dataset_id: str) -> bool:
    from lompo_bench.data.store import DatasetNotFound, dataset_path

    try:
        dataset_path(dataset_id)
    except DatasetNotFound:
        return False
    return True


def plan(
    profile: str = "cpu",
    tasks: Sequence[str] | None = None,
    algos: Sequence[str] | None = None,
    seeds: int = 1,
    ablation: bool = False,
) -> list[Job]:
    """The jobs behind Table I for `tasks` x `algos` x `seeds` (defaults: the paper's), in order: each task's
    datasets, then the trainings on them; with `ablation`, Appendix B's D'Claw datasets and trainings."""
    from algorithms.registry import get_algorithm
    from lompo_bench.tasks import get_task_spec

    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {seeds}")
    paper_tasks = list(dict.fromkeys(task for task, _ in TABLE_I))
    task_list = [get_task_spec(t).name for t in tasks] if tasks else paper_tasks
    algo_list = [get_algorithm(a).NAME for a in algos] if algos else list(ALGORITHMS)
    jobs: list[Job] = []
    for task in task_list:
        kinds = [kind for t, kind in TABLE_I if t == task] or ["medium-replay", "medium-expert", "expert"]
        ids = tuple(dataset_id(task, kind, profile) for kind in kinds)
        jobs.append(Job("generate", task, profile, ids, kinds=tuple(kinds)))
        for ds in ids:
            for algo in algo_list:
                jobs += [Job("train", task, profile, (ds,), algo=algo, seed=seed) for seed in range(seeds)]
    if ablation:
        ids = tuple(ablation_dataset_id(f, profile) for f in ABLATION_FACTORS)
        jobs.append(Job("generate-ablation", "dclaw_screw", profile, ids))
        for ds in ids:
            for algo in algo_list:
                jobs += [Job("train", "dclaw_screw", profile, (ds,), algo=algo, seed=seed) for seed in range(seeds)]
    return jobs


def execute(
    jobs: Sequence[Job],
    runs_root: Path | None = None,
    progress: Any = None,
    on_job: Callable[[int, Job, str], None] | None = None,
    device: str = "auto",
) -> int:
    """Run the jobs not yet done, in order; returns how many ran. `on_job(index, job, status)` reports each one
    ("skip" when done already, "start" before it runs)."""
    from algorithms.jobs import train
    from dataset_gen.pipeline import generate, generate_ablation

    root = runs_root or paths.runs_root()
    ran = 0
    for index, job in enumerate(jobs):
        if job.done(root):
            if on_job is not None:
                on_job(index, job, "skip")
            continue
        if on_job is not None:
            on_job(index, job, "start")
        if job.action == "generate":
            generate(job.task, kinds=job.kinds, profile=job.profile, seed=job.seed, progress=progress)
        elif job.action == "generate-ablation":
            generate_ablation(profile=job.profile, seed=job.seed, progress=progress)
        else:
            train(
                str(job.algo), job.dataset_ids[0], profile=job.profile, seed=job.seed, device=device, out=runs_root,
                progress=progress,
            )  # fmt: skip
        ran += 1
    return ran
