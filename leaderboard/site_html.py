"""The leaderboard site's HTML pieces (`leaderboard.site`): the small helpers every page uses (`esc`, `fmt_value`,
`kv_table`, the algorithms' titles, `markdown_html`, `page_html`: the frame of a page), Table I with its claims marks
(`table_one_html`, `claim_marks`, `Mark`), the claims' verdicts (`claims_html`) and the table of runs
(`runs_table_html`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from lompo_bench.leaderboard.claims import (
    CLAIMS,
    FAILS,
    HOLDS,
    MIN_SEEDS,
    MODEL_BASED,
    check_claims,
    compare,
    lompo_beats_cql_and_bc_mostly,
    lompo_beats_model_based_everywhere,
)
from lompo_bench.leaderboard.paper import ALGORITHM_TITLES, ALGORITHMS, OTHER_TITLES, TABLE_I, TASK_TITLES
from lompo_bench.leaderboard.results import ScoreCell
from lompo_bench.leaderboard.site_records import Gathered, SiteRun, cell_key_of, slugify
from lompo_bench.leaderboard.tables import CLIPPED_MARK, EPISODES_MARK, Tables
from lompo_bench.records import STANDARD_EPISODES

if TYPE_CHECKING:  # only for the annotations: the dataset pages use these helpers
    from lompo_bench.leaderboard.site_datasets import DatasetPage

NOT_RUN = "not run yet"


# ----- small HTML helpers -----


def esc(value: Any) -> str:
    return escape(str(value))


def fmt_value(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def algo_title(algo: str) -> str:
    return ALGORITHM_TITLES.get(algo) or OTHER_TITLES.get(algo, algo)


def algo_html(algo: str) -> str:
    tag = (
        "" if algo in ALGORITHMS else ' <span class="tag new" title="the paper did not run it">not in the paper</span>'
    )
    return esc(algo_title(algo)) + tag


def kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; values are HTML already."""
    return '<table class="kv">' + "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def markdown_html(text: str) -> str:
    """The report's Markdown (paragraphs, pipe tables, `code`) as HTML, so the site shows its text as it is."""

    def inline(line: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(line))

    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.splitlines() if line.strip()]
        if lines and all(line.lstrip().startswith("|") for line in lines):
            cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
            body = [row for row in cells[1:] if not all(set(c) <= set("-: ") for c in row)]
            out.append(
                '<div class="table-wrap"><table class="data"><thead><tr>'
                + "".join(f"<th>{inline(c)}</th>" for c in cells[0])
                + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in row) + "</tr>" for row in body)
                + "</tbody></table></div>"
            )
        elif lines:
            out.append("<p>" + "<br>".join(inline(line) for line in lines) + "</p>")
    return "\n".join(out)


def page_html(title: str, body: str, depth: int, scripts: bool = False) -> str:
    up = "../" * depth
    script = f'<script src="{up}assets/site.js" defer></script>' if scripts else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="{up}assets/site.css">'
        # An inline icon: without one, a browser asks the host for /favicon.ico (an error on file://).
        '<link rel="icon" href="data:,">'
        f"{script}</head><body>"
        f'<header class="top"><a class="brand" href="{up}index.html">lompo-bench leaderboard</a>'
        f'<a href="{up}index.html#table-one">Table I</a><a href="{up}index.html#claims">Claims</a>'
        f'<a href="{up}index.html#datasets">Datasets</a><a href="{up}index.html#runs">Runs</a></header>'
        f"<main>{body}</main></body></html>\n"
    )


# ----- Table I -----


@dataclass(frozen=True)
class Mark:
    """A claims mark on a cell: how LOMPO's interval stands to this cell's (`claims.compare`), in which claim."""

    outcome: str  # above / below / tie (LOMPO's against this cell's)
    claim: int  # 1-based index in `claims.CLAIMS`
    detail: str


def _claim_number(check: Callable[..., Any]) -> int:
    return CLAIMS.index(check) + 1 if check in CLAIMS else 0


def claim_marks(row: Any) -> dict[str, list[Mark]]:
    """algo -> marks, for the cells of one Table I row that a claim compares with LOMPO's (claims 1 and 2: the
    model-based baselines, CQL and BC), where both have `MIN_SEEDS`+ seeds."""
    marks: dict[str, list[Mark]] = {}
    lompo = row.cells.get("lompo")
    for other in (*MODEL_BASED, "cql", "bc"):
        outcome = compare(lompo, row.cells.get(other))
        if outcome is None:
            continue
        check = lompo_beats_model_based_everywhere if other in MODEL_BASED else lompo_beats_cql_and_bc_mostly
        word = {"above": "above", "below": "below", "tie": "tied with"}[outcome]
        detail = f"LOMPO's 95% CI is {word} {algo_title(other)}'s on {row.name}"
        marks.setdefault(other, []).append(Mark(outcome, _claim_number(check), detail))
    return marks


def _mark_html(mark: Mark) -> str:
    text = {"above": "LOMPO above", "below": "LOMPO below", "tie": "tie with LOMPO"}[mark.outcome]
    anchor = f"#claim-{mark.claim}" if mark.claim else "#claims"
    return f'<a class="mark {mark.outcome}" href="{anchor}" title="{esc(mark.detail)}">{esc(text)}</a>'


def _runs_by_cell(runs: Sequence[SiteRun]) -> dict[tuple[Any, ...], list[SiteRun]]:
    by_cell: dict[tuple[Any, ...], list[SiteRun]] = {}
    for run in sorted(runs, key=lambda r: (r.record["seed"], r.slug)):
        by_cell.setdefault(run.cell_key, []).append(run)
    return by_cell


def _seed_links(runs: Sequence[SiteRun], up: str = "") -> str:
    return "".join(
        f'<a href="{up}{run.page}" title="seed {run.record["seed"]}">s{run.record["seed"]}</a>' for run in runs
    )


def _cell_value(cell: ScoreCell) -> float:
    if cell.mean is not None:
        return cell.mean
    return sum(cell.returns) / len(cell.returns) if cell.returns else float("nan")


def table_one_html(gathered: Gathered, tables: Tables, datasets: dict[str, DatasetPage]) -> str:
    """Table I of `tables` (`gathered`'s cells) as HTML, its cells linked to their runs and datasets."""
    profile, dataset_profile = tables.profile, tables.dataset_profile
    algos = tables.table_one_algorithms
    table = tables.table_one_table
    texts = tables.table_one_rows  # the Markdown table's text, row for row
    by_cell = _runs_by_cell(gathered.runs)
    head = "".join(
        f'<th class="algo" data-algo="{esc(a)}" title="sort by this column">{algo_html(a)}<span class="sort"></span>'
        "</th>"
        for a in algos
    )
    body = []
    for i, (row, text) in enumerate(zip(table, texts, strict=True)):
        marks = claim_marks(row)
        ids = {c.dataset_id for c in row.cells.values()}
        dataset = text["dataset"]
        if len(ids) == 1 and next(iter(ids)) in datasets:
            dataset = f'<a href="{datasets[next(iter(ids))].page}">{esc(text["dataset"])}</a>'
        else:
            dataset = esc(dataset)
        tds = [f"<td>{esc(text['environment'])}</td>", f"<td>{dataset}</td>"]
        for algo in algos:
            cell = row.cells.get(algo)
            paper = text[f"{algo}_paper"]
            paper_html = f' <span class="paper" title="the paper\'s">/ {esc(paper)}</span>' if paper else ""
            anchor = f"cell-{i}-{slugify(algo)}"
            if cell is None:
                tds.append(
                    f'<td class="cell empty" id="{anchor}" data-algo="{esc(algo)}" data-value="">'
                    f"{NOT_RUN}{paper_html}</td>"
                )
                continue
            runs = by_cell.get(cell_key_of(cell), [])
            flags = "".join(_mark_html(m) for m in marks.get(algo, []))
            ref = ' <span class="tag ref" title="the repository\'s reference records">reference</span>' * cell.reference
            tds.append(
                f'<td class="cell" id="{anchor}" data-algo="{esc(algo)}" data-value="{_cell_value(cell):.4f}">'
                f'<span class="ours" title="ours: mean over seeds [95% bootstrap CI]">{esc(text[algo])}</span>'
                f"{paper_html}{ref}<div>{flags}</div>"
                f'<div class="seeds">{len(runs)} seed{"s" * (len(runs) != 1)}: {_seed_links(runs)}</div></td>'
            )
        ran = "1" if row.cells else "0"
        body.append(
            f'<tr data-task="{esc(row.task)}" data-kind="{esc(row.kind)}" data-ran="{ran}">' + "".join(tds) + "</tr>"
        )
    tasks = list(dict.fromkeys(task for task, _ in TABLE_I))
    kinds = list(dict.fromkeys(kind for _, kind in TABLE_I))
    filters = (
        '<div class="filters">'
        '<label>Task <select id="filter-task"><option value="">all</option>'
        + "".join(f'<option value="{esc(t)}">{esc(TASK_TITLES.get(t, t))}</option>' for t in tasks)
        + '</select></label><label>Dataset <select id="filter-kind"><option value="">all</option>'
        + "".join(f'<option value="{esc(k)}">{esc(k)}</option>' for k in kinds)
        + '</select></label><label><input type="checkbox" id="filter-ran"> rows with runs only</label>'
        + "<span>Algorithms: "
        + " ".join(
            f'<label><input type="checkbox" class="algo-toggle" data-algo="{esc(a)}" checked> {esc(algo_title(a))}'
            "</label>"
            for a in algos
        )
        + '</span><button type="button" id="filter-reset">reset</button></div>'
    )
    legend = [
        f"Ours: mean normalized score over seeds [95% bootstrap CI] (algorithms <code>{esc(profile)}</code>, "
        f"datasets <code>{esc(dataset_profile)}</code>), then the paper's number after the slash. "
        f"<em>{NOT_RUN}</em>: no record. †: the expert reference behind the score is provisional (not a "
        "paper-profile expert). R: no expert reference, mean return shown. Click a column's name to sort by it.",
        "Marks: where a claim of the paper compares LOMPO with this cell (both with "
        f"{MIN_SEEDS}+ seeds), whether LOMPO's 95% CI is above, below or overlapping (a tie) this cell's; the "
        '<a href="#claims">claims</a> below say what that makes of each claim.',
    ]
    if any(a not in ALGORITHMS for a in algos):
        legend.append(
            "<em>Not in the paper</em>: algorithms the paper did not run; their cells show our score "
            "alone, and the paper's claims never include them."
        )
    if any(c.reference for row in table for c in row.cells.values()):
        legend.append(
            "<em>reference</em> (‡): the repository's committed records (leaderboard/results/), beside "
            "your runs; a cell you have runs of shows yours alone."
        )
    shown = [c for row in table for c in row.cells.values()]
    if any(not c.standard for c in shown):
        legend.append(
            f"{EPISODES_MARK}: records evaluated on another episode count than the profile's standard "
            f"({STANDARD_EPISODES.get(profile, '-')} per seed), never pooled with standard ones."
        )
    if any(c.clipped_actions for c in shown):
        legend.append(f"{CLIPPED_MARK}: the policies returned actions outside [-1, 1], which the task clipped.")
    if any(row.label != row.kind for row in table):
        legend.append(
            "data XXXXXXXX / old data draw: records of one dataset id made on different contents; each "
            "content has its own row, never pooled."
        )
    return (
        filters
        + '<div class="table-wrap"><table class="data" id="table-one"><thead><tr><th>Environment</th><th>Dataset</th>'
        + head
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
        + "".join(f'<p class="muted">{line}</p>' for line in legend)
    )


def claims_html(tables: Tables) -> str:
    rows = []
    for i, verdict in enumerate(check_claims(tables.cells, tables.profile, tables.dataset_profile), start=1):
        css = {HOLDS: "holds", FAILS: "fails"}.get(verdict.verdict, "few")
        rows.append(
            f'<tr id="claim-{i}"><td>{i}</td><td>{esc(verdict.claim)}</td>'
            f'<td><span class="verdict {css}">{esc(verdict.verdict)}</span></td><td>{esc(verdict.evidence)}</td>'
            "</tr>"
        )
    return (
        f'<p class="muted">The paper\'s claims on our runs (a win: 95% bootstrap CIs of the means separated; cells '
        f"with {MIN_SEEDS}+ seeds).</p>"
        '<div class="table-wrap"><table class="data"><thead><tr><th>#</th><th>Claim</th><th>Verdict</th>'
        "<th>Numbers</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


# ----- runs -----


def runs_table_html(runs: Sequence[SiteRun], up: str = "") -> str:
    rows = []
    for run in sorted(runs, key=lambda r: (r.record["dataset_id"], _order(r.record["algo"]), r.record["seed"])):
        r = run.record
        score = fmt_value(r.get("normalized_score")) + ("†" if r.get("reference_provisional") else "")
        tags = ' <span class="tag ref">reference</span>' * run.reference + (
            ' <span class="tag">overrides</span>' if r.get("overrides") else ""
        )
        rows.append(
            f"<tr><td>{algo_html(r['algo'])}</td><td>{esc(r['dataset_id'])}</td><td>{esc(r['profile'])}</td>"
            f'<td><a href="{up}{run.page}">seed {esc(r["seed"])}</a>{tags}</td><td>{esc(score)}</td>'
            f"<td>{fmt_value(r.get('mean_return'))}</td><td>{esc(str(r.get('finished_at', ''))[:10])}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="data"><thead><tr><th>Algorithm</th><th>Dataset</th><th>Profile</th>'
        "<th>Run</th><th>Normalized score</th><th>Mean return</th><th>Finished</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _order(algo: str) -> tuple[int, str]:
    return (ALGORITHMS.index(algo), "") if algo in ALGORITHMS else (len(ALGORITHMS), algo)
