"""The leaderboard's figures, drawn with matplotlib (the `stats` extra; no torch), each as PNG and SVG:

- `table_one`: for every dataset of Table I, each algorithm's mean normalized score over seeds with its 95%
  bootstrap CI (solid bars, error bars) beside the paper's number (light bars); negative scores drawn negative;
- `performance_profile`: for each algorithm, the fraction of its runs (over the datasets it ran on) scoring above
  tau, with a 95% stratified-bootstrap band (rliable), as Agarwal et al. (2021) draw them;
- `ablation`: Appendix B's D'Claw score against dataset size, one line per algorithm, with CIs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.paper import ALGORITHM_TITLES, ALGORITHMS, TABLE_I, TASK_TITLES
from leaderboard.results import ScoreCell
from leaderboard.stats import mean_ci, quiet_bootstrap, score_matrix
from leaderboard.tables import table_one_cells

COLORS = {"lompo": "#1f77b4", "lmbrl": "#ff7f0e", "offline_slac": "#2ca02c", "cql": "#d62728", "bc": "#9467bd"}
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


def _interval(cell: ScoreCell) -> tuple[float, float, float]:
    low, high = mean_ci(cell.scores)
    return float(cell.mean), float(cell.mean) - low, high - float(cell.mean)


def table_one_plot(cells: Sequence[ScoreCell], profile: str, dataset_profile: str, stem: Path) -> list[Path]:
    """Table I as grouped bars: ours (mean, 95% CI) and the paper's, per dataset and algorithm."""
    plt = _pyplot()
    ours = table_one_cells(list(cells), profile, dataset_profile)
    rows = list(TABLE_I)
    width = 0.8 / (2 * len(ALGORITHMS))
    figure, axis = plt.subplots(figsize=(max(10, 1.3 * len(rows)), 4.2))
    for a, algo in enumerate(ALGORITHMS):
        offsets = np.arange(len(rows)) - 0.4 + (2 * a + 0.5) * width
        paper = [TABLE_I[row][algo] for row in rows]
        axis.bar(offsets + width, paper, width, color=COLORS[algo], alpha=0.3)
        found = [(i, _interval(ours[(*row, algo)])) for i, row in enumerate(rows)
                 if (*row, algo) in ours and ours[(*row, algo)].scores]  # fmt: skip
        if found:
            index = np.array([i for i, _ in found])
            mean, below, above = (np.array(v) for v in zip(*(x for _, x in found), strict=True))
            axis.bar(offsets[index], mean, width, color=COLORS[algo], yerr=np.stack([below, above]), capsize=2,
                     error_kw={"linewidth": 0.8})  # fmt: skip
    axis.axhline(0, color="black", linewidth=0.6)
    axis.set_xticks(np.arange(len(rows)))
    axis.set_xticklabels([f"{TASK_TITLES[t]}\n{k}" for t, k in rows], fontsize=7)
    axis.set_ylabel("normalized score")
    axis.set_title(f"Table I: ours (solid, mean and 95% CI; {profile}) beside the paper's (light)", fontsize=9)
    from matplotlib.patches import Patch

    handles = [Patch(color=COLORS[algo], label=ALGORITHM_TITLES[algo]) for algo in ALGORITHMS]
    axis.legend(handles=handles, fontsize=7, ncol=len(ALGORITHMS), loc="upper center", bbox_to_anchor=(0.5, -0.18))
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
            matrices[algo] = score_matrix(mine, sorted(c.dataset_id for c in mine))
    with quiet_bootstrap():
        profiles, bands = library.create_performance_profile(matrices, taus, reps=500)
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for algo, profile in profiles.items():
        axis.plot(taus, profile, color=COLORS.get(algo), label=ALGORITHM_TITLES.get(algo, algo))
        axis.fill_between(taus, bands[algo][0], bands[algo][1], color=COLORS.get(algo), alpha=0.2)
    axis.set_xlabel("normalized score tau")
    axis.set_ylabel("fraction of runs with score > tau")
    axis.set_title("Performance profiles (95% stratified-bootstrap bands)", fontsize=9)
    axis.legend(fontsize=7)
    return _save(figure, stem)


def ablation_plot(cells: Sequence[ScoreCell], profile: str, dataset_profile: str, stem: Path) -> list[Path] | None:
    """Appendix B: score against dataset size (log scale), one line per algorithm; None without ablation runs."""
    ablation = [c for c in cells if c.ablation_factor is not None and c.profile == profile
                and c.dataset_profile == dataset_profile and c.scores]  # fmt: skip
    if not ablation:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5.5, 3.6))
    for algo in ALGORITHMS:
        mine = sorted((c for c in ablation if c.algo == algo), key=lambda c: c.dataset_transitions or 0)
        if not mine:
            continue
        sizes = [c.dataset_transitions for c in mine]
        mean, below, above = (np.array(v) for v in zip(*(_interval(c) for c in mine), strict=True))
        axis.errorbar(sizes, mean, yerr=np.stack([below, above]), color=COLORS[algo], marker="o", capsize=3,
                      label=ALGORITHM_TITLES[algo])  # fmt: skip
    axis.set_xscale("log")
    axis.set_xlabel("transitions in the dataset")
    axis.set_ylabel("normalized score")
    axis.set_title("D'Claw Screw medium-expert by dataset size (Appendix B)", fontsize=9)
    axis.legend(fontsize=7)
    return _save(figure, stem)
