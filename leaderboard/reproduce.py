"""`lompo-bench reproduce`: the plan of jobs behind Table I (and the ablation) with their dependencies, the one job
function every executor calls (the same functions as the `generate` and `train` commands), the local executor
(one job after another) and the plan as shell lines in stages (`--emit-jobs`). The Ray executor
(`leaderboard/cluster.py`) is a thin layer over the same plan and job function.

Every job resumes (generation stages and training checkpoints), and a finished job is skipped, so an executor
can be killed and restarted at will; the table is rebuilt from whatever has finished.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from lompo_bench import paths
from lompo_bench.data.ids import ABLATION_FACTORS, ablation_dataset_id, dataset_id, dataset_image_size, resolve_kinds
from lompo_bench.errors import UserError
from lompo_bench.leaderboard.paper import ALGORITHMS, TABLE_I

STAGES = ("generate", "model", "train")  # a job depends only on jobs of earlier stages


class JobAction(StrEnum):
    """What a job does. A `str`: its JSON, pickled and command-line forms are the plain words, and it equals them."""

    GENERATE = "generate"  # a task's datasets
    GENERATE_ABLATION = "generate-ablation"  # Appendix B's D'Claw datasets
    MODEL = "model"  # a shared world model
    TRAIN = "train"  # one run of an algorithm

    @property
    def stage(self) -> int:
        """Its index in `STAGES`: both generations are stage 0."""
        return STAGES.index("generate" if self in (JobAction.GENERATE, JobAction.GENERATE_ABLATION) else self)


@dataclass(frozen=True)
class Job:
    action: JobAction  # given as a plain word too ("train"): made a JobAction
    task: str
    profile: str
    dataset_ids: tuple[str, ...]  # what a generate job makes, or the one a model or train job reads
    kinds: tuple[str, ...] = ()  # a generate job's dataset kinds
    algo: str | None = None  # a train job's algorithm (its NAME); a model job's: one of the algorithms sharing it
    # A plugin named by module path (`--algo package.module`): what finds it again in any process (an emitted job
    # line, a Ray worker); None when `algo` itself does (a built-in, an installed entry point).
    algo_module: str | None = None
    seed: int = 0
    model_key: str | None = None  # the shared world model a model job trains, or a train job uses (None: none)

    def __post_init__(self) -> None:
        object.__setattr__(self, "action", JobAction(self.action))  # a ValueError for an unknown one

    @property
    def stage(self) -> int:
        return self.action.stage

    def describe(self) -> str:
        if self.action is JobAction.TRAIN:
            return f"train {self.algo} on {self.dataset_ids[0]} ({self.profile}, seed {self.seed})"
        if self.action is JobAction.MODEL:
            return f"world model {self.model_key} on {self.dataset_ids[0]} ({self.profile}, seed {self.seed})"
        ablation = self.action is JobAction.GENERATE_ABLATION
        what = "the D'Claw ablation datasets" if ablation else f"{self.task} datasets"
        return f"generate {what} ({self.profile}, seed {self.seed})"

    def command(self, runs_root: Path | None = None) -> str:
        """The `lompo-bench` command line that runs this job alone (`--emit-jobs`)."""
        out = f" --runs {shlex.quote(str(runs_root))}" if runs_root else ""
        if self.action is JobAction.GENERATE:
            return f"lompo-bench generate --env {self.task} --kind {','.join(self.kinds)} --profile {self.profile} " \
                f"--seed {self.seed}"  # fmt: skip
        if self.action is JobAction.GENERATE_ABLATION:
            return f"lompo-bench generate --env {self.task} --ablation --profile {self.profile} --seed {self.seed}"
        model = " --model-only" if self.action is JobAction.MODEL else ""
        return (f"lompo-bench train --algo {shlex.quote(self.algo_reference)} --dataset {self.dataset_ids[0]} "
                f"--profile {self.profile} --seed {self.seed}{model}{out}")  # fmt: skip

    @property
    def algo_reference(self) -> str:
        """What `registry.resolve` takes to find this job's algorithm (the same in every process)."""
        return self.algo_module or str(self.algo)

    def done(self, runs_root: Path) -> bool:
        if self.action is JobAction.TRAIN:
            return (paths.run_dir(str(self.algo), self.dataset_ids[0], self.profile, self.seed, runs_root)
                    / "result.json").exists()  # fmt: skip
        if self.action is JobAction.MODEL:
            folder = paths.world_model_dir(runs_root, self.dataset_ids[0], self.seed, str(self.model_key))
            return (folder / "model.pt").exists()
        from lompo_bench.data.store import dataset_exists

        return all(dataset_exists(ds) for ds in self.dataset_ids)


def plan(
    profile: str = "cpu",
    tasks: Sequence[str] | None = None,
    algos: Sequence[str] | None = None,
    seeds: int = 3,
    ablation: bool = False,
    kinds: Sequence[str] | None = None,
) -> list[Job]:
    """The jobs behind Table I for `tasks` x `algos` x `seeds` (defaults: the paper's), in dependency order: each
    task's datasets; the world models runs share (one per dataset, seed and model config: LOMPO's and LMBRL's is
    one); then the trainings. `kinds` keeps only those dataset kinds. With `ablation`, Appendix B's D'Claw datasets
    and trainings as well. `algos` may name installed plugins and modules on the path (`registry.resolve`)."""
    from lompo_bench.algorithms.registry import (
        WorldModelAlgorithm,
        WorldModelConfigs,
        built_in_name,
        resolve,
        world_model_configs,
    )
    from lompo_bench.tasks import get_task_spec

    wanted = resolve_kinds(tuple(kinds)) if kinds else None
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, not {seeds}")
    paper_tasks = list(dict.fromkeys(task for task, _ in TABLE_I))
    task_list = [get_task_spec(t).name for t in tasks] if tasks else paper_tasks
    # (NAME, what keys its shared world model) of each algorithm, None for one whose runs share none. A built-in is
    # not imported: the registry's torch-free configs key its model, so planning needs no torch. A plugin is.
    planned: list[tuple[str, WorldModelConfigs | None]] = []
    module_paths: dict[str, str] = {}  # a plugin named by module path travels with its jobs as that path
    for spec in algos or ALGORITHMS:
        name = built_in_name(spec)
        if name is not None:
            planned.append((name, world_model_configs(name)))
            continue
        module, source = resolve(spec)
        planned.append((module.NAME, module if isinstance(module, WorldModelAlgorithm) else None))
        if source.reference != source.name:
            module_paths[source.name] = source.reference

    def model_key(configs: WorldModelConfigs | None, task: str) -> str | None:
        if configs is None:
            return None
        return configs.world_model_key(configs.make_config(profile), task, dataset_image_size(task, profile))

    def trainings(task: str, ids: Sequence[str]) -> list[Job]:
        models: dict[tuple[str, int, str], Job] = {}
        runs: list[Job] = []
        for ds in ids:
            for name, configs in planned:
                key = model_key(configs, task)
                named = dict(algo=name, algo_module=module_paths.get(name))
                for seed in range(seeds):
                    if key is not None and (ds, seed, key) not in models:
                        models[ds, seed, key] = Job(
                            JobAction.MODEL, task, profile, (ds,), seed=seed, model_key=key, **named
                        )
                    runs.append(Job(JobAction.TRAIN, task, profile, (ds,), seed=seed, model_key=key, **named))
        return [*models.values(), *runs]

    jobs: list[Job] = []
    for task in task_list:
        task_kinds = [kind for t, kind in TABLE_I if t == task] or ["medium-replay", "medium-expert", "expert"]
        task_kinds = [kind for kind in task_kinds if wanted is None or kind in wanted]
        if not task_kinds:
            continue
        ids = tuple(dataset_id(task, kind, profile) for kind in task_kinds)
        jobs.append(Job(JobAction.GENERATE, task, profile, ids, kinds=tuple(task_kinds)))
        jobs += trainings(task, ids)
    if ablation:
        ids = tuple(ablation_dataset_id(f, profile) for f in ABLATION_FACTORS)
        jobs.append(Job(JobAction.GENERATE_ABLATION, "dclaw_screw", profile, ids))
        jobs += trainings("dclaw_screw", ids)
    return jobs


def dependencies(jobs: Sequence[Job]) -> list[list[int]]:
    """For each job, the indices of the jobs it needs done first: a dataset's generation before any model or run
    on it; a shared world model before the runs that use it."""
    makers = {ds: i for i, job in enumerate(jobs) if job.stage == 0 for ds in job.dataset_ids}
    models = {
        (job.dataset_ids[0], job.seed, job.model_key): i for i, job in enumerate(jobs) if job.action is JobAction.MODEL
    }
    needs: list[list[int]] = []
    for job in jobs:
        before = [makers[job.dataset_ids[0]]] if job.stage > 0 and job.dataset_ids[0] in makers else []
        if job.action is JobAction.TRAIN and (job.dataset_ids[0], job.seed, job.model_key) in models:
            before.append(models[job.dataset_ids[0], job.seed, job.model_key])
        needs.append(before)
    return needs


def pending(jobs: Sequence[Job], runs_root: Path) -> list[bool]:
    """Which jobs still have work to do: a finished job has none, and neither has a world model whose runs are all
    finished (on a cluster its file may live on another node)."""
    todo = [not job.done(runs_root) for job in jobs]
    needs = dependencies(jobs)
    for i, job in enumerate(jobs):
        if job.action is JobAction.MODEL and todo[i]:
            todo[i] = any(todo[j] and i in needs[j] for j in range(len(jobs)))
    return todo


def run_job(job: Job, runs_root: Path | None = None, device: str = "auto", progress: Any = None) -> Any:
    """Run one job through the functions the CLI's commands call: the one job function every executor uses.
    Returns a train job's result record, a model job's folder, a generate job's dataset ids."""
    from lompo_bench.algorithms.jobs import train, train_model
    from lompo_bench.dataset_gen.pipeline import generate, generate_ablation

    if job.action is JobAction.GENERATE:
        generate(job.task, kinds=job.kinds, profile=job.profile, seed=job.seed, progress=progress)
        return job.dataset_ids
    if job.action is JobAction.GENERATE_ABLATION:
        generate_ablation(profile=job.profile, seed=job.seed, progress=progress)
        return job.dataset_ids
    if job.action is JobAction.MODEL:
        return train_model(job.algo_reference, job.dataset_ids[0], job.profile, job.seed, device, runs_root, progress)
    return train(job.algo_reference, job.dataset_ids[0], job.profile, job.seed, device, runs_root, progress)


def execute(
    jobs: Sequence[Job],
    runs_root: Path | None = None,
    progress: Any = None,
    on_job: Callable[[int, Job, str], None] | None = None,
    device: str = "auto",
) -> int:
    """The local executor: run the pending jobs one after another, in plan order; returns how many ran.
    `on_job(index, job, status)` reports each one ("skip" when it has nothing to do, "start" before it runs)."""
    todo = pending(jobs, runs_root or paths.runs_root())
    ran = 0
    for index, job in enumerate(jobs):
        if not todo[index]:
            if on_job is not None:
                on_job(index, job, "skip")
            continue
        if on_job is not None:
            on_job(index, job, "start")
        run_job(job, runs_root, device, progress)
        ran += 1
    return ran


def emit_jobs(jobs: Sequence[Job], runs_root: Path | None = None) -> str:
    """A shell script of the pending jobs, one `lompo-bench` line each, grouped by stage: every line of a stage may
    run at once (Slurm array, `xargs -P`), and a stage starts when the one before it has finished."""
    todo = pending(jobs, runs_root or paths.runs_root())
    lines = ["#!/bin/sh", "# lompo-bench reproduce --emit-jobs: stages in order; the lines of one stage in parallel."]
    for stage, name in enumerate(STAGES):
        stage_jobs = [job for i, job in enumerate(jobs) if todo[i] and job.stage == stage]
        if stage_jobs:
            lines.append(f"# stage {stage + 1}: {name}, {len(stage_jobs)} job(s)")
            lines += [job.command(runs_root) for job in stage_jobs]
    return "\n".join(lines) + "\n"
