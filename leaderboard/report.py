"""`lompo-bench report`: result records -> score file -> Table I and the ablation, written beside each other.

`lompo-bench report` shows the user's runs (`$LOMPO_BENCH_HOME/runs`) beside the records committed under
`leaderboard/results/<profile>/` (the repository's, marked); a cell the user has runs of shows the user's alone,
never the two pooled. Without a runs folder of one's own (a fresh clone) it shows the committed records alone,
so the first look at the leaderboard needs no training. `--runs A --runs B` pools the named folders instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError
from lompo_bench.leaderboard import plots, stats
from lompo_bench.leaderboard.claims import check_claims, claims_markdown
from lompo_bench.leaderboard.paper import ALGORITHMS, algorithm_order
from lompo_bench.leaderboard.results import aggregate, read_runs, run_key, write_scores
from lompo_bench.leaderboard.tables import Tables

PROFILES = ("smoke", "cpu", "paper")
REFERENCE_RECORDS = Path(__file__).resolve().parent / "results"  # committed records: a runs folder per profile


@dataclass(frozen=True)
class Report:
    runs: int  # result records read
    cells: int  # (algorithm, profile, dataset) cells
    table_one: str  # markdown
    claims: str  # markdown
    aggregates: str | None  # markdown (IQM and probabilities of improvement), None without the stats extra
    files: tuple[Path, ...]
    runs_root: Path  # where the records came from (the first folder where several)
    note: str | None = None  # said first when they are not the user's own alone (the repository's reference records)
    runs_roots: tuple[Path, ...] = field(default=())  # every folder read, the reference records' last


def reference_records(profile: str) -> Path | None:
    """The repository's committed records for `profile` (`leaderboard/results/<profile>/`), if there are any."""
    folder = REFERENCE_RECORDS / profile
    return folder if folder.is_dir() and any(folder.rglob("result.json")) else None


def _missing(runs_root: Path) -> UserError:
    available = [p for p in PROFILES if reference_records(p) is not None]
    hint = "".join(f"; the repository's reference records: lompo-bench report --runs {reference_records(p)} "
                   f"--profile {p}" for p in available[:1])  # fmt: skip
    return UserError(f"no runs folder at {runs_root}; train something first (lompo-bench train ...){hint}")


def _folders(
    roots: list[Path], profile: str, reference_fallback: bool, with_reference: bool
) -> tuple[list[Path], Path | None, str | None]:
    """The runs folders to read, the reference folder among them when it stands beside the user's runs, and what
    to say about them. A missing folder is an error naming the reference records, unless `reference_fallback` and
    it is the one (default) folder: then those records alone, marked."""
    reference = reference_records(profile)
    for root in roots:
        if not root.is_dir():
            if reference_fallback and len(roots) == 1 and reference is not None:
                note = (
                    f"No runs folder at {root} yet: showing the repository's reference records ({reference}, "
                    "committed with the code), not runs of yours. Train your own (lompo-bench train, reproduce) or "
                    "pass --runs."
                )
                return [reference], None, note
            raise _missing(root)
    if not with_reference or reference is None or reference.resolve() in {r.resolve() for r in roots}:
        return roots, None, None
    mine = ", ".join(map(str, roots))
    note = (
        f"Your runs ({mine}) beside the repository's reference records ({reference}, marked ‡); a cell you have "
        f"runs of shows yours alone. Yours alone: lompo-bench report --runs {roots[0]}."
    )
    return [*roots, reference], reference, note


def _records(
    folders: list[Path], reference: Path | None, include_overrides: bool
) -> tuple[list[dict[str, Any]], list[str], set[tuple[str, str, str, str]]]:
    """The records to tabulate, their folders, and the cells that are the reference records': those of the user's
    folders pooled, then the reference records of every cell the user has no record of (never the two in one
    cell)."""
    mine = [f for f in folders if f != reference]
    records, origins = read_runs(mine)
    kept = [(r, o) for r, o in zip(records, origins, strict=True) if include_overrides or not r.get("overrides")]
    reference_cells: set[tuple[str, str, str, str]] = set()
    if reference is not None:
        own = {run_key(r)[:4] for r, _ in kept}
        theirs, _ = read_runs([reference])
        for record in theirs:
            cell = run_key(record)[:4]
            if cell not in own and (include_overrides or not record.get("overrides")):
                kept.append((record, str(reference)))
                reference_cells.add(cell)
    return [r for r, _ in kept], [o for _, o in kept], reference_cells


def build_report(
    runs_root: Path | Sequence[Path],
    out_dir: Path,
    profile: str = "cpu",
    dataset_profile: str | None = None,
    include_overrides: bool = False,
    reference_fallback: bool = False,
    with_reference: bool = False,
) -> Report:
    """Read every result record under `runs_root` (a runs folder, or several: their records pooled), write
    `scores.json`, `table_one.md`, `table_one.csv`, `ablation.md`, `claims.md` and, with the stats extra,
    `aggregates.md` and the figures (`table_one`, `performance_profile`, `ablation`; PNG and SVG) into `out_dir`.
    `profile` selects the algorithms' profile, `dataset_profile` the datasets' (default: the same). Runs trained
    with `--set` overrides are not the profile's algorithm: they are left out unless `include_overrides`.
    `reference_fallback`: without a folder at `runs_root`, report the repository's reference records (marked).
    `with_reference`: the repository's reference records beside the runs, in the cells the runs leave empty
    (marked ‡)."""
    dataset_profile = dataset_profile or profile
    for name, value in (("--profile", profile), ("--data-profile", dataset_profile)):
        if value not in PROFILES:
            raise UserError(f"{name} must be one of {', '.join(PROFILES)}, not {value!r}")
    roots = [runs_root] if isinstance(runs_root, Path) else [Path(root) for root in runs_root]
    if not roots:
        raise UserError("no runs folder given")
    folders, reference, note = _folders(roots, profile, reference_fallback, with_reference)
    records, origins, reference_cells = _records(folders, reference, include_overrides)
    cells = aggregate(records, origins)
    for cell in cells:
        cell.reference = (cell.algo, cell.profile, cell.dataset_id, cell.dataset_fingerprint or "") in reference_cells
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = out_dir / "scores.json"
    write_scores(cells, scores, folders)
    tables = Tables(cells, profile, dataset_profile)
    table = (f"{note}\n\n" if note else "") + tables.table_one_markdown()
    claims = claims_markdown(check_claims(cells, profile, dataset_profile))
    files = {
        out_dir / "table_one.md": table,
        out_dir / "table_one.csv": tables.table_one_csv(),
        out_dir / "ablation.md": tables.ablation_markdown(),
        out_dir / "claims.md": claims,
    }
    summary = aggregates_section(tables.table_one_cells)
    if summary is not None:
        files[out_dir / "aggregates.md"] = summary
    for path, text in files.items():
        path.write_text(text)
    figures: list[Path] = []
    if summary is not None and plots.have_matplotlib():
        table_cells = tables.table_one_cells
        figures += plots.table_one_plot(cells, profile, dataset_profile, out_dir / "table_one")
        present = algorithm_order(c.algo for c in table_cells if c.scores)
        if present:
            figures += plots.performance_profile_plot(table_cells, present, out_dir / "performance_profile")
        figures += plots.ablation_plot(cells, profile, dataset_profile, out_dir / "ablation") or []
    return Report(
        len(records), len(cells), table, claims, summary, (scores, *files, *figures), folders[0], note, tuple(folders)
    )


def aggregates_section(cells: list) -> str | None:
    """IQM and friends per algorithm (the paper's first, then others), LOMPO's probability of improvement over
    each other algorithm, and each algorithm not in the paper's over each of the paper's, over Table I's cells;
    None when the stats extra (rliable) is missing."""
    if not stats.have_rliable():
        return None
    present = algorithm_order(c.algo for c in cells if c.scores)
    rows = stats.aggregates(cells, present)
    pairs = [stats.improvement(cells, "lompo", other) for other in present if other != "lompo"]
    newcomers = [algo for algo in present if algo not in ALGORITHMS]
    pairs += [stats.improvement(cells, new, old) for new in newcomers for old in present if old in ALGORITHMS]
    return stats.aggregates_markdown(rows) + "\n" + stats.improvements_markdown([p for p in pairs if p is not None])
