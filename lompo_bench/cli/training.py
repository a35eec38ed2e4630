"""The training verbs: `algos`, `train`, `evaluate`, `evaluate-policy`, `diagnose`, `runs` and `bench`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lompo_bench.cli.common import (
    ALGO,
    DATASET,
    DEVICE,
    PROFILE,
    RUNS,
    RUNS_AS_OUT,
    SEED,
    SET,
    console,
    flag_or_alias,
    print_result,
    print_table,
    stage_progress,
)
from lompo_bench.errors import UserError


def algos() -> None:
    """List the algorithms, built-in and installed (entry points), with where each comes from and its profiles."""
    from lompo_bench.algorithms.registry import ENTRY_POINT_GROUP, list_algorithms

    for source in list_algorithms():
        where = "built-in" if source.origin == "built-in" else source.origin
        text = f"BROKEN: {source.error}" if source.error else f"{where}: {source.description}"
        console.print(f"{source.name:<12} {text}", soft_wrap=True, markup=False, highlight=False)
    console.print(
        "profiles: smoke (seconds), cpu (< 1 h on 2 cores), paper (the paper's sizes, for a GPU)", soft_wrap=True
    )
    console.print(
        f"your own: an entry point in the group {ENTRY_POINT_GROUP}, or --algo package.module for a module on the "
        "Python path (docs/ALGORITHMS.md)",
        soft_wrap=True,
        markup=False,
    )


def train(
    algo: ALGO,
    dataset: DATASET,
    profile: PROFILE = "cpu",
    seed: SEED = 0,
    device: DEVICE = "auto",
    runs: RUNS = None,
    set_: SET = None,
    logger: Annotated[
        str, typer.Option(help="csv (metrics.csv, always written) or tensorboard (event files too, with frames).")
    ] = "csv",
    model_only: Annotated[
        bool,
        typer.Option(
            "--model-only",
            help="Train only the world model the run would train first (LOMPO and LMBRL share it): a cluster stage.",
        ),
    ] = False,
    out: RUNS_AS_OUT = None,
) -> None:
    """Train an algorithm on a dataset, evaluate it in the task, save the result (resumable: rerun to continue)."""
    runs = flag_or_alias(runs, out, "--runs", "--out")
    from lompo_bench.algorithms.jobs import train as run_train
    from lompo_bench.algorithms.jobs import train_model

    if model_only:
        with stage_progress() as bars:
            folder = train_model(
                algo, dataset, profile=profile, seed=seed, device=device, out=runs, progress=bars, overrides=set_ or (),
                logger=logger,
            )  # fmt: skip
        console.print(f"world model of {algo} on {dataset} ({profile}, seed {seed}) in {folder}", soft_wrap=True)
        return
    with stage_progress() as bars:
        record = run_train(
            algo, dataset, profile=profile, seed=seed, device=device, out=runs, progress=bars, overrides=set_ or (),
            logger=logger,
        )  # fmt: skip
    print_result(record)


def evaluate(
    algo: ALGO,
    dataset: DATASET,
    profile: PROFILE = "cpu",
    seed: SEED = 0,
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 10,
    device: DEVICE = "auto",
    runs: RUNS = None,
    set_: SET = None,
    out: RUNS_AS_OUT = None,
) -> None:
    """Evaluate the policy of a finished training run in its task (writes evaluation.json in the run folder)."""
    runs = flag_or_alias(runs, out, "--runs", "--out")
    from lompo_bench.algorithms.jobs import evaluate as run_evaluate

    with stage_progress() as bars:
        record = run_evaluate(
            algo, dataset, profile=profile, seed=seed, episodes=episodes, device=device, out=runs, progress=bars,
            overrides=set_ or (),
        )  # fmt: skip
    print_result(record)


def evaluate_policy_file(
    policy_file: Annotated[
        Path,
        typer.Argument(
            help="TorchScript (.pt) or torch.export (.pt2) file: forward(pixels, proprio) -> action; with --format "
            "d3rlpy, a file d3rlpy's save_policy wrote."
        ),
    ],
    dataset: DATASET,
    algo: Annotated[
        str | None, typer.Option("--algo", help="The name its record goes under in `report`; default: the file's.")
    ] = None,
    seed: Annotated[int, typer.Option(help="The run seed the record is filed as (picks the evaluation seeds).")] = 0,
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 10,
    profile: Annotated[
        str | None, typer.Option(help="The profile it counts for in `report` (default: the dataset's).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda[:N] or auto.")] = "cpu",
    runs: RUNS = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an earlier record of the same name and seed.")] = False,
    policy_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="torch: forward(pixels, proprio) -> action, one observation; d3rlpy: d3rlpy's save_policy file "
            "(frames stacked as lompo_bench.adapters.d3rlpy stacks them).",
        ),
    ] = "torch",
    frame_stack: Annotated[
        int | None,
        typer.Option(help="--format d3rlpy: frames per observation it was trained on (default: read from the file)."),
    ] = None,
    out: RUNS_AS_OUT = None,
) -> None:
    """Evaluate a policy trained anywhere (saved with torch.jit.save or torch.export.save, or by d3rlpy) as the
    built-ins are evaluated, and file its result where `report` reads it (docs/ALGORITHMS.md)."""
    runs = flag_or_alias(runs, out, "--runs", "--out")
    import warnings

    from lompo_bench.algorithms.external_policy import ClippedActionsWarning, clipped_warning, episodes_warning
    from lompo_bench.algorithms.external_policy import evaluate_policy_file as run_evaluation

    with stage_progress() as bars, warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippedActionsWarning)  # said once below, in one line
        record, path = run_evaluation(
            policy_file, dataset, algo=algo, seed=seed, episodes=episodes, profile=profile, device=device, root=runs,
            overwrite=overwrite, progress=bars, policy_format=policy_format, frame_stack=frame_stack,
        )  # fmt: skip
    print_result(record)
    console.print(f"written: {path}", soft_wrap=True, markup=False)
    for line in (clipped_warning(record), episodes_warning(record)):
        if line is not None:
            typer.echo(f"Warning: {line}", err=True)


def diagnose(
    folder: Annotated[Path, typer.Argument(help="A world model's folder (runs/_world_models/...) or a run folder.")],
    penalty: Annotated[
        float | None, typer.Option(help="lambda to weigh the spread with (default: the model's or run's).")
    ] = None,
    in_task: Annotated[
        int,
        typer.Option(
            "--in-task",
            help="Also run the run's policy this many evaluation episodes in the task: does it exploit the model?",
        ),
    ] = 0,
    device: DEVICE = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the values to this JSON file.")] = None,
) -> None:
    """Is a world model good enough for the policy phase? Its fit and LOMPO's penalty on held-out episodes."""
    from lompo_bench.algorithms.jobs import diagnose as run_diagnose
    from lompo_bench.algorithms.verdicts import FIT, IN_TASK, table
    from lompo_bench.files import write_json

    result = run_diagnose(folder, device=device, penalty=penalty, in_task=in_task)
    values = result["values"]
    where = "held-out" if result["held_out"] else "in-sample"
    console.print(
        f"world model of {result['dataset_id']} after {result['model_steps']} updates, on "
        f"{int(values['episodes'])} {where} episodes" + (" (with the run's actor)" if result["actor"] else ""),
        soft_wrap=True,
    )
    console.print("fit: " + ", ".join(f"{name} {values[name]:.4g}" for name in FIT), soft_wrap=True)
    grid = Table(title=f"one step ahead of the data's states (lambda {result['penalty']:g})")
    for column in ("actions", "spread (heads' log-likelihood std)", "model reward", "heads' means' std"):
        grid.add_column(column)
    for row in table(values):
        grid.add_row(*row)
    grid.add_row(
        "lambda x spread at data", f"{values['penalty_data']:.4g}", f"{values['reward_penalized_data']:.4g}", ""
    )
    print_table(grid)
    for line in result["verdict"]:
        console.print(f"- {line}", soft_wrap=True, markup=False)
    if result["in_task"]:
        task_values = result["in_task"]
        console.print(
            f"the policy in the task, {int(task_values['episodes'])} evaluation episodes: "
            + ", ".join(f"{name} {task_values[name]:.4g}" for name in IN_TASK if name in task_values),
            soft_wrap=True,
            markup=False,
        )
        for line in result["in_task_verdict"]:
            console.print(f"- {line}", soft_wrap=True, markup=False)
    if json_out is not None:
        write_json(json_out, result)


def runs(runs: RUNS = None) -> None:
    """The runs in the runs folder: algorithm, dataset, profile, seed, state, progress, last evaluation, score."""
    from lompo_bench.leaderboard.run_list import list_runs
    from lompo_bench.paths import runs_root

    root = runs or runs_root()
    rows = list_runs(root)
    if not rows:
        console.print(f"no runs in {root}; start one with `lompo-bench train --algo lompo --dataset ...`")
        return
    table = Table(title=f"runs in {root}")
    for column in ("algo", "dataset", "profile", "seed", "state", "progress", "last eval", "score"):
        table.add_column(column, no_wrap=column != "dataset")
    for r in rows:
        numbers = ["" if x is None else f"{x:.1f}" for x in (r.last_evaluation, r.score)]
        table.add_row(r.algo, r.dataset_id, r.profile, str(r.seed), r.state, r.progress, *numbers)
    print_table(table)


def bench(
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="LOMPO profile to measure (repeatable); default: cpu, paper.")
    ] = None,
    updates: Annotated[int, typer.Option(help="Timed repeats of each measurement (their median is shown).")] = 3,
    dataset: Annotated[
        str | None, typer.Option(help="A local dataset id: also measure the data path's wait on it.")
    ] = None,
    device: DEVICE = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
) -> None:
    """Measure LOMPO's hot paths (model update per speed lever, actor-critic, rollouts, data path) and print one
    table: figure, ours, reference, ratio (docs/PERFORMANCE.md)."""
    import dataclasses
    import json

    from lompo_bench.algorithms import bench as measure
    from lompo_bench.algorithms.configs import resolve_device
    from lompo_bench.algorithms.lompo import PROFILES

    profiles = tuple(profile or ("cpu", "paper"))
    unknown = [name for name in profiles if name not in PROFILES]
    if unknown:
        raise UserError(f"unknown profile {unknown[0]!r}: choose from {', '.join(PROFILES)}")
    if updates < 1:
        raise UserError(f"--updates must be at least 1, not {updates}")
    if dataset is not None:
        from lompo_bench.data.store import dataset_exists

        if not dataset_exists(dataset):
            raise UserError(f"no local dataset {dataset!r} (see `lompo-bench datasets list`)")
    where = resolve_device(device)
    # A Markdown table, printed as it fills (docs/PERFORMANCE.md keeps the last one measured).
    console.print(f"device: {where} ({measure.describe_machine(where)})", soft_wrap=True, markup=False)
    console.print(
        "| figure | ours | reference | ratio | unit | reference is |\n|---|---:|---:|---:|---|---|", markup=False
    )
    figures = []
    for figure in measure.figures(profiles, updates, dataset, where):
        figures.append(figure)
        console.print(figure.markdown_row(), soft_wrap=True, markup=False)
    if json_out is not None:
        records = [{**dataclasses.asdict(figure), "ratio": figure.ratio} for figure in figures]
        json_out.write_text(json.dumps({"device": str(where), "figures": records}, indent=1) + "\n")
