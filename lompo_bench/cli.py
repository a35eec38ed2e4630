"""The `lompo-bench` command line. Each command parses, calls one library function and prints.

Errors a user can cause (`UserError`: unknown task, bad value) end in one line on stderr and exit code 2;
Click's own usage errors (unknown flag, missing argument) also exit with 2.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from lompo_bench.errors import UserError, os_error_line


class _UserErrorsExitTwo(TyperGroup):
    """Turns a `UserError` raised anywhere below this group, and an OSError the user can fix (`os_error_line`: a
    full disk, a folder that cannot be written), into one line and exit code 2, no traceback."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as error:
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(code=2) from None
        except OSError as error:  # a full disk, a folder that cannot be written: the user's to fix, in one line
            line = os_error_line(error)
            if line is None:
                raise
            typer.echo(f"Error: {line}", err=True)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    cls=_UserErrorsExitTwo,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="lompo-bench: offline RL from pixels. Tasks, datasets, algorithms and the LOMPO leaderboard.",
)
tasks_app = typer.Typer(help="List the registered tasks, or look at one.", add_completion=False)
app.add_typer(tasks_app, name="tasks")
datasets_app = typer.Typer(
    help="Local datasets: list, inspect, verify, pack for an HTTP mirror, publish to a Minari remote.",
    add_completion=False,
)
app.add_typer(datasets_app, name="datasets")
import_app = typer.Typer(help="Convert datasets from other benchmarks into lompo-bench's layout.", add_completion=False)
app.add_typer(import_app, name="import")
console = Console()


@tasks_app.callback(invoke_without_command=True)
def tasks(
    ctx: typer.Context,
    tag: Annotated[str | None, typer.Option(help="Only tasks with this tag (e.g. paper).")] = None,
) -> None:
    """Table of tasks: name, aliases, action and proprio dims, action repeat, episode length."""
    if ctx.invoked_subcommand is not None:
        return
    from lompo_bench.tasks import TASKS, make_task

    names = TASKS.names(tag)
    if not names:
        raise UserError(f"no task has the tag {tag!r}")
    table = Table(title="lompo-bench tasks", caption="dims of action, proprio and state; episode in agent steps")
    for column in ("name", "aliases", "source", "action", "proprio", "state", "repeat", "episode", "reward"):
        table.add_column(column, no_wrap=True)
    for name in names:
        spec = TASKS.get(name)
        env = make_task(name, pixels=False)  # dims come from the simulator itself, not from a second table
        spaces = env.observation_space.spaces
        proprio = spaces["proprio"].shape[0] if "proprio" in spaces else 0
        table.add_row(
            spec.name,
            ", ".join(spec.aliases),
            spec.source,
            str(env.action_space.shape[0]),
            str(proprio),
            str(spaces["state"].shape[0]),
            str(spec.action_repeat),
            str(spec.episode_length),
            spec.reward_kind,
        )
        env.close()
    Console(width=max(console.width, 110)).print(table)  # pipes report 80 columns; never truncate names


@tasks_app.command("show")
def tasks_show(
    name: Annotated[str, typer.Argument(help="Task name or alias, e.g. walker.")],
    out: Annotated[Path, typer.Option(help="Where to write the PNG strip.")] = Path("strip.png"),
    steps: Annotated[int, typer.Option(help="Random-policy agent steps to roll out.")] = 40,
    frames: Annotated[int, typer.Option(help="Frames in the strip, evenly spaced.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the env and the random policy.")] = 0,
    image_size: Annotated[int, typer.Option(help="Rendered frame size in pixels.")] = 64,
) -> None:
    """Roll out a random policy and save a strip of its frames."""
    from lompo_bench.demo import contact_sheet, random_rollout

    if frames < 1:
        raise UserError(f"--frames must be at least 1, not {frames}")
    if image_size < 16:
        raise UserError(f"--image-size must be at least 16, not {image_size}")
    rollout = random_rollout(name, steps=steps, seed=seed, image_size=image_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(rollout.frames, count=frames, columns=frames).save(out)
    console.print(f"{rollout.task}: {len(rollout.frames)} frames, {rollout.steps_per_second:.0f} steps/s -> {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the contact sheets and summary.json.")] = Path("demo_out"),
    task: Annotated[list[str] | None, typer.Option(help="Task to include (repeatable); default: all.")] = None,
    steps: Annotated[int | None, typer.Option(help="Agent steps per task; default: one episode.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the envs and the random policy.")] = 0,
    dataset: Annotated[
        bool, typer.Option(help="Also make a smoke Pen expert dataset, sample it and train LOMPO (smoke) on it.")
    ] = True,
) -> None:
    """End to end on the built-in default: random rollouts of every task, a smoke dataset, a smoke LOMPO run."""
    from rich.progress import Progress

    from lompo_bench.demo import run_demo
    from lompo_bench.tasks import get_task_spec, task_names

    names = [get_task_spec(t).name for t in task] if task else task_names()
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("random rollouts", total=len(names))
        summaries = run_demo(
            out,
            tasks=names,
            steps=steps,
            seed=seed,
            on_task_done=lambda s: (progress.console.print(s.line(), soft_wrap=True), progress.advance(bar)),
        )
    total = sum(s.agent_steps for s in summaries)
    console.print(
        f"demo: {len(summaries)} tasks, {total} agent steps; sheets and summary.json in {out}", soft_wrap=True
    )
    if dataset:
        from lompo_bench.demo import run_dataset_demo

        with console.status("smoke dataset (SAC from state, rendering, Minari, sampler), then LOMPO (smoke)"):
            console.print(run_dataset_demo(out, seed=seed).line(), soft_wrap=True)


@contextmanager
def _stage_progress() -> Iterator[Any]:
    """Rich bars for a staged job (generation, training): count, elapsed time, ETA and a message per stage; when
    the output is no terminal (a log file, a batch job), plain progress lines at a steady pace instead."""
    if not console.is_terminal:
        from lompo_bench.progress import LineProgress

        def write(line: str) -> None:
            console.print(line, markup=False, soft_wrap=True, highlight=False)
            console.file.flush()

        yield LineProgress(write)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[message]}"),
    )
    with Progress(*columns, console=console) as progress:
        yield _StageBars(progress)


class _StageBars:
    """One rich progress bar per pipeline stage, with count, elapsed time and ETA."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress
        self._task: Any = None

    def start(self, stage: str, total: int) -> None:
        self._task = self._progress.add_task(stage, total=total, message="")

    def update(self, completed: int, message: str = "") -> None:
        self._progress.update(self._task, completed=completed, message=message)

    def finish(self) -> None:
        self._progress.update(self._task, completed=self._progress.tasks[self._task].total)


@app.command()
def generate(
    env: Annotated[str, typer.Option("--env", help="Task name or alias, e.g. dclaw.")],
    kind: Annotated[str, typer.Option(help="medium-replay, medium-expert, expert, a comma list, or all.")] = "all",
    profile: Annotated[
        str, typer.Option(help="smoke (seconds), cpu (< 1 h on 2 cores) or paper (paper sizes).")
    ] = "cpu",
    seed: Annotated[int, typer.Option(help="Seed of SAC, the envs and the dataset trimming.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Rendering processes; default: one per core.")] = None,
    out: Annotated[Path | None, typer.Option(help="Work folder; default: $LOMPO_BENCH_HOME/generate.")] = None,
    ablation: Annotated[bool, typer.Option(help="D'Claw only: Appendix B's 3-run dataset and its /5, /25.")] = False,
) -> None:
    """Train a SAC expert from state and write the paper's image datasets as Minari datasets (resumable)."""
    from lompo_bench.dataset_gen.config import generation_config, resolve_kinds, resolve_workers
    from lompo_bench.dataset_gen.pipeline import generate as run_generate
    from lompo_bench.dataset_gen.pipeline import generate_ablation
    from lompo_bench.tasks import get_task_spec

    spec = get_task_spec(env)  # bad input fails here, before any bar is drawn
    generation_config(spec.name, profile)
    kinds = resolve_kinds(kind)
    resolve_workers(workers)
    if ablation and spec.name != "dclaw_screw":
        raise UserError(f"--ablation is the paper's D'Claw dataset-size study; it does not apply to {spec.name}")
    with _stage_progress() as bars:
        if ablation:
            sizes = generate_ablation(profile=profile, seed=seed, workers=workers, out=out, progress=bars)
            for ds_id, transitions in sizes.items():
                console.print(f"{ds_id}: {transitions} transitions", soft_wrap=True)
            return
        report = run_generate(
            spec.name, kinds=kinds, profile=profile, seed=seed, workers=workers, out=out, progress=bars
        )
    console.print(
        f"{report.task} ({report.profile}, seed {report.seed}): SAC expert return {report.expert_return:.1f}",
        soft_wrap=True,
    )
    for ds_id, info in report.datasets.items():
        console.print(
            f"  {ds_id}: {info['transitions']} transitions, {info['episodes']} episodes, "
            f"mean return {info['mean_return']:.1f}",
            soft_wrap=True,
        )
    stages = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in report.stage_seconds.items())
    console.print(f"  wall time: {stages}; rendering {report.frames_per_second:.0f} frames/s", soft_wrap=True)


def _size(n_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""


@datasets_app.command("list")
def datasets_list() -> None:
    """Datasets where Minari looks: id, transitions, episodes, size on disk, profile, reference flag."""
    from lompo_bench.data.inspect import list_datasets
    from lompo_bench.data.store import datasets_root

    summaries = list_datasets()
    if not summaries:
        console.print(f"no datasets in {datasets_root()}; make one with `lompo-bench generate --env walker`")
        return
    table = Table(title=f"datasets in {datasets_root()}")
    for column in ("id", "transitions", "episodes", "size", "profile", "reference", "cache"):
        table.add_column(column, no_wrap=True)
    for s in summaries:
        flag = {True: "provisional", False: "final", None: "-"}[s.provisional_reference]
        table.add_row(
            s.dataset_id,
            str(s.transitions),
            str(s.episodes),
            _size(s.bytes_on_disk),
            s.profile,
            flag,
            "built" if s.cached else "-",
        )
    Console(width=max(console.width, 130)).print(table)


@datasets_app.command("info")
def datasets_info(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id, e.g. lompo/walker_walk/expert-v0.")],
) -> None:
    """Metadata and a summary of the episode returns."""
    from lompo_bench.data.inspect import info

    report = info(dataset_id)
    for key, value in report["metadata"].items():
        console.print(f"{key}: {value}", soft_wrap=True, markup=False)
    if report["split_rule"]:
        console.print(f"split rule: {report['split_rule']}", soft_wrap=True, markup=False)
    returns = report["returns"]
    console.print(
        f"episode returns ({returns['episodes']} episodes): "
        + ", ".join(f"{k} {returns[k]:.2f}" for k in ("min", "p25", "median", "mean", "p75", "max") if k in returns),
        soft_wrap=True,
    )
    counts, edges = returns["histogram"]["counts"], returns["histogram"]["edges"]
    peak = max(counts, default=0) or 1
    for count, low, high in zip(counts, edges[:-1], edges[1:], strict=True):
        console.print(f"  [{low:10.2f}, {high:10.2f})  {'#' * round(30 * count / peak):<30} {count}", markup=False)


@datasets_app.command("verify")
def datasets_verify(dataset_id: Annotated[str, typer.Argument(help="Dataset id.")]) -> None:
    """Integrity: shapes, dtypes, episode boundaries, step counts, and the cache's checksums. Exit 2 on problems."""
    from lompo_bench.data.inspect import verify

    problems = verify(dataset_id)
    if problems:
        for problem in problems:
            typer.echo(f"{dataset_id}: {problem}", err=True)
        raise typer.Exit(code=2)
    console.print(f"{dataset_id}: ok", soft_wrap=True)


@datasets_app.command("preview")
def datasets_preview(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id.")],
    out: Annotated[Path, typer.Option("--out", help="The preview file: .gif or .webp (animated).")] = Path("ep.gif"),
    episode: Annotated[
        int | None, typer.Option(help="The episode's index (default: the one of the highest return).")
    ] = None,
    frames: Annotated[int, typer.Option(help="At most this many frames (every k-th of the episode's).")] = 100,
) -> None:
    """An animated preview of one episode from the dataset's own frames (what the site's dataset cards show)."""
    from lompo_bench.leaderboard.preview import episode_preview

    made = episode_preview(dataset_id, out, episode=episode, max_frames=frames)
    console.print(
        f"{made.path}: episode {made.episode} (return {made.episode_return:.1f}), {made.frames} of its "
        f"{made.episode_frames} frames (every {made.stride}), {made.width}x{made.height} px, {_size(made.bytes)}",
        soft_wrap=True,
        markup=False,
    )


@datasets_app.command("pack")
def datasets_pack(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id.")],
    out: Annotated[Path, typer.Option(help="Folder for the archive and manifest.json (what a server serves).")] = Path(
        "lompo_share"
    ),
) -> None:
    """Archive a local dataset and add it to a manifest, so that anyone can host it for `download`."""
    from lompo_bench.data.download import pack

    entry = pack(dataset_id, out)
    console.print(f"{out / entry['url']}: {_size(entry['size'])}, sha256 {entry['sha256']}", soft_wrap=True)


@app.command()
def download(
    dataset_id: Annotated[
        str, typer.Argument(help="Dataset id, or a full Minari remote id: hf://<org>/lompo/walker_walk/expert-v0.")
    ],
    remote: Annotated[
        str | None, typer.Option(help="Minari remote, hf://<org> or gcp://<bucket> (default: $MINARI_REMOTE).")
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help="Self-hosted HTTP mirror (`datasets pack`); default: $LOMPO_BENCH_DATA_URL.")
    ] = None,
) -> None:
    """Fetch a dataset and install it where Minari looks. Where from, in order: a full hf://... or gcp://... id,
    --remote, --base-url, $MINARI_REMOTE, $LOMPO_BENCH_DATA_URL. Checked (sha256 or `datasets verify`) before it
    is installed; an interrupted download never looks installed."""
    import os

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from lompo_bench.data import remote as minari_remote
    from lompo_bench.data.download import BASE_URL_ENV
    from lompo_bench.data.download import download as fetch

    if base_url and remote:
        raise UserError("give either --remote (a Minari remote) or --base-url (an HTTP mirror), not both")
    full_remote, _ = minari_remote.split_full_id(dataset_id)
    use_remote = full_remote or remote or (None if base_url else os.environ.get("MINARI_REMOTE"))
    if use_remote:
        console.print(f"fetching {dataset_id} through Minari from {use_remote}", soft_wrap=True)
        path = minari_remote.download(dataset_id, use_remote)  # a full id's own remote wins
    elif not (base_url or os.environ.get(BASE_URL_ENV)):
        raise UserError(
            f"no source for {dataset_id}: give a full id (hf://<org>/{dataset_id}), --remote hf://<org>, "
            f"--base-url URL, or set MINARI_REMOTE or {BASE_URL_ENV}"
        )
    else:
        columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            bar = progress.add_task(dataset_id, total=None)
            path = fetch(
                dataset_id, base_url, progress=lambda done, total: progress.update(bar, completed=done, total=total)
            )
    console.print(f"{dataset_id} installed in {path}", soft_wrap=True)


@datasets_app.command("publish")
def datasets_publish(
    dataset_id: Annotated[str, typer.Argument(help="Local dataset id.")],
    remote: Annotated[str, typer.Option(help="Minari remote: hf://<organisation> or gcp://<bucket>.")],
    token: Annotated[
        str | None, typer.Option(help="Hugging Face token or GCP key file (default: the client's own login).")
    ] = None,
    author: Annotated[str | None, typer.Option(help="Set the author, if the dataset has none.")] = None,
    author_email: Annotated[str | None, typer.Option(help="Set the author's email, if it has none.")] = None,
    docs_url: Annotated[
        str | None, typer.Option(help="Set docs_url, if it has none (default for hf://: the dataset's hub page).")
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Only run the checks and show what would be sent.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before sending.")] = False,
) -> None:
    """Upload a dataset with Minari's own `upload` (namespaces included), after checks: complete metadata, namespace
    metadata, nothing but the dataset in its folder, `datasets verify` clean. Exit 2 when a check fails."""
    from lompo_bench.data import remote as minari_remote
    from lompo_bench.data.metadata import ensure_namespaces, missing_namespaces

    target = minari_remote.parse_remote(remote)
    supplied = {
        "author": author,
        "author_email": author_email,
        "docs_url": docs_url or minari_remote.hub_page(target, dataset_id),
    }
    to_set = minari_remote.metadata_to_set(dataset_id, supplied)
    namespaces = missing_namespaces(dataset_id)
    problems = minari_remote.publish_checks(dataset_id, to_set)
    if problems:
        for problem in problems:
            typer.echo(f"{dataset_id}: {problem}", err=True)
        raise typer.Exit(code=2)
    files = minari_remote.files_to_send(dataset_id)
    console.print(
        f"{dataset_id}: checks passed; {len(files)} files, {_size(sum(size for _, size in files))} to {target}:",
        soft_wrap=True,
    )
    for path, size in files:
        console.print(f"  {path}  {_size(size)}", soft_wrap=True, markup=False)
    for key, value in to_set.items():
        console.print(f"  metadata {key} (missing) will be set to {value!r}", soft_wrap=True, markup=False)
    for name in namespaces:
        console.print(f"  namespace {name} (no metadata yet) will be described", soft_wrap=True, markup=False)
    if check:
        return
    if not yes and not typer.confirm(f"send {dataset_id} to {target}?"):
        raise typer.Exit(code=1)
    minari_remote.set_metadata(dataset_id, to_set)
    ensure_namespaces(dataset_id)
    minari_remote.publish(dataset_id, target, token)
    console.print(f"{dataset_id} published to {target}; fetch it with `lompo-bench download {target}/{dataset_id}`")


@import_app.command("vd4rl")
def import_vd4rl(
    directory: Annotated[Path, typer.Argument(help="Folder of V-D4RL .npz episode files.")],
    task: Annotated[str, typer.Option(help="The task the episodes come from, e.g. walker_walk.")],
    kind: Annotated[str, typer.Option(help="Dataset kind, e.g. medium-replay.")],
    dataset_id: Annotated[
        str | None, typer.Option("--id", help="Dataset id (default: vd4rl/<task>/<kind>-v0).")
    ] = None,
) -> None:
    """Convert a V-D4RL dataset (64 px npz episodes) into a Minari dataset of lompo-bench's layout."""
    from lompo_bench.data.vd4rl import import_vd4rl as convert

    if not directory.is_dir():
        raise UserError(f"{directory} is not a folder")
    ds_id, episodes, steps = convert(directory, task, kind, dataset_id)
    console.print(f"{ds_id}: {episodes} episodes, {steps} transitions", soft_wrap=True)


@app.command()
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


_ALGO = Annotated[
    str,
    typer.Option("--algo", help="Algorithm: a name (see `lompo-bench algos`) or package.module[:object] on the path."),
]
_DATASET = Annotated[str, typer.Option("--dataset", help="Dataset id (see `lompo-bench datasets list`).")]
_PROFILE = Annotated[str, typer.Option(help="smoke (seconds), cpu (< 1 h on 2 cores) or paper (paper sizes).")]
_SEED = Annotated[int, typer.Option(help="Seed of the run (network init, batches, evaluation).")]
_DEVICE = Annotated[str, typer.Option(help="auto (the GPU when there is one), cpu or cuda[:N].")]
_RUNS = Annotated[Path | None, typer.Option("--out", help="Runs folder; default: $LOMPO_BENCH_HOME/runs.")]
_SET = Annotated[
    list[str] | None,
    typer.Option("--set", help="Change a config setting, key=value (repeatable); such a run gets its own folder."),
]
_RUNS_IN = Annotated[Path | None, typer.Option("--runs", help="Runs folder; default: $LOMPO_BENCH_HOME/runs.")]


def _print_result(record: dict[str, Any]) -> None:
    score = record["normalized_score"]
    score_text = "no expert reference" if score is None else f"normalized score {score:.1f}"
    provisional = " (provisional reference)" if score is not None and record["reference_provisional"] else ""
    console.print(
        f"{record['algo']} on {record['dataset_id']} ({record['profile']}, seed {record['seed']}): "
        f"return {record['mean_return']:.1f} +- {record['std_return']:.1f} over {record['episodes']} episodes, "
        f"{score_text}{provisional}",
        soft_wrap=True,
    )


@app.command()
def train(
    algo: _ALGO,
    dataset: _DATASET,
    profile: _PROFILE = "cpu",
    seed: _SEED = 0,
    device: _DEVICE = "auto",
    out: _RUNS = None,
    set_: _SET = None,
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
) -> None:
    """Train an algorithm on a dataset, evaluate it in the task, save the result (resumable: rerun to continue)."""
    from lompo_bench.algorithms.jobs import train as run_train
    from lompo_bench.algorithms.jobs import train_model

    if model_only:
        with _stage_progress() as bars:
            folder = train_model(
                algo, dataset, profile=profile, seed=seed, device=device, out=out, progress=bars, overrides=set_ or (),
                logger=logger,
            )  # fmt: skip
        console.print(f"world model of {algo} on {dataset} ({profile}, seed {seed}) in {folder}", soft_wrap=True)
        return
    with _stage_progress() as bars:
        record = run_train(
            algo, dataset, profile=profile, seed=seed, device=device, out=out, progress=bars, overrides=set_ or (),
            logger=logger,
        )  # fmt: skip
    _print_result(record)


@app.command()
def evaluate(
    algo: _ALGO,
    dataset: _DATASET,
    profile: _PROFILE = "cpu",
    seed: _SEED = 0,
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 10,
    device: _DEVICE = "auto",
    out: _RUNS = None,
    set_: _SET = None,
) -> None:
    """Evaluate the policy of a finished training run in its task (writes evaluation.json in the run folder)."""
    from lompo_bench.algorithms.jobs import evaluate as run_evaluate

    with _stage_progress() as bars:
        record = run_evaluate(
            algo, dataset, profile=profile, seed=seed, episodes=episodes, device=device, out=out, progress=bars,
            overrides=set_ or (),
        )  # fmt: skip
    _print_result(record)


@app.command("evaluate-policy")
def evaluate_policy_file(
    policy_file: Annotated[
        Path,
        typer.Argument(
            help="TorchScript (.pt) or torch.export (.pt2) file: forward(pixels, proprio) -> action; with --format "
            "d3rlpy, a file d3rlpy's save_policy wrote."
        ),
    ],
    dataset: _DATASET,
    algo: Annotated[
        str | None, typer.Option("--algo", help="The name its record goes under in `report`; default: the file's.")
    ] = None,
    seed: Annotated[int, typer.Option(help="The run seed the record is filed as (picks the evaluation seeds).")] = 0,
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 10,
    profile: Annotated[
        str | None, typer.Option(help="The profile it counts for in `report` (default: the dataset's).")
    ] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda[:N] or auto.")] = "cpu",
    out: _RUNS = None,
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
) -> None:
    """Evaluate a policy trained anywhere (saved with torch.jit.save or torch.export.save, or by d3rlpy) as the
    built-ins are evaluated, and file its result where `report` reads it (docs/ALGORITHMS.md)."""
    import warnings

    from lompo_bench.algorithms.external_policy import ClippedActionsWarning, clipped_warning, episodes_warning
    from lompo_bench.algorithms.external_policy import evaluate_policy_file as run_evaluation

    with _stage_progress() as bars, warnings.catch_warnings():
        warnings.simplefilter("ignore", ClippedActionsWarning)  # said once below, in one line
        record, path = run_evaluation(
            policy_file, dataset, algo=algo, seed=seed, episodes=episodes, profile=profile, device=device, root=out,
            overwrite=overwrite, progress=bars, policy_format=policy_format, frame_stack=frame_stack,
        )  # fmt: skip
    _print_result(record)
    console.print(f"written: {path}", soft_wrap=True, markup=False)
    for line in (clipped_warning(record), episodes_warning(record)):
        if line is not None:
            typer.echo(f"Warning: {line}", err=True)


@app.command()
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
    device: _DEVICE = "auto",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the values to this JSON file.")] = None,
) -> None:
    """Is a world model good enough for the policy phase? Its fit and LOMPO's penalty on held-out episodes."""
    from lompo_bench.algorithms.diagnostics import FIT, IN_TASK, table
    from lompo_bench.algorithms.jobs import diagnose as run_diagnose
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
    console.print(grid)
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


@app.command()
def runs(runs: _RUNS_IN = None) -> None:
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
    console.print(table)


@app.command()
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
    out: Annotated[Path, typer.Option("--to", help="Folder for scores.json and the tables.")] = Path("leaderboard_out"),
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
) -> None:
    """Rebuild the paper's Table I (ours beside the paper's numbers) and the ablation from finished runs; with
    --html, also as a static site."""
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
            f"site: {site.index} ({site.pages} pages, {site.previews} previews, {_size(site.bytes)}, built in "
            f"{site.seconds:.1f} s)",
            soft_wrap=True,
            markup=False,
        )


@app.command()
def reproduce(
    profile: _PROFILE = "cpu",
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
    device: _DEVICE = "auto",
    runs: _RUNS_IN = None,
    out: Annotated[Path, typer.Option("--to", help="Folder for scores.json and the tables.")] = Path("leaderboard_out"),
) -> None:
    """Generate the datasets, train every algorithm on them and rebuild Table I: every job resumes, done ones are
    skipped, so rerun the same command after an interruption."""
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

        with _stage_progress() as bars:
            ran = execute(jobs, runs, progress=bars, on_job=announce, device=device)
        failed = 0
    result = build_report(root, out, profile=profile)
    console.print(result.table_one, soft_wrap=True, markup=False)
    console.print(f"{ran} jobs run, {len(jobs) - ran - failed} were done; tables in {out}", soft_wrap=True)
    if failed:
        console.print(f"{failed} jobs failed or could not run (see above); rerun the command to retry them")
        raise typer.Exit(1)


@app.command()
def bench(
    profile: Annotated[
        list[str] | None, typer.Option("--profile", help="LOMPO profile to measure (repeatable); default: cpu, paper.")
    ] = None,
    updates: Annotated[int, typer.Option(help="Timed repeats of each measurement (their median is shown).")] = 3,
    dataset: Annotated[
        str | None, typer.Option(help="A local dataset id: also measure the data path's wait on it.")
    ] = None,
    device: _DEVICE = "auto",
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


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())


if __name__ == "__main__":
    main()
