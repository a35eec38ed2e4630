"""The records a leaderboard site shows (`leaderboard.site`), selected as `report` selects them: `SiteRun` (a record,
its file and run folder, its page name), `Gathered` and `gather` (the runs and their score cells, the records skipped),
and the small names every page shares: the key of a record's score cell (`cell_key_of`), the site's file names
(`slugify`), a path as the site shows it (`shown_path`) and an error in one line (`one_line`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError
from lompo_bench.leaderboard import report as report_module
from lompo_bench.leaderboard.results import ScoreCell, aggregate, pooled_key, run_key, seen_before, valid_records

REPO = Path(__file__).resolve().parent.parent


@dataclass
class SiteRun:
    """One result record and where it lives; `folder` is its run folder (metrics.csv, config.json when present)."""

    record: dict[str, Any]
    path: Path
    root: Path
    reference: bool = False
    slug: str = ""
    cell_key: tuple[Any, ...] = ()  # the key (`cell_key_of`) of the score cell its record is gathered into

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


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_folder(folder: Path, gathered: Gathered, warn: Callable[[str], None]) -> list[tuple[dict[str, Any], Path]]:
    """Every valid record under `folder` (`results.valid_records`, as `read_runs` reads); one warning line per
    record that does not validate (skipped, and listed in `gathered`) and for a folder without any."""
    before = len(gathered.skipped)
    found = valid_records(folder, warn, gathered.skipped)
    if not found and len(gathered.skipped) == before:
        gathered.empty.append(folder)
        warn(f"warning: no result records in {shown_path(folder)}")
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
            key = pooled_key(record)
            if seen_before(seen, key, record, path):
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
        run.cell_key = cell_key_of(aggregate([run.record])[0])
    reference_cells = {run.cell_key for run in gathered.runs if run.reference}
    for cell in gathered.cells:
        cell.reference = cell_key_of(cell) in reference_cells
    _name_runs(gathered.runs)
    return gathered


def cell_key_of(cell: ScoreCell) -> tuple[Any, ...]:
    """What tells score cells apart: algorithm, profile, dataset content and, where cells carry it, the evaluation
    episode count when it is not the profile's standard."""
    return cell.algo, cell.profile, cell.dataset_id, cell.dataset_fingerprint or "", getattr(cell, "episodes", None)


def slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("_") or "x"


def _name_runs(runs: list[SiteRun]) -> None:
    """Each run a page name from its folder under its runs folder (`<algo>/<dataset id>/<profile>-seed<n>`)."""
    used: set[str] = set()
    for run in sorted(runs, key=lambda r: (str(r.root), str(r.path))):
        try:
            parts = run.folder.relative_to(run.root).parts
        except ValueError:
            parts = (run.record["algo"], run.record["dataset_id"], run.folder.name)
        base = slugify("__".join(parts))
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        run.slug = slug


def shown_path(path: Path) -> str:
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
