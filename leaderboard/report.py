"""`lompo-bench report`: result records -> score file -> Table I and the ablation, written beside each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboard import plots, stats
from leaderboard.claims import check_claims, claims_markdown
from leaderboard.paper import ALGORITHMS
from leaderboard.results import aggregate, read_records, write_scores
from leaderboard.tables import ablation_markdown, table_one_cells, table_one_csv, table_one_markdown
from lompo_bench.errors import UserError

PROFILES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Report:
    runs: int  # result records read
    cells: int  # (algorithm, profile, dataset) cells
    table_one: str  # markdown
    claims: str  # markdown
    aggregates: str | None  # markdown (IQM and probabilities of improvement), None without the stats extra
    files: tuple[Path, ...]


def build_report(
    runs_root: Path,
    out_dir: Path,
    profile: str = "cpu",
    dataset_profile: str | None = None,
    include_overrides: bool = False,
) -> Report:
    """Read every result record under `runs_root`, write `scores.json`, `table_one.md`, `table_one.csv`,
    `ablation.md`, `claims.md` and, with the stats extra, `aggregates.md` and the figures (`table_one`,
    `performance_profile`, `ablation`; PNG and SVG) into `out_dir`.
    `profile` selects the algorithms' profile, `dataset_profile` the datasets' (default: the same). Runs trained
    with `--set` overrides are not the profile's algorithm: they are left out unless `include_overrides`."""
    dataset_profile = dataset_profile or profile
    for name, value in (("--profile", profile), ("--data-profile", dataset_profile)):
        if value not in PROFILES:
            raise UserError(f"{name} must be one of {', '.join(PROFILES)}, not {value!r}")
    records = [r for r in read_records(runs_root) if include_overrides or not r.get("overrides")]
    cells = aggregate(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = out_dir / "scores.json"
    write_scores(cells, scores, runs_root)
    table = table_one_markdown(cells, profile, dataset_profile)
    claims = claims_markdown(check_claims(cells, profile, dataset_profile))
    files = {
        out_dir / "table_one.md": table,
        out_dir / "table_one.csv": table_one_csv(cells, profile, dataset_profile),
        out_dir / "ablation.md": ablation_markdown(cells, profile, dataset_profile),
        out_dir / "claims.md": claims,
    }
    summary = aggregates_section(list(table_one_cells(cells, profile, dataset_profile).values()))
    if summary is not None:
        files[out_dir / "aggregates.md"] = summary
    for path, text in files.items():
        path.write_text(text)
    figures: list[Path] = []
    if summary is not None and plots.have_matplotlib():
        table_cells = list(table_one_cells(cells, profile, dataset_profile).values())
        figures += plots.table_one_plot(cells, profile, dataset_profile, out_dir / "table_one")
        present = [a for a in ALGORITHMS if any(c.algo == a and c.scores for c in table_cells)]
        if present:
            figures += plots.performance_profile_plot(table_cells, present, out_dir / "performance_profile")
        figures += plots.ablation_plot(cells, profile, dataset_profile, out_dir / "ablation") or []
    return Report(len(records), len(cells), table, claims, summary, (scores, *files, *figures))


def aggregates_section(cells: list) -> str | None:
    """IQM and friends per algorithm, and LOMPO's probability of improvement over each baseline, over Table I's
    cells; None when the stats extra (rliable) is missing."""
    if not stats.have_rliable():
        return None
    present = [algo for algo in ALGORITHMS if any(c.algo == algo and c.scores for c in cells)]
    rows = stats.aggregates(cells, present)
    pairs = [stats.improvement(cells, "lompo", other) for other in present if other != "lompo"]
    return stats.aggregates_markdown(rows) + "\n" + stats.improvements_markdown([p for p in pairs if p is not None])
