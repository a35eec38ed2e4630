"""The leaderboard verbs: `report` (Table I, the ablation, the static site) and `reproduce` (every job behind them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lompo_bench.cli.common import (
    DEVICE,
    PROFILE,
    RUNS,
    TABLES_AS_TO,
    TABLES_OUT,
    console,
    flag_or_alias,
    size_text,
    stage_progress,
)
from lompo_bench.errors import UserError

DEFAULT_TABLES = Path("leaderboard_out")


def report(
    runs: Annotated[
        list[Path] | None,
        typer.Option(
            "--runs",
            help="Runs folder (repeatable: their records pooled); default: $LOMPO_BENCH_HOME/runs beside the "
            "repository's reference records (leaderboard/results/<profile>/).",
        ),
    ] = None,
    profile: Annotated[str, typer.Option(help="The algorithms' profile to tabulate: smoke, cpu or paper.")] = "cpu",
    data_profile: Annotated[str | None, typer.Option(help="The datasets' profile (default: --profile).")] = None,
    out: TABLES_OUT = DEFAULT_TABLES,
    include_overrides: Annotated[
        bool, typer.Option(help="Count runs trained with `--set` overrides too (left out by default).")
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also build the leaderboard as a static site in this folder (opens from file://, works offline; "
            "dataset cards, run pages with curves).",
        ),
    ] = None,
    to: TABLES_AS_TO = None,
) -> None:
    """Rebuild the paper's Table I (ours beside the paper's numbers) and the ablation from finished runs; with
    --html, also as a static site."""
    out = flag_or_alias(None if out == DEFAULT_TABLES else out, to, "--out", "--to") or DEFAULT_TABLES
    from lompo_bench.leaderboard.report import build_report
    from lompo_bench.leaderboard.stats import STATS_HINT
    from lompo_bench.paths import runs_root

    default = not runs  # the default: the user's runs beside the committed records (those alone on a fresh clone)
    result = build_report(
        runs or [runs_root()], out, profile=profile, dataset_profile=data_profile, include_overrides=include_overrides,
        reference_fallback=default, with_reference=default,
    )  # fmt: skip
    console.print(result.table_one, soft_wrap=True, markup=False)
    console.print(result.aggregates or STATS_HINT + "\n", soft_wrap=True, markup=False)
    console.print(result.claims, soft_wrap=True, markup=False)
    console.print(f"{result.runs} runs in {result.cells} cells; written: {', '.join(map(str, result.files))}")
    if html is not None:
        from lompo_bench.leaderboard.site import build_site

        def warn(line: str) -> None:  # a skipped record was the report's to name (it read the same records first)
            if not line.startswith("warning: skipped"):
                typer.echo(line, err=True)

        site = build_site(
            html, runs or [runs_root()], profile=profile, dataset_profile=data_profile,
            include_overrides=include_overrides, reference_fallback=default, with_reference=default, report=result,
            warn=warn,
        )  # fmt: skip
        console.print(
            f"site: {site.index} ({site.pages} pages, {site.previews} previews, {size_text(site.bytes)}, built in "
            f"{site.seconds:.1f} s)",
            soft_wrap=True,
            markup=False,
        )


def reproduce(
    profile: PROFILE = "cpu",
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Task (repeatable); default: the paper's four.")
    ] = None,
    algo: Annotated[
        list[str] | None,
        typer.Option("--algo", help="Algorithm: a name or package.module (repeatable); default: the paper's five."),
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Dataset kind (repeatable); default: Table I's.")
    ] = None,
    seeds: Annotated[
        int, typer.Option(help="Training seeds per (algorithm, dataset): 3, so every cell has an interval.")
    ] = 3,
    ablation: Annotated[bool, typer.Option(help="Also Appendix B's D'Claw dataset-size ablation.")] = False,
    plan_only: Annotated[bool, typer.Option("--plan", help="Only list the jobs and which are done.")] = False,
    emit_jobs: Annotated[
        Path | None,
        typer.Option("--emit-jobs", help="Write the pending jobs as shell lines in stages to this file, run nothing."),
    ] = None,
    executor: Annotated[str, typer.Option(help="local (one job after another) or ray (a Ray cluster).")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster: auto or HOST:PORT; default: $RAY_ADDRESS, else this machine.")
    ] = None,
    cpus_per_job: Annotated[float, typer.Option(help="Ray: CPUs each job reserves.")] = 1.0,
    gpus_per_job: Annotated[float, typer.Option(help="Ray: GPUs each job reserves (fractions share one).")] = 0.0,
    retries: Annotated[int, typer.Option(help="Ray: times a failed job is retried before it is reported.")] = 2,
    device: DEVICE = "auto",
    runs: RUNS = None,
    out: TABLES_OUT = DEFAULT_TABLES,
    to: TABLES_AS_TO = None,
) -> None:
    """Generate the datasets, train every algorithm on them and rebuild Table I: every job resumes, done ones are
    skipped, so rerun the same command after an interruption."""
    out = flag_or_alias(None if out == DEFAULT_TABLES else out, to, "--out", "--to") or DEFAULT_TABLES
    from lompo_bench.leaderboard.report import build_report
    from lompo_bench.leaderboard.reproduce import emit_jobs as write_jobs
    from lompo_bench.leaderboard.reproduce import execute, plan
    from lompo_bench.paths import runs_root

    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}: choose local or ray")
    jobs = plan(profile, tasks=env, algos=algo, seeds=seeds, ablation=ablation, kinds=kind)
    root = runs or runs_root()
    if plan_only:
        for index, job in enumerate(jobs):
            status = "done" if job.done(root) else "todo"
            console.print(f"{index + 1:>3}. [{status}] {job.describe()}", markup=False, soft_wrap=True)
        return
    if emit_jobs is not None:
        script = write_jobs(jobs, runs)
        emit_jobs.write_text(script)
        count = sum(1 for line in script.splitlines() if line.startswith("lompo-bench"))
        console.print(f"{count} pending jobs written to {emit_jobs}", soft_wrap=True)
        return
    if executor == "ray":
        from lompo_bench.leaderboard.cluster import execute_ray

        def say(line: str) -> None:
            console.print(line, soft_wrap=True, markup=False)

        outcome = execute_ray(
            jobs, runs, address=address, cpus_per_job=cpus_per_job, gpus_per_job=gpus_per_job, retries=retries,
            device=device, on_event=say,
        )  # fmt: skip
        ran, failed = len(outcome.finished), len(outcome.failed) + len(outcome.blocked)
    else:

        def announce(index: int, job: Any, status: str) -> None:
            verb = "done already:" if status == "skip" else "running:"
            console.print(f"[{index + 1}/{len(jobs)}] {verb} {job.describe()}", soft_wrap=True, markup=False)

        with stage_progress() as bars:
            ran = execute(jobs, runs, progress=bars, on_job=announce, device=device)
        failed = 0
    result = build_report(root, out, profile=profile)
    console.print(result.table_one, soft_wrap=True, markup=False)
    console.print(f"{ran} jobs run, {len(jobs) - ran - failed} were done; tables in {out}", soft_wrap=True)
    if failed:
        console.print(f"{failed} jobs failed or could not run (see above); rerun the command to retry them")
        raise typer.Exit(1)
