"""The leaderboard's figures, drawn with matplotlib (the `stats` extra; no torch), each as PNG and SVG:

- `table_one`: for every dataset of Table I (a row per dataset content, as the table's), each algorithm's mean
  normalized score over seeds with its 95% bootstrap CI (solid bars, error bars) beside the paper's number (light
  bars; none for an algorithm the paper did not run); negative scores drawn negative;
- `performance_profile`: for each algorithm, the fraction of its runs (over the datasets it ran on) scoring above
  tau, with a 95% stratified-bootstrap band (rliable), as Agarwal et al. (2021) draw them;
- `ablation`: Appendix B's D'Claw score against dataset size, one line per algorithm, with CIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.leaderboard.paper import TABLE_I, TASK_TITLES, algorithm_order, algorithm_title
from lompo_bench.leaderboard.results import ScoreCell
from lompo_bench.leaderboard.stats import mean_ci, score_matrix, seeded_bootstrap
from lompo_bench.leaderboard.tables import ablation_cells, ablation_lines, table_one_algorithms, table_one_table

COLORS = {"lompo": "#1f77b4", "lmbrl": "#ff7f0e", "offline_slac": "#2ca02c", "cql": "#d62728", "bc": "#9467bd"}
OTHER_COLORS = ("#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31")
FORMATS = ("png", "svg")


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, stem: Path) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(f".{fmt}") for fmt in FORMATS]
    for path in paths:
        figure.savefig(path, dpi=150, bbox_inches="tight")
    _pyplot().close(figure)
    return paths


def _colors(algos: Sequence[str]) -> dict[str, str]:
    """The paper's algorithms keep their colours; others take the next free ones, in column order."""
    others = iter(OTHER_COLORS * (1 + len(algos) // len(OTHER_COLORS)))
    return {algo: COLORS[algo] if algo in COLORS else next(others) for algo in algorithm_order(algos)}


def _interval(cell: ScoreCell) -> tuple[float, float, float]:
    low, high = mean_ci(cell.scores)
    return float(cell.mean), float(cell.mean) - low, high - float(cell.mean)


def table_one_plot(cells: Sequence[ScoreCell], profile: str, dataset_profile: str, stem: Path) -> list[Path]:
    """Table I as grouped bars: ours (mean, 95% CI) and the paper's, per dataset and algorithm."""
    plt = _pyplot()
    rows = table_one_table(cells, profile, dataset_profile)
    algos = table_one_algorithms(cells, profile, dataset_profile)
    colors = _colors(algos)
    width = 0.8 / (2 * len(algos))
    figure, axis = plt.subplots(figsize=(max(10, 1.3 * len(rows)), 4.2))
    for a, algo in enumerate(algos):
        offsets = np.arange(len(rows)) - 0.4 + (2 * a + 0.5) * width
        paper = [TABLE_I[row.task, row.kind].get(algo) for row in rows]
        if all(value is not None for value in paper):
            axis.bar(offsets + width, paper, width, color=colors[algo], alpha=0.3)
        found = [(i, _interval(row.cells[algo])) for i, row in enumerate(rows)
                 if algo in row.cells and row.cells[algo].scores]  # fmt: skip
        if found:
            index = np.array([i for i, _ in found])
            mean, below, above = (np.array(v) for v in zip(*(x for _, x in found), strict=True))
            axis.bar(offsets[index], mean, width, color=colors[algo], yerr=np.stack([below, above]), capsize=2,
                     error_kw={"linewidth": 0.8})  # fmt: skip
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xticks(np.arange(len(rows)))
    axis.set_xticklabels([f"{TASK_TITLES[row.task]}\n{row.label}" for row in rows], fontsize=7)
    axis.set_ylabel("normalized score")
    axis.set_title(f"Table I: ours (solid, mean and 95% CI; {profile}) beside the paper's (light)", fontsize=9)
    from matplotlib.patches import Patch

    handles = [Patch(color=colors[algo], label=algorithm_title(algo)) for algo in algos]
    axis.legend(handles=handles, fontsize=7, ncol=min(len(algos), 5), loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return _save(figure, stem)


def performance_profile_plot(cells: Sequence[ScoreCell], algos: Sequence[str], stem: Path) -> list[Path]:
    """Score distributions (rliable's performance profiles) of each algorithm over the datasets it ran on."""
    from rliable import library

    plt = _pyplot()
    taus = np.linspace(-20, 120, 141)
    matrices = {}
    for algo in algos:
        mine = [c for c in cells if c.algo == algo and c.scores]
        if mine:
            matrices[algo] = score_matrix(mine, sorted(c.dataset_key for c in mine))
    with seeded_bootstrap():
        profiles, bands = library.create_performance_profile(matrices, taus, reps=500)
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    colors = _colors(list(profiles))
    for algo, profile in profiles.items():
        axis.plot(taus, profile, color=colors[algo], label=algorithm_title(algo))
        axis.fill_between(taus, bands[algo][0], bands[algo][1], color=colors[algo], alpha=0.2)
    axis.set_xlabel("normalized score tau")
    axis.set_ylabel("fraction of runs with score > tau")
    axis.set_title("Performance profiles (95% stratified-bootstrap bands)", fontsize=9)
    axis.legend(fontsize=7)
    return _save(figure, stem)


def ablation_plot(cells: Sequence[ScoreCell], profile: str, dataset_profile: str, stem: Path) -> list[Path] | None:
    """Appendix B: score against dataset size (log scale), one line per algorithm; None without ablation runs."""
    ablation = [c for c in ablation_cells(cells, profile, dataset_profile) if c.scores]
    if not ablation:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    colors = _colors([c.algo for c in ablation])
    for label, algo, line in ablation_lines(ablation):
        mine = sorted(line.values(), key=lambda c: c.dataset_transitions or 0)
        sizes = [c.dataset_transitions for c in mine]
        mean, below, above = (np.array(v) for v in zip(*(_interval(c) for c in mine), strict=True))
        axis.errorbar(sizes, mean, yerr=np.stack([below, above]), color=colors[algo], marker="o", capsize=3,
                      label=label)  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("transitions in the dataset")
    axis.set_ylabel("normalized score")
    axis.set_title("D'Claw Screw medium-expert by dataset size (Appendix B)", fontsize=9)
    axis.legend(fontsize=7)
    return _save(figure, stem)
