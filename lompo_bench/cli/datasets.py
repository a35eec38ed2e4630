"""The dataset verbs: `generate`, `download`, `datasets list|info|verify|preview|pack|publish` and `import vd4rl`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lompo_bench.cli.common import console, print_table, size_text, stage_progress
from lompo_bench.errors import UserError


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
    with stage_progress() as bars:
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
            size_text(s.bytes_on_disk),
            s.profile,
            flag,
            "built" if s.cached else "-",
        )
    print_table(table)


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


def datasets_verify(dataset_id: Annotated[str, typer.Argument(help="Dataset id.")]) -> None:
    """Integrity: shapes, dtypes, episode boundaries, step counts, and the cache's checksums. Exit 2 on problems."""
    from lompo_bench.data.inspect import verify

    problems = verify(dataset_id)
    if problems:
        for problem in problems:
            typer.echo(f"{dataset_id}: {problem}", err=True)
        raise typer.Exit(code=2)
    console.print(f"{dataset_id}: ok", soft_wrap=True)


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
        f"{made.episode_frames} frames (every {made.stride}), {made.width}x{made.height} px, {size_text(made.bytes)}",
        soft_wrap=True,
        markup=False,
    )


def datasets_pack(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id.")],
    out: Annotated[Path, typer.Option(help="Folder for the archive and manifest.json (what a server serves).")] = Path(
        "lompo_share"
    ),
) -> None:
    """Archive a local dataset and add it to a manifest, so that anyone can host it for `download`."""
    from lompo_bench.data.download import pack

    entry = pack(dataset_id, out)
    console.print(f"{out / entry['url']}: {size_text(entry['size'])}, sha256 {entry['sha256']}", soft_wrap=True)


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
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from lompo_bench.data.download import fetch_dataset

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        bars: list[Any] = []  # the byte bar, made when an HTTP download starts (a Minari remote reports no bytes)

        def advance(done: int, total: int) -> None:
            if not bars:
                bars.append(progress.add_task(dataset_id, total=None))
            progress.update(bars[0], completed=done, total=total)

        path = fetch_dataset(
            dataset_id, remote, base_url, progress=advance, say=lambda line: console.print(line, soft_wrap=True)
        )
    console.print(f"{dataset_id} installed in {path}", soft_wrap=True)


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
        f"{dataset_id}: checks passed; {len(files)} files, {size_text(sum(size for _, size in files))} to {target}:",
        soft_wrap=True,
    )
    for path, size in files:
        console.print(f"  {path}  {size_text(size)}", soft_wrap=True, markup=False)
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
