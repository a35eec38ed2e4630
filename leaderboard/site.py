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

This module builds and writes the site (`build_site`, the index page); the rest is in its siblings:
`site_records` (the records, selected as `report` selects them: `SiteRun`, `gather`), `site_html` (the small HTML
helpers, Table I with its claims marks, the claims, the runs table), `site_datasets` (the dataset pages),
`site_runs` (the run pages: curves, diagnostics), `site_charts` (the SVG charts) and `site_assets` (CSS and
JavaScript).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError
from lompo_bench.files import atomic_dir, write_atomic
from lompo_bench.leaderboard import report as report_module
from lompo_bench.leaderboard import stats
from lompo_bench.leaderboard.results import write_scores
from lompo_bench.leaderboard.site_assets import CSS, JS
from lompo_bench.leaderboard.site_datasets import (
    DatasetPage,
    dataset_card_html,
    dataset_html,
    dataset_pages,
    read_installed,
)
from lompo_bench.leaderboard.site_html import (
    NOT_RUN,
    Mark,
    claim_marks,
    claims_html,
    esc,
    markdown_html,
    page_html,
    runs_table_html,
    table_one_html,
)
from lompo_bench.leaderboard.site_records import REPO, Gathered, SiteRun, cell_key_of, gather, shown_path, slugify
from lompo_bench.leaderboard.site_runs import (
    LOMPO_FAMILY,
    PHASE_TITLES,
    curves_html,
    diagnostics_html,
    read_metrics,
    run_html,
)
from lompo_bench.leaderboard.tables import Tables

__all__ = [  # what callers import from here; the pages' pieces are their modules', re-exported
    "LOMPO_FAMILY",
    "NOT_RUN",
    "PHASE_TITLES",
    "REPO",
    "SITE_MARK",
    "DatasetPage",
    "Gathered",
    "Mark",
    "Site",
    "SiteRun",
    "build_site",
    "claim_marks",
    "claims_html",
    "curves_html",
    "dataset_card_html",
    "dataset_html",
    "diagnostics_html",
    "gather",
    "markdown_html",
    "read_metrics",
    "run_html",
    "runs_table_html",
    "table_one_html",
]

SITE_MARK = ".lompo-bench-site"  # in every site built here: only such a folder is replaced by a new build


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
    datasets = dataset_pages(gathered.runs)
    if read_datasets:
        for page in datasets.values():
            read_installed(page, out, True, warn)
    # The report's stage files beside the site: the score file and Table I as Markdown and CSV.
    write_scores(cells, out / "data" / "scores.json", gathered.folders)
    (out / "data" / "table_one.md").write_text(tables.table_one_markdown())
    (out / "data" / "table_one.csv").write_text(tables.table_one_csv())
    anchors = _cell_anchors(tables)
    for run in gathered.runs:
        body = run_html(run, datasets, anchors.get(run.cell_key))
        (out / run.page).write_text(
            page_html(f"{run.record['algo']} {run.record['dataset_id']} seed {run.record['seed']}", body, 1)
        )
    for page in datasets.values():
        (out / page.page).write_text(page_html(page.dataset_id, dataset_html(page), 1))
    (out / "index.html").write_text(
        page_html(
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
            anchors[cell_key_of(cell)] = f"cell-{i}-{slugify(algo)}"
    return anchors


def _figures(out: Path, report: Any) -> list[str]:
    """The report's figures (SVG) copied into the site."""
    shown = []
    for path in getattr(report, "files", ()) or ():
        path = Path(path)
        if path.suffix == ".svg" and path.exists():
            (out / "figures").mkdir(exist_ok=True)
            shutil.copyfile(path, out / "figures" / path.name)
            shown.append(f'<p><img class="figure" src="figures/{esc(path.name)}" alt="{esc(path.stem)}"></p>')
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
            note = note.replace(str(folder), shown_path(folder))
        parts.append(f'<p class="note">{esc(note)}</p>')
    for folder in gathered.empty:
        parts.append(
            f'<p class="warn" id="empty">No result records in <code>{esc(shown_path(folder))}</code>: every cell '
            "below is not run yet. Train something (<code>lompo-bench train</code>) or name another runs "
            "folder.</p>"
        )
    if gathered.skipped:
        items = "".join(f"<li>{esc(reason)}</li>" for _, reason in gathered.skipped)
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
        parts.append(f'<p class="muted">{esc(stats.STATS_HINT)}; then <code>lompo-bench report --html OUT</code>.</p>')
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
    folders, cells = ", ".join(f"<code>{esc(shown_path(f))}</code>" for f in gathered.folders), tables.cells
    parts.append(
        f"<footer>Built by <code>lompo-bench report --html</code> at "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from {folders}; {len(gathered.runs)} runs in "
        f"{len(cells)} cells; code <code>{esc(code_permalink())}</code>. A static site: open index.html, or publish "
        "the folder on any static host.</footer>"
    )
    return "".join(parts)
