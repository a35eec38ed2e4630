"""`tasks`, `tasks show` and `demo`: the registered tasks, a look at one, and the end-to-end demo on them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lompo_bench.cli.common import console, print_table
from lompo_bench.errors import UserError


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
    print_table(table)


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
