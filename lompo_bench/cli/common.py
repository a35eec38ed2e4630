"""What the command modules share: the console, progress bars for staged jobs, sizes, a run's result line, and the
options that recur (algorithm, dataset, profile, seed, device, --set, and the folder flags).

Folder flags, one rule: `--runs` is always the runs folder a command reads or adds runs to; `--out` is always what
the command makes (a file or a folder, created when missing). Other outputs are named by what they are (`--html`,
`--json`, `--emit-jobs`). Older spellings (`--out` for the runs folder of train and evaluate, `--to` for report's and
reproduce's tables) still work, hidden from the help.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from lompo_bench.errors import UserError

console = Console()


def print_table(table: Any) -> None:
    """Print a rich table at no less than its natural width, so that a pipe or log file (which report 80 columns)
    never gets truncated or vanished columns: a terminal at least that wide shows it as before."""
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update_width(10_000), table).maximum
    (console if console.width >= width else Console(width=width)).print(table)


@contextmanager
def stage_progress() -> Iterator[Any]:
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


def size_text(n_bytes: int) -> str:
    """A byte count for people: 512 B, 1.5 MB."""
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return ""


ALGO = Annotated[
    str,
    typer.Option("--algo", help="Algorithm: a name (see `lompo-bench algos`) or package.module[:object] on the path."),
]
DATASET = Annotated[str, typer.Option("--dataset", help="Dataset id (see `lompo-bench datasets list`).")]
PROFILE = Annotated[str, typer.Option(help="smoke (seconds), cpu (< 1 h on 2 cores) or paper (paper sizes).")]
SEED = Annotated[int, typer.Option(help="Seed of the run (network init, batches, evaluation).")]
DEVICE = Annotated[str, typer.Option(help="auto (the GPU when there is one), cpu or cuda[:N].")]
SET = Annotated[
    list[str] | None,
    typer.Option("--set", help="Change a config setting, key=value (repeatable); such a run gets its own folder."),
]

# -- folder flags (the rule is in the module's docstring) ------------------------------------------------------------
RUNS = Annotated[Path | None, typer.Option("--runs", help="Runs folder; default: $LOMPO_BENCH_HOME/runs.")]
RUNS_AS_OUT = Annotated[Path | None, typer.Option("--out", hidden=True, help="Old spelling of --runs.")]
TABLES_OUT = Annotated[Path, typer.Option("--out", help="Folder for scores.json and the tables (created).")]
TABLES_AS_TO = Annotated[Path | None, typer.Option("--to", hidden=True, help="Old spelling of --out.")]


def flag_or_alias(value: Path | None, old: Path | None, flag: str, old_flag: str) -> Path | None:
    """The folder given by `flag` or by its old spelling `old_flag` (not both)."""
    if value is not None and old is not None:
        raise UserError(f"give {flag} once: {old_flag} is its old spelling")
    return value if value is not None else old


def print_result(record: dict[str, Any]) -> None:
    """A run's evaluation in one line: return, episodes, normalized score."""
    score = record["normalized_score"]
    score_text = "no expert reference" if score is None else f"normalized score {score:.1f}"
    provisional = " (provisional reference)" if score is not None and record["reference_provisional"] else ""
    console.print(
        f"{record['algo']} on {record['dataset_id']} ({record['profile']}, seed {record['seed']}): "
        f"return {record['mean_return']:.1f} +- {record['std_return']:.1f} over {record['episodes']} episodes, "
        f"{score_text}{provisional}",
        soft_wrap=True,
    )
