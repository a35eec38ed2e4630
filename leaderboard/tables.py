"""Stage three of the leaderboard: score cells -> the paper's Table I with our numbers beside the paper's, and the
Appendix B dataset-size ablation. Markdown for reading, CSV for analysis. No torch needed."""

from __future__ import annotations

import csv
import io

from leaderboard.paper import ALGORITHM_TITLES, ALGORITHMS, TABLE_I, TASK_TITLES
from leaderboard.results import ScoreCell
from leaderboard.stats import mean_ci

MISSING = "-"


def _format(cell: ScoreCell | None) -> str:
    if cell is None:
        return MISSING
    if cell.mean is None:  # no expert reference: the mean return instead, marked
        return f"R {sum(cell.returns) / len(cell.returns):.1f}"
    text = f"{cell.mean:.1f}"
    if len(cell.scores) > 1:
        low, high = mean_ci(cell.scores)
        text += f" [{low:.1f}, {high:.1f}]"
    return text + ("†" if cell.provisional else "")


def table_one_cells(
    cells: list[ScoreCell], profile: str, dataset_profile: str
) -> dict[tuple[str, str, str], ScoreCell]:
    """Our cells of Table I: generated (not imported, not ablation) datasets of `dataset_profile`, algorithms run
    with `profile`; keyed by (task, kind, algo)."""
    return {
        (c.task, c.kind, c.algo): c
        for c in cells
        if c.profile == profile
        and c.dataset_profile == dataset_profile
        and c.dataset_source == "lompo-bench"
        and c.ablation_factor is None
        and c.kind is not None
    }


def table_one_rows(cells: list[ScoreCell], profile: str, dataset_profile: str) -> list[dict[str, str]]:
    """Table I's rows in the paper's order: for each algorithm, ours and the paper's normalized score."""
    ours = table_one_cells(cells, profile, dataset_profile)
    rows = []
    for (task, kind), paper in TABLE_I.items():
        row = {"environment": TASK_TITLES[task], "dataset": kind}
        for algo in ALGORITHMS:
            row[f"{algo}"] = _format(ours.get((task, kind, algo)))
            row[f"{algo}_seeds"] = str(len(ours[(task, kind, algo)].seeds)) if (task, kind, algo) in ours else "0"
            row[f"{algo}_paper"] = f"{paper[algo]:.1f}"
        rows.append(row)
    return rows


def table_one_markdown(cells: list[ScoreCell], profile: str, dataset_profile: str) -> str:
    rows = table_one_rows(cells, profile, dataset_profile)
    titles = [ALGORITHM_TITLES[a] for a in ALGORITHMS]
    lines = [
        f"Table I, normalized scores: ours (algorithms `{profile}`, datasets `{dataset_profile}`; mean over seeds "
        "[95% bootstrap CI]) / the paper's.",
        "",
        "| Environment | Dataset | " + " | ".join(titles) + " |",
        "|---|---|" + "---|" * len(titles),
    ]
    for row in rows:
        cells_text = [f"{row[a]} / {row[a + '_paper']}" for a in ALGORITHMS]
        lines.append(f"| {row['environment']} | {row['dataset']} | " + " | ".join(cells_text) + " |")
    lines += [
        "",
        f"{MISSING}: not run yet. †: the expert reference behind the score is provisional (not a paper-profile "
        "expert). R: no expert reference, mean return shown.",
    ]
    return "\n".join(lines) + "\n"


def table_one_csv(cells: list[ScoreCell], profile: str, dataset_profile: str) -> str:
    rows = table_one_rows(cells, profile, dataset_profile)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def ablation_markdown(cells: list[ScoreCell], profile: str, dataset_profile: str) -> str:
    """Appendix B: D'Claw medium-expert datasets of decreasing size (mixed from 3 SAC runs, then /5 and /25)."""
    ablation = [
        c
        for c in cells
        if c.ablation_factor is not None and c.profile == profile and c.dataset_profile == dataset_profile
    ]
    factors = sorted({c.ablation_factor for c in ablation})
    by_key = {(c.algo, c.ablation_factor): c for c in ablation}
    sizes = {c.ablation_factor: c.dataset_transitions for c in ablation}
    header = [f"1/{f} ({sizes[f]} transitions)" if f != 1 else f"full ({sizes[f]} transitions)" for f in factors]
    lines = [
        f"Appendix B, D'Claw Screw medium-expert by dataset size: normalized scores (algorithms `{profile}`, "
        f"datasets `{dataset_profile}`). The paper publishes this only as a figure.",
        "",
    ]
    if not ablation:
        return (
            "\n".join(lines + ["No ablation runs yet (`lompo-bench generate --env dclaw --ablation`, then train)."])
            + "\n"
        )
    lines += ["| Algorithm | " + " | ".join(header) + " |", "|---|" + "---|" * len(factors)]
    for algo in ALGORITHMS:
        if any((algo, f) in by_key for f in factors):
            lines.append(
                f"| {ALGORITHM_TITLES[algo]} | " + " | ".join(_format(by_key.get((algo, f))) for f in factors) + " |"
            )
    return "\n".join(lines) + "\n"
