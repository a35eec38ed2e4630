"""The `lompo-bench` command line. Each command parses, calls one library function and prints.

This module is the command table: the Typer app, its groups, which function each verb runs, and the error handling
they share. The commands live by verb group: `tasks.py` (tasks, tasks show, demo), `datasets.py` (generate,
download, datasets ..., import ...), `training.py` (algos, train, evaluate, evaluate-policy, diagnose, runs, bench)
and `leaderboard.py` (report, reproduce); `common.py` holds what they share (console, progress bars, recurring
options, the folder-flag rule).

Errors a user can cause (`UserError`: unknown task, bad value) end in one line on stderr and exit code 2;
Click's own usage errors (unknown flag, missing argument) also exit with 2.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

from lompo_bench.cli import datasets, leaderboard, tasks, training
from lompo_bench.errors import UserError, os_error_line

__all__ = ["app", "main"]


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

# -- the verbs, in the order `lompo-bench --help` lists them ---------------------------------------------------------
tasks_app.callback(invoke_without_command=True)(tasks.tasks)
tasks_app.command("show")(tasks.tasks_show)
app.command("demo")(tasks.demo)

app.command("generate")(datasets.generate)
app.command("download")(datasets.download)
datasets_app.command("list")(datasets.datasets_list)
datasets_app.command("info")(datasets.datasets_info)
datasets_app.command("verify")(datasets.datasets_verify)
datasets_app.command("preview")(datasets.datasets_preview)
datasets_app.command("pack")(datasets.datasets_pack)
datasets_app.command("publish")(datasets.datasets_publish)
import_app.command("vd4rl")(datasets.import_vd4rl)

app.command("algos")(training.algos)
app.command("train")(training.train)
app.command("evaluate")(training.evaluate)
app.command("evaluate-policy")(training.evaluate_policy_file)
app.command("diagnose")(training.diagnose)
app.command("runs")(training.runs)

app.command("report")(leaderboard.report)
app.command("reproduce")(leaderboard.reproduce)

app.command("bench")(training.bench)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
