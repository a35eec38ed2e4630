"""`lompo-bench report`: result records -> score file -> Table I and the ablation, written beside each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leaderboard.plots import table_one_plot
from leaderboard.results import aggregate, read_records, write_scores
from leaderboard.tables import ablation_markdown, table_one_csv, table_one_markdown
from lompo_bench.errors import UserError

PROFILES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class Report:
    runs: int  # result records read
    cells: int  # (algorithm, profile, dataset) cells
    table_one: str  # markdown
    files: tuple[Path, ...]


def build_report(runs_root: Path, out_dir: Path, profile: str = "cpu", dataset_profile: str | None = None) -> Report:
    """Read every result record under `runs_root`, write `scores.json`, `table_one.md`, `table_one.csv`,
    `table_one.png` and `ablation.md` into `out_dir`. `profile` selects the algorithms' profile,
    `dataset_profile` the datasets' (default: the same)."""
    dataset_profile = dataset_profile or profile
    for name, value in (("--profile", profile), ("--data-profile", dataset_profile)):
        if value not in PROFILES:
            raise UserError(f"{name} must be one of {', '.join(PROFILES)}, not {value!r}")
    records = read_records(runs_root)
    cells = aggregate(records)
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = out_dir / "scores.json"
    write_scores(cells, scores, runs_root)
    table = table_one_markdown(cells, profile, dataset_profile)
    files = {
        out_dir / "table_one.md": table,
        out_dir / "table_one.csv": table_one_csv(cells, profile, dataset_profile),
        out_dir / "ablation.md": ablation_markdown(cells, profile, dataset_profile),
    }
    for path, text in files.items():
        path.write_text(text)
    plot = out_dir / "table_one.png"
    table_one_plot(cells, profile, dataset_profile, plot)
    return Report(len(records), len(cells), table, (scores, *files, plot))
