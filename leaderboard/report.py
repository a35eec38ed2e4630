"""`lompo-bench report`: result records -> score file -> Table I and the ablation, written beside each other.

Without a runs folder of one's own (a fresh clone), `lompo-bench report` shows the records committed under
`leaderboard/results/<profile>/`, marked as the repository's, so the first look at the leaderboard needs no
training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboard import plots, stats
from leaderboard.claims import check_claims, claims_markdown
from leaderboard.paper import ALGORITHMS, algorithm_order
from leaderboard.results import aggregate, read_records, write_scores
from leaderboard.tables import ablation_markdown, table_one_cells, table_one_csv, table_one_markdown
from lompo_bench.errors import UserError

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
    runs_root: Path  # where the records came from
    note: str | None = None  # said first when they are not the user's own (the repository's reference records)


def reference_records(profile: str) -> Path | None:
    """The repository's committed records for `profile` (`leaderboard/results/<profile>/`), if there are any."""
    folder = REFERENCE_RECORDS / profile
    return folder if folder.is_dir() and any(folder.rglob("result.json")) else None


def _records_root(runs_root: Path, profile: str, reference_fallback: bool) -> tuple[Path, str | None]:
    """The runs root to read and what to say about it: a missing one is an error naming the reference records, or
    with `reference_fallback` (the default runs folder on a fresh clone) those records themselves, marked."""
    if runs_root.is_dir():
        return runs_root, None
    reference = reference_records(profile)
    if reference_fallback and reference is not None:
        return reference, (
            f"No runs folder at {runs_root} yet: showing the repository's reference records ({reference}, committed "
            "with the code), not runs of yours. Train your own (lompo-bench train, reproduce) or pass --runs."
        )
    available = [p for p in PROFILES if reference_records(p) is not None]
    hint = "".join(f"; the repository's reference records: lompo-bench report --runs {reference_records(p)} "
                   f"--profile {p}" for p in available[:1])  # fmt: skip
    raise UserError(f"no runs folder at {runs_root}; train something first (lompo-bench train ...){hint}")


def build_report(
    runs_root: Path,
    out_dir: Path,
    profile: str = "cpu",
    dataset_profile: str | None = None,
    include_overrides: bool = False,
    reference_fallback: bool = False,
) -> Report:
    """Read every result record under `runs_root`, write `scores.json`, `table_one.md`, `table_one.csv`,
    `ablation.md`, `claims.md` and, with the stats extra, `aggregates.md` and the figures (`table_one`,
    `performance_profile`, `ablation`; PNG and SVG) into `out_dir`.
    `profile` selects the algorithms' profile, `dataset_profile` the datasets' (default: the same). Runs trained
    with `--set` overrides are not the profile's algorithm: they are left out unless `include_overrides`.
    `reference_fallback`: without a folder at `runs_root`, report the repository's reference records (marked)."""
    dataset_profile = dataset_profile or profile
    for name, value in (("--profile", profile), ("--data-profile", dataset_profile)):
        if value not in PROFILES:
            raise UserError(f"{name} must be one of {', '.join(PROFILES)}, not {value!r}")
    runs_root, note = _records_root(runs_root, profile, reference_fallback)
    records = [r for r in read_records(runs_root) if include_overrides or not r.get("overrides")]
    cells = aggregate(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = out_dir / "scores.json"
    write_scores(cells, scores, runs_root)
    table = (f"{note}\n\n" if note else "") + table_one_markdown(cells, profile, dataset_profile)
    claims = claims_markdown(check_claims(cells, profile, dataset_profile))
    files = {
        out_dir / "table_one.md": table,
        out_dir / "table_one.csv": table_one_csv(cells, profile, dataset_profile),
        out_dir / "ablation.md": ablation_markdown(cells, profile, dataset_profile),
        out_dir / "claims.md": claims,
    }
    summary = aggregates_section(table_one_cells(cells, profile, dataset_profile))
    if summary is not None:
        files[out_dir / "aggregates.md"] = summary
    for path, text in files.items():
        path.write_text(text)
    figures: list[Path] = []
    if summary is not None and plots.have_matplotlib():
        table_cells = table_one_cells(cells, profile, dataset_profile)
        figures += plots.table_one_plot(cells, profile, dataset_profile, out_dir / "table_one")
        present = algorithm_order(c.algo for c in table_cells if c.scores)
        if present:
            figures += plots.performance_profile_plot(table_cells, present, out_dir / "performance_profile")
        figures += plots.ablation_plot(cells, profile, dataset_profile, out_dir / "ablation") or []
    return Report(len(records), len(cells), table, claims, summary, (scores, *files, *figures), runs_root, note)


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
