"""Stage three of the leaderboard: score cells -> the paper's Table I with our numbers beside the paper's, and the
Appendix B dataset-size ablation. Markdown for reading, CSV for analysis. No torch needed.

Every algorithm with records gets a column: the paper's five first, then the others, marked "not in the paper"
(their cells have no paper number). A Table I dataset whose records come from more than one content of its id
(`ScoreCell.dataset_fingerprint`: a regenerated dataset, or old records without a fingerprint beside new ones) gets
one row per content, marked: scores of different data are never put in one row or cell.

Records of another evaluation episode count than the profile's standard (10 per seed; `ScoreCell.episodes`) are
never pooled with the standard ones: where an algorithm has a standard cell on a row, that cell is shown and the
others are listed apart under the table; where it has none, its cell of the most episodes is shown, marked
(`EPISODES_MARK`), and any other listed apart. A cell whose records' policies returned actions outside [-1, 1]
(the task clipped them; `ScoreCell.clipped_actions`) is marked too (`CLIPPED_MARK`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from lompo_bench.leaderboard.paper import ALGORITHMS, TABLE_I, TASK_TITLES, algorithm_order, algorithm_title
from lompo_bench.leaderboard.results import ScoreCell
from lompo_bench.leaderboard.stats import mean_ci
from lompo_bench.records import STANDARD_EPISODES

MISSING = "-"
REFERENCE_MARK = "‡"  # a cell of the repository's reference records, shown beside the user's runs
EPISODES_MARK = "◊"  # a cell of records evaluated on another episode count than the profile's standard
CLIPPED_MARK = "§"  # a cell whose policies returned actions outside [-1, 1], which the task clipped
NOT_IN_PAPER = ""  # the paper number of an algorithm the paper did not run (CSV)


def _format(cell: ScoreCell | None) -> str:
    if cell is None:
        return MISSING
    if cell.mean is None:  # no expert reference: the mean return instead, marked
        return f"R {sum(cell.returns) / len(cell.returns):.1f}"
    text = f"{cell.mean:.1f}"
    if len(cell.scores) > 1:
        low, high = mean_ci(cell.scores)
        text += f" [{low:.1f}, {high:.1f}]"
    return text + _marks(cell)


def _marks(cell: ScoreCell) -> str:
    return (
        ("†" if cell.provisional else "")
        + (REFERENCE_MARK if cell.reference else "")
        + (EPISODES_MARK if not cell.standard else "")
        + (CLIPPED_MARK if cell.clipped_actions else "")
    )


def _shown_first(cell: ScoreCell) -> tuple[bool, int]:
    return not cell.standard, -(cell.episodes or 0)  # the standard count first, then the most episodes


def _split_apart(cells: Sequence[ScoreCell]) -> tuple[list[ScoreCell], list[ScoreCell]]:
    """The cells a table shows (one per algorithm, profile and dataset content: the standard episode count's, else
    the one of the most episodes), in their order, and the others, listed apart."""
    groups: dict[tuple[str, str, str, str], list[ScoreCell]] = {}
    for cell in cells:
        groups.setdefault((cell.algo, cell.profile, cell.dataset_id, cell.dataset_fingerprint or ""), []).append(cell)
    shown = {id(min(group, key=_shown_first)) for group in groups.values()}
    return [c for c in cells if id(c) in shown], [c for c in cells if id(c) not in shown]


def _apart_line(cell: ScoreCell) -> str:
    where = f"{TASK_TITLES.get(cell.task, cell.task)} {cell.kind or cell.dataset_id}"
    if cell.ablation_factor is not None:
        where = f"{cell.dataset_id}"
    seeds = f"{len(cell.seeds)} seed{'s' if len(cell.seeds) != 1 else ''}"
    return f"- {where}, {algorithm_title(cell.algo)}: {_format(cell)} ({seeds} of {cell.episodes} episodes)"


def _notes(shown: Sequence[ScoreCell], apart: Sequence[ScoreCell], profile: str) -> list[str]:
    """The footnotes of the episode count and clipped-action marks, and the cells listed apart."""
    lines = []
    if any(not c.standard for c in [*shown, *apart]):
        standard = STANDARD_EPISODES.get(profile)
        lines.append(
            f"{EPISODES_MARK}: records evaluated on another episode count than the profile's standard {standard} per "
            f"seed (e.g. `evaluate-policy --episodes 2`), never pooled with {standard}-episode records; shown only "
            f"where an algorithm has no {standard}-episode records of the dataset."
        )
    if any(c.clipped_actions for c in [*shown, *apart]):
        lines.append(
            f"{CLIPPED_MARK}: the policy returned actions outside [-1, 1], which the task clipped "
            "(`clipped_actions` in its result.json counts the action components)."
        )
    if apart:
        lines += ["", "Listed apart (another episode count than a cell shown above for the same algorithm and data):"]
        lines += [_apart_line(c) for c in apart]
    return lines


def _draw_order(cell: ScoreCell) -> tuple[bool, str]:
    return cell.dataset_fingerprint is None, cell.dataset_fingerprint or ""  # fingerprinted first, old ones last


@dataclass(frozen=True)
class TableRow:
    """One row of Table I: a dataset of the paper's, on one content of its id."""

    task: str
    kind: str
    fingerprint: str | None
    label: str  # the dataset column: the kind, with the content marked when the id has more than one
    cells: dict[str, ScoreCell] = field(default_factory=dict)  # algo -> our cell

    @property
    def name(self) -> str:
        return f"{self.task} {self.label}"


def ablation_lines(cells: Sequence[ScoreCell]) -> list[tuple[str, str, dict[int, ScoreCell]]]:
    """The ablation's rows (figure lines): (label, algo, factor -> cell) per algorithm, and per dataset content
    where one dataset id has records of more than one (the i-th content of each factor, fingerprinted ones first;
    marked in the label), so that no cell pools two contents."""
    out = []
    for algo in algorithm_order(c.algo for c in cells):
        by_factor: dict[int, list[ScoreCell]] = {}
        for cell in sorted((c for c in cells if c.algo == algo), key=_draw_order):
            by_factor.setdefault(int(cell.ablation_factor or 0), []).append(cell)
        draws = max(len(found) for found in by_factor.values())
        for i in range(draws):
            line = {factor: found[i] for factor, found in by_factor.items() if i < len(found)}
            marks = sorted({cell.draw_label for cell in line.values()})
            label = algorithm_title(algo) + (f" ({', '.join(marks)})" if draws > 1 else "")
            out.append((label, algo, line))
    return out


@dataclass(frozen=True, eq=False)
class Tables:
    """The tables of one set of score cells, for algorithms run with `profile` on datasets of `dataset_profile`:
    Table I (cells, rows, columns, Markdown, CSV) and the Appendix B ablation. Each part is worked out once."""

    cells: Sequence[ScoreCell]
    profile: str
    dataset_profile: str

    # -- Table I --------------------------------------------------------------------------------------------------
    @cached_property
    def _table_one_split(self) -> tuple[list[ScoreCell], list[ScoreCell]]:
        candidates = [
            c
            for c in self.cells
            if c.profile == self.profile
            and c.dataset_profile == self.dataset_profile
            and c.dataset_source == "lompo-bench"
            and c.ablation_factor is None
            and c.kind is not None
        ]
        return _split_apart(candidates)

    @property
    def table_one_cells(self) -> list[ScoreCell]:
        """Our cells of Table I: generated (not imported, not ablation) datasets of `dataset_profile`, algorithms
        run with `profile`, every algorithm; one per algorithm and dataset content (`table_one_apart`: the
        others)."""
        return self._table_one_split[0]

    @property
    def table_one_apart(self) -> list[ScoreCell]:
        """Table I's cells listed apart: records of another episode count than the standard beside a cell shown."""
        return self._table_one_split[1]

    @cached_property
    def table_one_table(self) -> list[TableRow]:
        """Table I's rows in the paper's order, one per dataset content (one per dataset when its records agree on
        it, as they always do for a dataset that was never regenerated)."""
        ours = self.table_one_cells
        rows = []
        for task, kind in TABLE_I:
            mine = sorted((c for c in ours if (c.task, c.kind) == (task, kind)), key=_draw_order)
            draws = list(dict.fromkeys(c.dataset_fingerprint for c in mine)) or [None]
            for draw in draws:
                here = {c.algo: c for c in mine if c.dataset_fingerprint == draw}
                label = kind if len(draws) == 1 else f"{kind} ({next(iter(here.values())).draw_label})"
                rows.append(TableRow(task, kind, draw, label, here))
        return rows

    @cached_property
    def table_one_algorithms(self) -> list[str]:
        """Table I's columns: the paper's five, then every other algorithm with a Table I cell."""
        return algorithm_order([*ALGORITHMS, *(c.algo for c in self.table_one_cells)])

    @cached_property
    def table_one_rows(self) -> list[dict[str, str]]:
        """Table I's rows in the paper's order: for each algorithm, ours and the paper's normalized score ("" for
        an algorithm the paper did not run)."""
        algos = self.table_one_algorithms
        rows = []
        for table_row in self.table_one_table:
            paper = TABLE_I[table_row.task, table_row.kind]
            row = {
                "environment": TASK_TITLES[table_row.task],
                "dataset": table_row.label,
                "dataset_fingerprint": table_row.fingerprint or "",
            }
            for algo in algos:
                cell = table_row.cells.get(algo)
                row[algo] = _format(cell)
                row[f"{algo}_seeds"] = str(len(cell.seeds)) if cell is not None else "0"
                row[f"{algo}_paper"] = f"{paper[algo]:.1f}" if algo in paper else NOT_IN_PAPER
            rows.append(row)
        return rows

    def table_one_markdown(self) -> str:
        profile, algos, table = self.profile, self.table_one_algorithms, self.table_one_table
        titles = [algorithm_title(a) for a in algos]
        lines = [
            f"Table I, normalized scores: ours (algorithms `{profile}`, datasets `{self.dataset_profile}`; mean over "
            "seeds [95% bootstrap CI]) / the paper's.",
            "",
            "| Environment | Dataset | " + " | ".join(titles) + " |",
            "|---|---|" + "---|" * len(titles),
        ]
        for row in self.table_one_rows:
            cells_text = [f"{row[a]} / {row[a + '_paper']}" if row[a + "_paper"] else row[a] for a in algos]
            lines.append(f"| {row['environment']} | {row['dataset']} | " + " | ".join(cells_text) + " |")
        lines += [
            "",
            f"{MISSING}: not run yet. †: the expert reference behind the score is provisional (not a paper-profile "
            "expert). R: no expert reference, mean return shown.",
        ]
        if any(a not in ALGORITHMS for a in algos):
            lines.append("Not in the paper: algorithms the paper did not run; their cells show our score alone.")
        if any(c.reference for row in table for c in row.cells.values()):
            lines.append(
                f"{REFERENCE_MARK}: the repository's reference records (leaderboard/results/), beside your runs; a "
                "cell you have runs of shows yours alone."
            )
        if any(row.label != row.kind for row in table):
            lines.append(
                "data XXXXXXXX / old data draw: records of one dataset id made on different contents (the dataset "
                "was regenerated; old records carry no fingerprint); each content has its own row, never pooled."
            )
        lines += _notes(self.table_one_cells, self.table_one_apart, profile)
        return "\n".join(lines) + "\n"

    def table_one_csv(self) -> str:
        rows = self.table_one_rows
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()

    # -- Appendix B's ablation ------------------------------------------------------------------------------------
    @cached_property
    def _ablation_split(self) -> tuple[list[ScoreCell], list[ScoreCell]]:
        candidates = [
            c
            for c in self.cells
            if c.ablation_factor is not None and c.profile == self.profile and c.dataset_profile == self.dataset_profile
        ]
        return _split_apart(candidates)

    @property
    def ablation_cells(self) -> list[ScoreCell]:
        """The ablation's cells, one per algorithm and dataset content (as `table_one_cells`)."""
        return self._ablation_split[0]

    def ablation_markdown(self) -> str:
        """Appendix B: D'Claw medium-expert datasets of decreasing size (mixed from 3 SAC runs, then /5 and /25)."""
        profile, dataset_profile, ablation = self.profile, self.dataset_profile, self.ablation_cells
        factors = sorted({c.ablation_factor for c in ablation})
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
        for label, _, line in ablation_lines(ablation):
            lines.append(f"| {label} | " + " | ".join(_format(line.get(f)) for f in factors) + " |")
        if any(c.reference for c in ablation):
            reference = "the repository's reference records (leaderboard/results/), beside your runs."
            reference = f"{REFERENCE_MARK}: {reference}"
            lines += ["", reference]
        notes = _notes(ablation, self._ablation_split[1], profile)
        lines += ["", *notes] if notes else []
        return "\n".join(lines) + "\n"


# The same, one function a part, for callers holding the three separately.
def table_one_cells(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[ScoreCell]:
    return Tables(cells, profile, dataset_profile).table_one_cells


def table_one_apart(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[ScoreCell]:
    return Tables(cells, profile, dataset_profile).table_one_apart


def table_one_table(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[TableRow]:
    return Tables(cells, profile, dataset_profile).table_one_table


def table_one_algorithms(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[str]:
    return Tables(cells, profile, dataset_profile).table_one_algorithms


def table_one_rows(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[dict[str, str]]:
    return Tables(cells, profile, dataset_profile).table_one_rows


def table_one_markdown(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> str:
    return Tables(cells, profile, dataset_profile).table_one_markdown()


def table_one_csv(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> str:
    return Tables(cells, profile, dataset_profile).table_one_csv()


def ablation_cells(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> list[ScoreCell]:
    return Tables(cells, profile, dataset_profile).ablation_cells


def ablation_markdown(cells: Sequence[ScoreCell], profile: str, dataset_profile: str) -> str:
    return Tables(cells, profile, dataset_profile).ablation_markdown()
