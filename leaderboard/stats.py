"""Interval estimates over runs, as the field reports them since Agarwal et al. (NeurIPS 2021, "Deep RL at the edge
of the statistical precipice"):

- per cell (one algorithm on one dataset): the mean over seeds with a 95% percentile-bootstrap confidence interval
  (numpy only, so Table I builds without the `stats` extra);
- per algorithm, over the cells it ran on: IQM, mean, median and optimality gap with stratified-bootstrap 95% CIs,
  probabilities of improvement between algorithms, and performance profiles, all through `rliable` (the `stats`
  extra, `pip install -e ".[stats]"`).

Scores are D4RL-normalized (0 = random policy, 100 = expert). rliable's optimality gap is taken at 100 (the expert),
and its estimators get scores / 100 (their [0, 1] convention) and are scaled back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lompo_bench.errors import UserError
from lompo_bench.leaderboard.paper import algorithm_title
from lompo_bench.leaderboard.results import ScoreCell

REPS = 2000  # bootstrap resamples (rliable's examples use 2000 for CIs of this kind)
LEVEL = 0.95
SEED = 0  # bootstrap draws are seeded: the same records give the same report
METRICS = ("IQM", "Mean", "Median", "Optimality gap")
STATS_HINT = 'IQM / probability-of-improvement tables need the stats extra: pip install -e ".[stats]"'


def mean_ci(values: Sequence[float], reps: int = REPS, level: float = LEVEL, seed: int = SEED) -> tuple[float, float]:
    """The `level` percentile-bootstrap interval of the mean of `values` (one value: that value, twice)."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        return float(x.mean()), float(x.mean())
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(reps, len(x)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def separated(a: Sequence[float], b: Sequence[float]) -> str:
    """ "above", "below" or "tie": whether the 95% intervals of the two means (`mean_ci`) are separated, and how."""
    (a_low, a_high), (b_low, b_high) = mean_ci(a), mean_ci(b)
    return "above" if a_low > b_high else "below" if a_high < b_low else "tie"


def have_rliable() -> bool:
    try:
        import rliable  # noqa: F401
    except Exception:  # ImportError, or a broken arch/pandas pairing (arch 7 fails to import on pandas 3)
        return False
    return True


@contextlib.contextmanager
def seeded_bootstrap() -> Iterator[None]:
    """rliable's bootstraps, seeded. rliable 1.2's stratified bootstraps draw their indices from numpy's global
    generator (`np.random.choice` in `update_indices`), whatever `random_state` they are given (so none is passed),
    and without this the same records gave different intervals on every call (0.14-0.17 and 0.89-0.94 for one
    pair's probability of improvement, three calls): the global generator is seeded with `SEED` here and its state
    restored after."""
    state = np.random.get_state()
    np.random.seed(SEED)
    try:
        yield
    finally:
        np.random.set_state(state)


def _rliable() -> tuple[Any, Any]:
    if not have_rliable():
        raise UserError(STATS_HINT)
    from rliable import library, metrics

    return library, metrics


def score_matrix(cells: Sequence[ScoreCell], datasets: Sequence[str]) -> np.ndarray:
    """(runs x datasets) normalized scores of one algorithm's cells on `datasets` (`ScoreCell.dataset_key`s: one
    dataset content each), as rliable wants them: the same number of runs per dataset, so each column keeps its
    first `min(seeds)` seeds (by seed number)."""
    by_dataset = {c.dataset_key: c for c in cells}
    columns = []
    for ds in datasets:
        cell = by_dataset[ds]
        order = np.argsort(cell.seeds[: len(cell.scores)])
        columns.append(np.asarray(cell.scores, dtype=float)[order])
    runs = min(len(c) for c in columns)
    return np.stack([c[:runs] for c in columns], axis=1)


@dataclass(frozen=True)
class Aggregate:
    algo: str
    datasets: int
    runs: int  # runs per dataset used
    point: dict[str, float]
    ci: dict[str, tuple[float, float]]


def _aggregate_fn(metrics: Any) -> Any:
    def fn(x: np.ndarray) -> np.ndarray:
        return np.array([
            metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x),
            metrics.aggregate_optimality_gap(x, 1.0),
        ])  # fmt: skip

    return fn


def aggregates(cells: Sequence[ScoreCell], algos: Sequence[str], reps: int = REPS) -> list[Aggregate]:
    """IQM, mean, median and optimality gap of each algorithm over the datasets it has scores on, with
    stratified-bootstrap CIs (rliable)."""
    library, metrics = _rliable()
    scored = [c for c in cells if c.scores]
    out = []
    for algo in algos:
        mine = [c for c in scored if c.algo == algo]
        if not mine:
            continue
        matrix = score_matrix(mine, sorted(c.dataset_key for c in mine))
        with seeded_bootstrap():
            point, ci = library.get_interval_estimates({algo: matrix / 100}, _aggregate_fn(metrics), reps=reps)
        out.append(Aggregate(
            algo, matrix.shape[1], matrix.shape[0],
            {m: float(v) * 100 for m, v in zip(METRICS, point[algo], strict=True)},
            {m: (float(ci[algo][0, i]) * 100, float(ci[algo][1, i]) * 100) for i, m in enumerate(METRICS)},
        ))  # fmt: skip
    return out


@dataclass(frozen=True)
class Improvement:
    algo: str
    other: str
    datasets: int
    probability: float  # P(a run of `algo` scores above a run of `other` on a dataset both ran), averaged over them
    ci: tuple[float, float]


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """rliable's `metrics.probability_of_improvement` without a scipy call per dataset: for each dataset (column),
    the Mann-Whitney U of x's runs over y's divided by the number of pairs, i.e. the share of (x run, y run) pairs
    where x scores higher, ties counting half; then the mean over datasets. rliable takes U from
    `scipy.stats.mannwhitneyu` (average ranks) and gives 0.5 where the two columns are equal, the value this count
    gives there too; the counts are exact, so the two agree to the last bit (tests/test_stats.py). Evaluated
    `REPS` times per pair by the bootstrap, scipy's call made `improvement` 76% of `build_report`'s time on the
    committed cpu records (benchmarks/report_speed.py: 23.7x faster, identical intervals)."""
    a, b = x[:, None, :], y[None, :, :]
    pairs = (a > b).sum(axis=(0, 1)) + 0.5 * (a == b).sum(axis=(0, 1))
    return float(np.mean(pairs / (x.shape[0] * y.shape[0])))


def improvement(
    cells: Sequence[ScoreCell],
    algo: str,
    other: str,
    reps: int = REPS,
    statistic: Callable[[np.ndarray, np.ndarray], float] = probability_of_improvement,
) -> Improvement | None:
    """Probability of improvement of `algo` over `other` on the datasets both have scores on (rliable's stratified
    bootstrap), or None when they share none. A dataset is one content: cells on two contents of one id are not
    compared. `statistic`: rliable's own `metrics.probability_of_improvement` gives the same (the benchmark and
    test that compare them)."""
    library, _ = _rliable()
    mine = {c.dataset_key: c for c in cells if c.algo == algo and c.scores}
    theirs = {c.dataset_key: c for c in cells if c.algo == other and c.scores}
    shared = sorted(set(mine) & set(theirs))
    if not shared:
        return None
    x = score_matrix(list(mine.values()), shared)
    y = score_matrix(list(theirs.values()), shared)
    with seeded_bootstrap():
        point, ci = library.get_interval_estimates(
            {"pair": (x, y)}, lambda a, b: np.array([statistic(a, b)]), reps=reps
        )
    return Improvement(algo, other, len(shared), float(point["pair"][0]), (float(ci["pair"][0, 0]),
                                                                         float(ci["pair"][1, 0])))  # fmt: skip


def aggregates_markdown(rows: Sequence[Aggregate]) -> str:
    lines = [
        "Aggregates over the datasets each algorithm ran on (normalized scores; stratified-bootstrap 95% CIs, "
        "rliable; optimality gap: distance below the expert's 100, lower is better).",
        "",
        "| Algorithm | Datasets | Runs each | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for row in rows:
        values = [f"{row.point[m]:.1f} [{row.ci[m][0]:.1f}, {row.ci[m][1]:.1f}]" for m in METRICS]
        lines.append(f"| {algorithm_title(row.algo)} | {row.datasets} | {row.runs} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def improvements_markdown(rows: Sequence[Improvement]) -> str:
    lines = [
        "Probability of improvement P(X > Y): the chance that a run of X scores above a run of Y on a dataset both "
        "ran, averaged over those datasets (rliable; 95% CI). 0.5 is a coin flip.",
        "",
        "| X | Y | Datasets | P(X > Y) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {algorithm_title(r.algo)} | {algorithm_title(r.other)} | {r.datasets} | {r.probability:.2f} "
              f"[{r.ci[0]:.2f}, {r.ci[1]:.2f}] |" for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n"
