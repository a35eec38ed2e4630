"""`lompo-bench report --html OUT`: the leaderboard as a static site, built from the same records and stages as the
Markdown report, that opens from `file://` and works offline (no CDN, no fonts or scripts fetched at view time;
publishable as it is on any static host).

One source of numbers: the records are selected as `report` selects them (`leaderboard.report`: the user's runs
beside the repository's reference records, or the named folders pooled), gathered into score cells by
`results.aggregate`, laid out by `tables.table_one_table` / `table_one_rows` (the cells' text is the Markdown
table's), judged by `claims` (cells are marked with `claims.compare`, the claims' one rule), and the aggregates
and figures are the report's own (`build_report`'s, passed in). The site reads the records itself, through the one
reader (`records.read_record`), because its run pages need each record's file and run folder: a record that does
not validate is skipped with one warning line naming it, and listed on the index.

The site:

- `index.html`: Table I (our mean [95% CI] beside the paper's number in every cell, claims marks, "not run yet"
  where empty, the algorithms the paper did not run marked, every cell linking to its seeds; filters and sorting
  in a little plain JavaScript), the claims, the aggregates and figures (with the stats extra), the ablation,
  the dataset cards and the list of runs, and the score file and tables to download;
- `datasets/<id>.html`: a page per dataset, from its records and, when it is installed here, from the dataset
  itself (Minari's metadata, the split rule, the returns histogram, an animated preview of its best episode from
  its own frames: `leaderboard.preview`), with how to get and load it;
- `runs/<run>.html`: a page per run: its config, learning curves from its `metrics.csv` when the run folder is
  there (losses and evaluations over updates; for LOMPO and LMBRL the penalty beside the model reward, and the
  world-model diagnostics' verdict), else what the committed record holds, the final returns and the code version.

Charts are inline SVG drawn in Python (`leaderboard.site_charts`). The site is written into a hidden sibling
folder and renamed into place whole; an existing folder is replaced only when it is a site built here.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError
from lompo_bench.files import atomic_dir, write_atomic
from lompo_bench.leaderboard import report as report_module
from lompo_bench.leaderboard import stats
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
from lompo_bench.leaderboard.results import ScoreCell, aggregate, run_key, write_scores
from lompo_bench.leaderboard.site_assets import CSS, JS
from lompo_bench.leaderboard.site_charts import PALETTE, Series, bar_chart, histogram, line_chart
from lompo_bench.leaderboard.tables import CLIPPED_MARK, EPISODES_MARK, Tables
from lompo_bench.records import STANDARD_EPISODES, normalized_score, read_record

SITE_MARK = ".lompo-bench-site"  # in every site built here: only such a folder is replaced by a new build
NOT_RUN = "not run yet"
LOMPO_FAMILY = ("lompo", "lmbrl")  # runs whose rollouts log the penalty beside the model reward
REPO = Path(__file__).resolve().parent.parent


# ----- records: selected as `report` selects them -----


@dataclass
class SiteRun:
    """One result record and where it lives; `folder` is its run folder (metrics.csv, config.json when present)."""

    record: dict[str, Any]
    path: Path
    root: Path
    reference: bool = False
    slug: str = ""
    cell_key: tuple[Any, ...] = ()  # the key (`_cell_key`) of the score cell its record is gathered into

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def page(self) -> str:
        return f"runs/{self.slug}.html"


@dataclass
class Gathered:
    runs: list[SiteRun]
    cells: list[ScoreCell]
    folders: list[Path]
    note: str | None
    skipped: list[tuple[Path, str]] = field(default_factory=list)  # records that do not validate, and why
    empty: list[Path] = field(default_factory=list)  # folders without a single result record


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_folder(folder: Path, gathered: Gathered, warn: Callable[[str], None]) -> list[tuple[dict[str, Any], Path]]:
    """Every valid record under `folder` (`records.read_record`, the one reader); one warning line per record that
    does not validate (skipped) and for a folder without any."""
    paths = sorted(folder.rglob("result.json"))
    if not paths:
        gathered.empty.append(folder)
        warn(f"warning: no result records in {_shown(folder)}")
    found = []
    for path in paths:
        try:
            found.append((read_record(path), path))
        except UserError as error:
            gathered.skipped.append((path, _one_line(error)))
            warn(f"warning: skipped {_one_line(error)}")
    return found


def gather(
    roots: Sequence[Path],
    profile: str = "cpu",
    include_overrides: bool = False,
    reference_fallback: bool = False,
    with_reference: bool = False,
    warn: Callable[[str], None] = print,
) -> Gathered:
    """The records `build_report` would tabulate for the same arguments, each with its file, and their cells
    (reference cells marked). As `read_runs`: one run found in two folders counts once where both records are
    the same, and is a one-line error where they differ."""
    if profile not in report_module.PROFILES:
        raise UserError(f"--profile must be one of {', '.join(report_module.PROFILES)}, not {profile!r}")
    roots = [Path(root) for root in roots]
    if not roots:
        raise UserError("no runs folder given")
    # The folder choice and its note are report's own (no record is read there).
    folders, reference, note = report_module._folders(roots, profile, reference_fallback, with_reference)
    gathered = Gathered([], [], folders, note)
    seen: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
    for folder in (f for f in folders if f != reference):
        here: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
        for record, path in _read_folder(folder, gathered, warn):
            key = (*run_key(record), json.dumps(record.get("overrides") or {}, sort_keys=True))
            if key in seen:
                if seen[key][0] != record:
                    raise UserError(
                        f"two different records of one run ({record['algo']}, {record['dataset_id']}, "
                        f"{record['profile']}, seed {record['seed']}): {seen[key][1]} and {path}; pass only one "
                        "of their runs folders"
                    )
                continue
            here[key] = record, path
            if include_overrides or not record.get("overrides"):
                gathered.runs.append(SiteRun(record, path, folder))
        seen |= here
    if reference is not None:  # as `report`: the reference records of the cells the user has no record of
        own = {run_key(run.record)[:4] for run in gathered.runs}
        for record, path in _read_folder(reference, gathered, warn):
            if run_key(record)[:4] not in own and (include_overrides or not record.get("overrides")):
                gathered.runs.append(SiteRun(record, path, reference, reference=True))
    records = [run.record for run in gathered.runs]
    gathered.cells = aggregate(records, [str(run.root) for run in gathered.runs])
    for run in gathered.runs:  # the cell each record lands in, as `aggregate` decides it (one record, one cell)
        run.cell_key = _cell_key(aggregate([run.record])[0])
    reference_cells = {run.cell_key for run in gathered.runs if run.reference}
    for cell in gathered.cells:
        cell.reference = _cell_key(cell) in reference_cells
    _name_runs(gathered.runs)
    return gathered


def _cell_key(cell: ScoreCell) -> tuple[Any, ...]:
    """What tells score cells apart: algorithm, profile, dataset content and, where cells carry it, the evaluation
    episode count when it is not the profile's standard."""
    return cell.algo, cell.profile, cell.dataset_id, cell.dataset_fingerprint or "", getattr(cell, "episodes", None)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "x"


def _name_runs(runs: list[SiteRun]) -> None:
    """Each run a page name from its folder under its runs folder (`<algo>/<dataset id>/<profile>-seed<n>`)."""
    used: set[str] = set()
    for run in sorted(runs, key=lambda r: (str(r.root), str(r.path))):
        try:
            parts = run.folder.relative_to(run.root).parts
        except ValueError:
            parts = (run.record["algo"], run.record["dataset_id"], run.folder.name)
        base = _slug("__".join(parts))
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        run.slug = slug


def _shown(path: Path) -> str:
    """A path as the site shows it: relative to the working folder or the repository where inside them (a
    published site should not carry the builder's home folder)."""
    path = Path(path)
    resolved = path.resolve()
    for base in (Path.cwd().resolve(), REPO):
        try:
            return resolved.relative_to(base).as_posix() or "."
        except ValueError:
            continue
    return str(path)


# ----- small HTML helpers -----


def _e(value: Any) -> str:
    return escape(str(value))


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
    return str(value)


def _algo_title(algo: str) -> str:
    return ALGORITHM_TITLES.get(algo) or OTHER_TITLES.get(algo, algo)


def _algo_html(algo: str) -> str:
    tag = (
        "" if algo in ALGORITHMS else ' <span class="tag new" title="the paper did not run it">not in the paper</span>'
    )
    return _e(_algo_title(algo)) + tag


def _kv(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; values are HTML already."""
    return '<table class="kv">' + "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>"


def markdown_html(text: str) -> str:
    """The report's Markdown (paragraphs, pipe tables, `code`) as HTML, so the site shows its text as it is."""

    def inline(line: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(line))

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


def _page(title: str, body: str, depth: int, scripts: bool = False) -> str:
    up = "../" * depth
    script = f'<script src="{up}assets/site.js" defer></script>' if scripts else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title>"
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
        detail = f"LOMPO's 95% CI is {word} {_algo_title(other)}'s on {row.name}"
        marks.setdefault(other, []).append(Mark(outcome, _claim_number(check), detail))
    return marks


def _mark_html(mark: Mark) -> str:
    text = {"above": "LOMPO above", "below": "LOMPO below", "tie": "tie with LOMPO"}[mark.outcome]
    anchor = f"#claim-{mark.claim}" if mark.claim else "#claims"
    return f'<a class="mark {mark.outcome}" href="{anchor}" title="{_e(mark.detail)}">{_e(text)}</a>'


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
        f'<th class="algo" data-algo="{_e(a)}" title="sort by this column">{_algo_html(a)}<span class="sort"></span>'
        "</th>"
        for a in algos
    )
    body = []
    for i, (row, text) in enumerate(zip(table, texts, strict=True)):
        marks = claim_marks(row)
        ids = {c.dataset_id for c in row.cells.values()}
        dataset = text["dataset"]
        if len(ids) == 1 and next(iter(ids)) in datasets:
            dataset = f'<a href="{datasets[next(iter(ids))].page}">{_e(text["dataset"])}</a>'
        else:
            dataset = _e(dataset)
        tds = [f"<td>{_e(text['environment'])}</td>", f"<td>{dataset}</td>"]
        for algo in algos:
            cell = row.cells.get(algo)
            paper = text[f"{algo}_paper"]
            paper_html = f' <span class="paper" title="the paper\'s">/ {_e(paper)}</span>' if paper else ""
            anchor = f"cell-{i}-{_slug(algo)}"
            if cell is None:
                tds.append(
                    f'<td class="cell empty" id="{anchor}" data-algo="{_e(algo)}" data-value="">'
                    f"{NOT_RUN}{paper_html}</td>"
                )
                continue
            runs = by_cell.get(_cell_key(cell), [])
            flags = "".join(_mark_html(m) for m in marks.get(algo, []))
            ref = ' <span class="tag ref" title="the repository\'s reference records">reference</span>' * cell.reference
            tds.append(
                f'<td class="cell" id="{anchor}" data-algo="{_e(algo)}" data-value="{_cell_value(cell):.4f}">'
                f'<span class="ours" title="ours: mean over seeds [95% bootstrap CI]">{_e(text[algo])}</span>'
                f"{paper_html}{ref}<div>{flags}</div>"
                f'<div class="seeds">{len(runs)} seed{"s" * (len(runs) != 1)}: {_seed_links(runs)}</div></td>'
            )
        ran = "1" if row.cells else "0"
        body.append(
            f'<tr data-task="{_e(row.task)}" data-kind="{_e(row.kind)}" data-ran="{ran}">' + "".join(tds) + "</tr>"
        )
    tasks = list(dict.fromkeys(task for task, _ in TABLE_I))
    kinds = list(dict.fromkeys(kind for _, kind in TABLE_I))
    filters = (
        '<div class="filters">'
        '<label>Task <select id="filter-task"><option value="">all</option>'
        + "".join(f'<option value="{_e(t)}">{_e(TASK_TITLES.get(t, t))}</option>' for t in tasks)
        + '</select></label><label>Dataset <select id="filter-kind"><option value="">all</option>'
        + "".join(f'<option value="{_e(k)}">{_e(k)}</option>' for k in kinds)
        + '</select></label><label><input type="checkbox" id="filter-ran"> rows with runs only</label>'
        + "<span>Algorithms: "
        + " ".join(
            f'<label><input type="checkbox" class="algo-toggle" data-algo="{_e(a)}" checked> {_e(_algo_title(a))}'
            "</label>"
            for a in algos
        )
        + '</span><button type="button" id="filter-reset">reset</button></div>'
    )
    legend = [
        f"Ours: mean normalized score over seeds [95% bootstrap CI] (algorithms <code>{_e(profile)}</code>, "
        f"datasets <code>{_e(dataset_profile)}</code>), then the paper's number after the slash. "
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
            f'<tr id="claim-{i}"><td>{i}</td><td>{_e(verdict.claim)}</td>'
            f'<td><span class="verdict {css}">{_e(verdict.verdict)}</span></td><td>{_e(verdict.evidence)}</td>'
            "</tr>"
        )
    return (
        f'<p class="muted">The paper\'s claims on our runs (a win: 95% bootstrap CIs of the means separated; cells '
        f"with {MIN_SEEDS}+ seeds).</p>"
        '<div class="table-wrap"><table class="data"><thead><tr><th>#</th><th>Claim</th><th>Verdict</th>'
        "<th>Numbers</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


# ----- datasets -----


@dataclass
class DatasetPage:
    dataset_id: str
    slug: str
    runs: list[SiteRun]
    installed: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    split_rule: str | None = None
    returns: dict[str, Any] | None = None
    fingerprint: str | None = None  # the installed content's
    preview: str | None = None  # the preview image, relative to the site
    preview_note: str = ""
    problem: str | None = None

    @property
    def page(self) -> str:
        return f"datasets/{self.slug}.html"

    def first(self, key: str) -> Any:
        return next((run.record.get(key) for run in self.runs if run.record.get(key) is not None), None)


def _dataset_pages(runs: Sequence[SiteRun]) -> dict[str, DatasetPage]:
    pages: dict[str, DatasetPage] = {}
    for run in sorted(runs, key=lambda r: r.record["dataset_id"]):
        ds = run.record["dataset_id"]
        if ds not in pages:
            pages[ds] = DatasetPage(ds, _slug(ds.replace("/", "__")), [])
        pages[ds].runs.append(run)
    return pages


def _read_installed(page: DatasetPage, out: Path, previews: bool, warn: Callable[[str], None]) -> None:
    """What the installed dataset itself says: metadata, returns, fingerprint and (with `previews`) a preview."""
    from lompo_bench.data.store import dataset_exists

    try:
        if not dataset_exists(page.dataset_id):
            return
    except UserError:
        return
    from lompo_bench.data.cache import dataset_fingerprint
    from lompo_bench.data.inspect import info

    page.installed = True
    try:
        summary = info(page.dataset_id)
        page.metadata, page.split_rule, page.returns = summary["metadata"], summary["split_rule"], summary["returns"]
        page.fingerprint = dataset_fingerprint(page.dataset_id)
    except UserError as error:
        page.problem = _one_line(error)
        warn(f"warning: dataset {page.dataset_id}: {page.problem}")
        return
    if not previews:
        return
    from lompo_bench.leaderboard.preview import episode_preview

    try:
        made = episode_preview(page.dataset_id, out / "datasets" / f"{page.slug}.gif")
    except UserError as error:
        page.preview_note = f"no preview: {_one_line(error)}"
        warn(f"warning: dataset {page.dataset_id}: {page.preview_note}")
        return
    page.preview = f"datasets/{page.slug}.gif"
    page.preview_note = (
        f"Episode {made.episode} (return {made.episode_return:.1f}, the dataset's best): every {made.stride}"
        f"{'th' if made.stride > 1 else ''} of its {made.episode_frames} frames, {made.width}x{made.height} px as "
        f"stored, {made.bytes / 1024:.0f} KB."
    ).replace("every 1 of its", "all")


def _space(text: Any) -> str:
    """A Minari space (JSON text) in a few words: the pixels' shape and dtype, an action box's bounds."""
    try:
        space = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return _e(text)
    if not isinstance(space, dict):
        return _e(text)
    if space.get("type") == "Dict":
        return ", ".join(f"{_e(k)}: {_space(v)}" for k, v in space.get("subspaces", {}).items())
    shape = "x".join(str(n) for n in space.get("shape", []))
    bounds = ""
    low, high = space.get("low"), space.get("high")
    if isinstance(low, list) and low and not isinstance(low[0], list):
        bounds = f" in [{min(low):g}, {max(high):g}]"
    return _e(f"{space.get('type', '?')}({shape}) {space.get('dtype', '')}{bounds}")


def dataset_card_html(page: DatasetPage) -> str:
    img = (
        f'<img class="preview" src="{page.preview}" alt="preview of {_e(page.dataset_id)}">'
        if page.preview
        else '<p class="muted">no preview (the dataset is not installed where this site was built)</p>'
        if not page.installed
        else f'<p class="muted">{_e(page.preview_note or "no preview")}</p>'
    )
    facts = [
        f"{_e(TASK_TITLES.get(page.first('task'), page.first('task')))}, {_e(page.first('kind') or '-')}, "
        f"profile {_e(page.first('dataset_profile') or '-')}",
        f"{_e(page.metadata.get('total_steps', page.first('dataset_transitions')))} transitions"
        + (f", {_e(page.metadata['total_episodes'])} episodes" if "total_episodes" in page.metadata else ""),
        f"{len(page.runs)} run{'s' * (len(page.runs) != 1)} on the leaderboard",
    ]
    return (
        f'<div class="card"><h3><a href="{page.page}">{_e(page.dataset_id)}</a></h3>{img}'
        f'<div class="facts">{"<br>".join(facts)}</div></div>'
    )


def dataset_html(page: DatasetPage) -> str:
    ds = page.dataset_id
    fingerprints = sorted(
        {run.record.get("dataset_fingerprint") or "(none: records from before fingerprints)" for run in page.runs}
    )
    references = sorted(
        {
            (
                run.record.get("ref_min_score"),
                run.record.get("ref_max_score"),
                bool(run.record.get("reference_provisional")),
            )
            for run in page.runs
        },
        key=str,
    )
    facts = [
        ("task", _e(f"{TASK_TITLES.get(page.first('task'), page.first('task'))} ({page.first('task')})")),
        ("kind", _e(page.first("kind") or "-")),
        ("dataset profile", _e(page.first("dataset_profile") or "-")),
        ("source", _e(page.first("dataset_source") or "-")),
    ]
    if page.first("ablation_factor") is not None:
        facts.append(("ablation", _e(f"1/{page.first('ablation_factor')} of Appendix B's D'Claw dataset")))
    facts.append(("transitions", _e(page.metadata.get("total_steps", page.first("dataset_transitions")))))
    if "total_episodes" in page.metadata:
        facts.append(("episodes", _e(page.metadata["total_episodes"])))
    for low, high, provisional in references:
        flag = "provisional (not a paper-profile expert)" if provisional else "final"
        facts.append(("reference scores", _e(f"random {_fmt(low, 2)}, expert {_fmt(high, 2)}: {flag}")))
    facts.append(("content fingerprint (records)", "<br>".join(f"<code>{_e(f)}</code>" for f in fingerprints)))
    if page.installed and page.fingerprint:
        same = page.fingerprint in fingerprints
        facts.append(
            (
                "content fingerprint (installed)",
                f"<code>{_e(page.fingerprint)}</code> "
                + (
                    "(the content the records were trained on)"
                    if same
                    else '<span class="tag">not the content of these records</span>'
                ),
            )
        )
    parts = [f"<h1>{_e(ds)}</h1>", _kv(facts)]
    if page.problem:
        parts.append(f'<p class="warn">The installed dataset could not be read: {_e(page.problem)}</p>')
    parts.append("<h2>Preview</h2>")
    if page.preview:
        parts.append(
            f'<img class="preview" id="preview" src="../{page.preview}" alt="an episode of {_e(ds)}">'
            f'<p class="muted">{_e(page.preview_note)}</p>'
        )
    elif page.installed:
        parts.append(f'<p class="muted">{_e(page.preview_note or "no preview")}</p>')
    else:
        parts.append(
            '<p class="muted">Not installed where this site was built: the page shows what the records know. '
            "Install it (below) and rebuild for its metadata, returns and an animated preview.</p>"
        )
    if page.returns is not None:
        r = page.returns
        parts.append("<h2>Episode returns</h2>")
        if r.get("episodes"):
            parts.append(
                '<p class="muted">'
                + _e(
                    f"{r['episodes']} episodes: "
                    + ", ".join(f"{k} {r[k]:.1f}" for k in ("min", "p25", "median", "mean", "p75", "max") if k in r)
                )
                + "</p>"
            )
        chart = histogram(r["histogram"]["counts"], r["histogram"]["edges"], "Episode returns", "return")
        if chart:
            parts.append(chart)
    if page.split_rule:
        parts += ["<h2>Split rule</h2>", f"<p>{_e(page.split_rule)}</p>"]
    if page.metadata:
        rows = []
        for key, value in page.metadata.items():
            if key in ("observation_space", "action_space"):
                rows.append((key, _space(value)))
            elif key in ("env_spec", "lompo_generation_config") or (isinstance(value, str) and len(value) > 200):
                rows.append((key, f"<details><summary>show</summary><pre>{_e(_pretty(value))}</pre></details>"))
            else:
                rows.append((key, _e(", ".join(map(str, value)) if isinstance(value, list) else value)))
        parts += ["<h2>Minari metadata</h2>", _kv(rows)]
    parts.append("<h2>Get it and load it</h2>")
    make = ""
    if page.first("dataset_source") == "lompo-bench" and page.first("kind"):
        make = (
            f"\n# or make it here (SAC expert from state, then the images):\nlompo-bench generate --env "
            f"{page.first('task')} --kind {page.first('kind')} --profile {page.first('dataset_profile')}"
        )
    parts.append(
        "<pre>"
        + _e(
            f"# from a Minari remote or an HTTP mirror (datasets pack):\nlompo-bench download {ds} --remote "
            f"hf://<org>\nlompo-bench download {ds} --base-url https://<host>/<share>/{make}"
        )
        + "</pre><pre>"
        + _e(
            f'import minari\n\ndataset = minari.load_dataset("{ds}")\nfor episode in dataset.iterate_episodes():\n'
            '    frames = episode.observations["pixels"]  # (T + 1, H, W, 3) uint8\n    break'
        )
        + "</pre><pre>"
        + _e(
            f"# pip install 'lompo-bench[d3rlpy]'\nfrom lompo_bench.adapters.d3rlpy import to_mdp_dataset\n\n"
            f'dataset = to_mdp_dataset("{ds}", frame_stack=3)  # a d3rlpy ReplayBuffer of (9, H, W) uint8 frames'
        )
        + "</pre>"
        + f'<p class="muted">A preview of one episode as a file: <code>lompo-bench datasets preview {_e(ds)} '
        "--out ep.gif</code>.</p>"
    )
    parts.append("<h2>Runs on it</h2>" + runs_table_html(page.runs, up="../"))
    return "".join(parts)


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        try:
            return json.dumps(json.loads(value), indent=2)
        except ValueError:
            return value
    return json.dumps(value, indent=2, default=str)


# ----- runs -----


def runs_table_html(runs: Sequence[SiteRun], up: str = "") -> str:
    rows = []
    for run in sorted(runs, key=lambda r: (r.record["dataset_id"], _order(r.record["algo"]), r.record["seed"])):
        r = run.record
        score = _fmt(r.get("normalized_score")) + ("†" if r.get("reference_provisional") else "")
        tags = ' <span class="tag ref">reference</span>' * run.reference + (
            ' <span class="tag">overrides</span>' if r.get("overrides") else ""
        )
        rows.append(
            f"<tr><td>{_algo_html(r['algo'])}</td><td>{_e(r['dataset_id'])}</td><td>{_e(r['profile'])}</td>"
            f'<td><a href="{up}{run.page}">seed {_e(r["seed"])}</a>{tags}</td><td>{_e(score)}</td>'
            f"<td>{_fmt(r.get('mean_return'))}</td><td>{_e(str(r.get('finished_at', ''))[:10])}</td></tr>"
        )
    return (
        '<div class="table-wrap"><table class="data"><thead><tr><th>Algorithm</th><th>Dataset</th><th>Profile</th>'
        "<th>Run</th><th>Normalized score</th><th>Mean return</th><th>Finished</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


def _order(algo: str) -> tuple[int, str]:
    return (ALGORITHMS.index(algo), "") if algo in ALGORITHMS else (len(ALGORITHMS), algo)


def read_metrics(path: Path) -> dict[str, dict[str, list[tuple[float, float]]]]:
    """metrics.csv (phase, step, metric, value) as phase -> metric -> [(step, value)]; the final evaluation's step
    ("final") is left out of the curves; rows that do not parse are skipped."""
    out: dict[str, dict[str, list[tuple[float, float]]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                step, value = float(row["step"]), float(row["value"])
            except (KeyError, TypeError, ValueError):
                continue
            out.setdefault(row.get("phase") or "?", {}).setdefault(row.get("metric") or "?", []).append((step, value))
    return out


PHASE_TITLES = {
    "model": "World model (model phase)",
    "policy": "Policy (actor-critic updates)",
    "rollout": "Imagined rollouts",
    "train": "Training",
    "diagnostics": "World-model diagnostics",
}


def _series(points: list[tuple[float, float]], label: str, color: str, **kw: Any) -> Series:
    return Series(label, [x for x, _ in points], [y for _, y in points], color, **kw)


def curves_html(run: SiteRun, metrics: dict[str, dict[str, list[tuple[float, float]]]]) -> str:
    """The evaluations during training (returns and, with references, normalized scores), for LOMPO and LMBRL the
    penalty beside the model reward, and every logged value of every phase over updates."""
    r = run.record
    top = []
    evaluations = metrics.get("evaluation", {}).get("mean_return")
    if evaluations:
        top.append(
            line_chart(
                [_series(evaluations, "mean return", PALETTE[0], markers=True)],
                "Evaluations during training",
                "update",
                "mean return",
            )
        )
        low, high = r.get("ref_min_score"), r.get("ref_max_score")
        if low is not None and high is not None:
            scored = [(x, normalized_score(y, low, high)) for x, y in evaluations]
            top.append(
                line_chart(
                    [
                        _series(
                            [(x, y) for x, y in scored if y is not None], "normalized score", PALETTE[2], markers=True
                        )
                    ],
                    "Evaluations, normalized",
                    "update",
                    "normalized score",
                )
            )
    parts = ['<div class="charts" id="evaluations">' + "".join(c for c in top if c) + "</div>"] if any(top) else []
    rollout = metrics.get("rollout", {})
    if r["algo"] in LOMPO_FAMILY and "reward_model" in rollout and "reward_penalized" in rollout:
        model, penalized = dict(rollout["reward_model"]), dict(rollout["reward_penalized"])
        penalty = [(x, model[x] - penalized[x]) for x in model if x in penalized]
        chart = line_chart(
            [
                _series(rollout["reward_model"], "model reward", PALETTE[0]),
                _series(penalty, "penalty (model reward - penalized)", PALETTE[1], dashed=True),
                _series(rollout["reward_penalized"], "penalized reward", PALETTE[2]),
            ],
            "Penalty beside the model reward (imagined steps, mean per step)",
            "update",
            "reward per step",
            width=720,
        )
        if chart:
            parts.append(f'<h3>Penalty</h3><div class="charts" id="penalty">{chart}</div>')
    known = ("model", "policy", "train", "rollout")
    phases = [p for p in known if p in metrics]
    phases += sorted(p for p in metrics if p not in (*known, "evaluation", "diagnostics"))
    for phase in phases:
        charts = [
            line_chart([_series(points, name, PALETTE[i % len(PALETTE)])], name, "update", name, width=360, height=210)
            for i, (name, points) in enumerate(sorted(metrics[phase].items()))
        ]
        if any(charts):
            parts.append(
                f"<h3>{_e(PHASE_TITLES.get(phase, phase))}</h3>"
                f'<div class="charts">{"".join(c for c in charts if c)}</div>'
            )
    return "".join(parts)


def diagnostics_html(run: SiteRun, metrics: dict[str, Any], config: dict[str, Any]) -> str:
    """The last diagnostics the run logged, and their verdict in words (`algorithms.verdicts.verdict`,
    torch-free)."""
    rows = metrics.get("diagnostics")
    if not rows:
        return ""
    last = max(step for points in rows.values() for step, _ in points)
    values = {name: y for name, points in rows.items() for x, y in points if x == last}
    from lompo_bench.algorithms.verdicts import verdict

    lines: list[str] = []
    try:
        spread = values.get("spread_data") or 0.0
        penalty = float(config.get("penalty") or 0.0) or (values.get("penalty_data", 0.0) / spread if spread else 0.0)
        lines = verdict(
            values,
            penalty=penalty,
            held_out=float(config.get("holdout") or 0.0) > 0,
            heads=int(config.get("ensemble") or 1),
        )
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:  # the values still show; the words need
        # every value (a run that logged an older set of them)
        lines = [f"(no verdict: {type(error).__name__}: {_one_line(error)})"]
    table = _kv([(name, _e(f"{value:.4g}")) for name, value in sorted(values.items())])
    return (
        f"<h2>World-model diagnostics (update {last:.0f})</h2>"
        + '<ul class="lines" id="verdict">'
        + "".join(f"<li>{_e(line)}</li>" for line in lines)
        + f"</ul><details><summary>values</summary>{table}</details>"
    )


def run_html(run: SiteRun, datasets: dict[str, DatasetPage], anchor: str | None) -> str:
    r = run.record
    title = f"{_algo_title(r['algo'])} on {r['dataset_id']}, seed {r['seed']} ({r['profile']})"
    dataset = datasets.get(r["dataset_id"])
    dataset_link = f'<a href="../{dataset.page}">{_e(r["dataset_id"])}</a>' if dataset else _e(r["dataset_id"])
    provisional = " (provisional reference)" if r.get("reference_provisional") else ""
    facts = [
        ("algorithm", _algo_html(r["algo"])),
        (
            "dataset",
            dataset_link + (f" <code>{_e(r['dataset_fingerprint'])}</code>" if r.get("dataset_fingerprint") else ""),
        ),
        ("profile, seed", _e(f"{r['profile']}, seed {r['seed']}")),
        ("normalized score", _e(_fmt(r.get("normalized_score")) + provisional)),
        (
            "mean return",
            _e(
                f"{_fmt(r.get('mean_return'))} ± {_fmt(r.get('std_return'))} over {r.get('episodes')} "
                "evaluation episodes"
            ),
        ),
        ("references", _e(f"random {_fmt(r.get('ref_min_score'), 2)}, expert {_fmt(r.get('ref_max_score'), 2)}")),
        ("training time", _e(f"{(r.get('train_seconds') or 0) / 3600:.2f} h")),
        ("finished", _e(r.get("finished_at", "-"))),
        ("code version", f"<code>{_e(r.get('code_version', '-'))}</code>"),
        ("evaluation code", f"<code>{_e(r.get('evaluation_code_version', '-'))}</code>"),
    ]
    if r.get("overrides"):
        facts.append(("overrides (train --set)", f"<code>{_e(json.dumps(r['overrides']))}</code>"))
    if r.get("adopted"):
        facts.append(("adopted (now the profile's)", f"<code>{_e(json.dumps(r['adopted']))}</code>"))
    facts.append(
        (
            "record",
            f"<code>{_e(_shown(run.path))}</code>"
            + (' <span class="tag ref">reference record</span>' if run.reference else ""),
        )
    )
    if anchor:
        facts.append(("Table I", f'<a href="../index.html#{anchor}">its cell</a>'))
    parts = [f"<h1>{_e(title)}</h1>", _kv(facts)]
    returns = r.get("returns") or []
    chart = bar_chart(
        [str(i) for i in range(len(returns))],
        returns,
        "Final evaluation: return per episode",
        "episode",
        "return",
        reference=("mean", r.get("mean_return") or 0.0),
    )
    parts += ["<h2>Final returns</h2>", f'<div class="charts" id="final-returns">{chart or ""}</div>']
    config_path, metrics_path = run.folder / "config.json", run.folder / "metrics.csv"
    config: dict[str, Any] = {}
    context: dict[str, Any] = {}
    if config_path.exists():
        try:
            context = json.loads(config_path.read_text())
            config = context.get("config") or {}
        except (OSError, ValueError):
            context = {}
    parts.append("<h2>Learning curves</h2>")
    if metrics_path.exists():
        metrics = read_metrics(metrics_path)
        parts.append(curves_html(run, metrics) or '<p class="muted">metrics.csv holds no values yet.</p>')
        parts.append(diagnostics_html(run, metrics, config))
    else:
        parts.append(
            '<p class="muted" id="no-curves">This run\'s folder (metrics.csv, config.json) is not here: '
            + (
                "the committed record holds the final evaluation only (its returns above). "
                if run.reference or run.root.resolve().is_relative_to(report_module.REFERENCE_RECORDS)
                else ""
            )
            + "Curves appear when the site is built from the runs folder the run trained in "
            "(<code>lompo-bench report --html OUT --runs RUNS</code>).</p>"
        )
    parts.append("<h2>Config</h2>")
    if config:
        parts.append(_kv([(k, f"<code>{_e(json.dumps(v))}</code>") for k, v in config.items()]))
        extra = {k: v for k, v in context.items() if k != "config" and not isinstance(v, dict | list)}
        if extra:
            parts.append("<h3>Run</h3>" + _kv([(k, _e(v)) for k, v in extra.items()]))
    else:
        parts.append(
            f'<p class="muted">No config.json here: the run used the <code>{_e(r["profile"])}</code> profile of '
            f"{_e(_algo_title(r['algo']))} as it stood at <code>{_e(r.get('code_version', '?'))}</code>"
            + (" with the overrides above" if r.get("overrides") else "")
            + (" with the adopted settings above" if r.get("adopted") else "")
            + "; <code>lompo-bench train --algo "
            + _e(r["algo"])
            + " --profile "
            + _e(r["profile"])
            + "</code> prints a run's resolved config into its config.json.</p>"
        )
    return "".join(parts)


# ----- the site -----


@dataclass(frozen=True)
class Site:
    out: Path
    index: Path
    pages: int
    bytes: int
    seconds: float
    runs: int
    cells: int
    previews: int
    warnings: tuple[str, ...]


def _check_out(out: Path, sources: Sequence[Path]) -> None:
    """Refuse to replace a folder that is not a site built here (it would be deleted), or one holding records."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is a file, not a folder for the site")
    if out.is_dir() and any(out.iterdir()) and not (out / SITE_MARK).exists():
        raise UserError(f"{out} exists and is not a site built by lompo-bench; give a new or empty folder for --html")
    resolved = out.resolve()
    for source in sources:
        source = Path(source).resolve()
        if resolved == source or resolved in source.parents or source in resolved.parents:
            raise UserError(f"--html {out} overlaps the runs folder {source}; give a folder of its own")


def build_site(
    out: Path,
    runs_root: Path | Sequence[Path],
    profile: str = "cpu",
    dataset_profile: str | None = None,
    include_overrides: bool = False,
    reference_fallback: bool = False,
    with_reference: bool = False,
    report: Any = None,
    datasets: bool = True,
    warn: Callable[[str], None] = print,
) -> Site:
    """Build the site into `out` from the records `build_report` reads for the same arguments. `report`: the
    `Report` of `build_report` on them, whose aggregates and figures the site shows (without it, or without the
    stats extra, the site says how to get them). `datasets`: read the installed datasets (metadata, returns,
    previews); off, their pages show what the records know. `warn` gets one line per problem (a record that does
    not validate, a folder without records, a dataset that cannot be read)."""
    started = time.perf_counter()
    out = Path(out)
    dataset_profile = dataset_profile or profile
    if dataset_profile not in report_module.PROFILES:
        raise UserError(f"--data-profile must be one of {', '.join(report_module.PROFILES)}, not {dataset_profile!r}")
    roots = [Path(runs_root)] if isinstance(runs_root, str | Path) else [Path(r) for r in runs_root]
    warnings: list[str] = []

    def say(line: str) -> None:
        warnings.append(line)
        warn(line)

    gathered = gather(roots, profile, include_overrides, reference_fallback, with_reference, say)
    _check_out(out, gathered.folders)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        pages, previews = _write(tmp, gathered, profile, dataset_profile, report, datasets, say)
        write_atomic(tmp / SITE_MARK, "a site built by `lompo-bench report --html`; replaced whole by the next\n")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return Site(
        out,
        out / "index.html",
        pages,
        size,
        time.perf_counter() - started,
        len(gathered.runs),
        len(gathered.cells),
        previews,
        tuple(warnings),
    )


def _write(
    out: Path,
    gathered: Gathered,
    profile: str,
    dataset_profile: str,
    report: Any,
    read_datasets: bool,
    warn: Callable[[str], None],
) -> tuple[int, int]:
    (out / "assets").mkdir()
    (out / "runs").mkdir()
    (out / "datasets").mkdir()
    (out / "data").mkdir()
    (out / "assets" / "site.css").write_text(CSS)
    (out / "assets" / "site.js").write_text(JS)
    cells = gathered.cells
    tables = Tables(cells, profile, dataset_profile)
    datasets = _dataset_pages(gathered.runs)
    if read_datasets:
        for page in datasets.values():
            _read_installed(page, out, True, warn)
    # The report's stage files beside the site: the score file and Table I as Markdown and CSV.
    write_scores(cells, out / "data" / "scores.json", gathered.folders)
    (out / "data" / "table_one.md").write_text(tables.table_one_markdown())
    (out / "data" / "table_one.csv").write_text(tables.table_one_csv())
    anchors = _cell_anchors(tables)
    for run in gathered.runs:
        body = run_html(run, datasets, anchors.get(run.cell_key))
        (out / run.page).write_text(
            _page(f"{run.record['algo']} {run.record['dataset_id']} seed {run.record['seed']}", body, 1)
        )
    for page in datasets.values():
        (out / page.page).write_text(_page(page.dataset_id, dataset_html(page), 1))
    (out / "index.html").write_text(
        _page(
            "lompo-bench leaderboard",
            _index(out, gathered, tables, report, datasets),
            0,
            scripts=True,
        )
    )
    return 1 + len(gathered.runs) + len(datasets), sum(1 for p in datasets.values() if p.preview)


def _cell_anchors(tables: Tables) -> dict[tuple[Any, ...], str]:
    anchors = {}
    for i, row in enumerate(tables.table_one_table):
        for algo, cell in row.cells.items():
            anchors[_cell_key(cell)] = f"cell-{i}-{_slug(algo)}"
    return anchors


def _figures(out: Path, report: Any) -> list[str]:
    """The report's figures (SVG) copied into the site."""
    shown = []
    for path in getattr(report, "files", ()) or ():
        path = Path(path)
        if path.suffix == ".svg" and path.exists():
            (out / "figures").mkdir(exist_ok=True)
            shutil.copyfile(path, out / "figures" / path.name)
            shown.append(f'<p><img class="figure" src="figures/{_e(path.name)}" alt="{_e(path.stem)}"></p>')
    return shown


def _index(out: Path, gathered: Gathered, tables: Tables, report: Any, datasets: dict[str, DatasetPage]) -> str:
    from lompo_bench.provenance import code_permalink

    parts = [
        "<h1>Offline RL from pixels: the LOMPO benchmark's leaderboard</h1>",
        "<p class=\"lead\">The LOMPO paper's Table I (Rafailov et al., 2021) rebuilt from this benchmark's result "
        "records: normalized scores (0 = random policy, 100 = expert).</p>",
    ]
    if gathered.note:
        note = gathered.note
        for folder in gathered.folders:
            note = note.replace(str(folder), _shown(folder))
        parts.append(f'<p class="note">{_e(note)}</p>')
    for folder in gathered.empty:
        parts.append(
            f'<p class="warn" id="empty">No result records in <code>{_e(_shown(folder))}</code>: every cell '
            "below is not run yet. Train something (<code>lompo-bench train</code>) or name another runs "
            "folder.</p>"
        )
    if gathered.skipped:
        items = "".join(f"<li>{_e(reason)}</li>" for _, reason in gathered.skipped)
        parts.append(
            f'<div class="warn" id="skipped">{len(gathered.skipped)} record'
            f"{'s' * (len(gathered.skipped) != 1)} skipped: not valid result records, so not counted."
            f'<ul class="lines">{items}</ul></div>'
        )
    parts += ["<h2>Table I: ours beside the paper's</h2>", table_one_html(gathered, tables, datasets)]
    parts += ['<h2 id="claims">The paper\'s claims</h2>', claims_html(tables)]
    parts.append('<h2 id="aggregates">Aggregates and figures</h2>')
    summary = getattr(report, "aggregates", None)
    if summary:
        parts.append(markdown_html(summary))
    elif not stats.have_rliable():
        parts.append(f'<p class="muted">{_e(stats.STATS_HINT)}; then <code>lompo-bench report --html OUT</code>.</p>')
    else:
        parts.append(
            '<p class="muted">Not built here: <code>lompo-bench report --html OUT</code> adds the report\'s '
            "aggregates (IQM, probabilities of improvement) and figures.</p>"
        )
    parts += _figures(out, report)
    if tables.ablation_cells:
        parts += [
            '<h2 id="ablation">Appendix B: D\'Claw by dataset size</h2>',
            markdown_html(tables.ablation_markdown()),
        ]
    parts.append('<h2 id="datasets">Datasets</h2>')
    if datasets:
        parts.append('<div class="cards">' + "".join(dataset_card_html(p) for p in datasets.values()) + "</div>")
    else:
        parts.append('<p class="muted">No datasets: no records yet.</p>')
    parts += [
        f'<h2 id="runs">Runs ({len(gathered.runs)})</h2>',
        runs_table_html(gathered.runs) if gathered.runs else '<p class="muted">No runs.</p>',
    ]
    parts.append(
        '<h2 id="downloads">Data</h2><p><a href="data/scores.json">scores.json</a> (the score cells, versioned), '
        '<a href="data/table_one.csv">table_one.csv</a>, <a href="data/table_one.md">table_one.md</a>.</p>'
    )
    folders, cells = ", ".join(f"<code>{_e(_shown(f))}</code>" for f in gathered.folders), tables.cells
    parts.append(
        f"<footer>Built by <code>lompo-bench report --html</code> at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from {folders}; {len(gathered.runs)} runs in "
        f"{len(cells)} cells; code <code>{_e(code_permalink())}</code>. A static site: open index.html, or publish "
        "the folder on any static host.</footer>"
    )
    return "".join(parts)
