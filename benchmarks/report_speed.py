"""`report`'s statistics: the probability of improvement between algorithms, ours (`stats.probability_of_improvement`,
pairs counted with numpy) against rliable's (`metrics.probability_of_improvement`, a scipy Mann-Whitney U call per
dataset), each evaluated inside rliable's seeded stratified bootstrap on the same records in the same run; then the
whole `build_report` once. Prints seconds, the ratio, and whether the two gave identical estimates and intervals.

    python benchmarks/report_speed.py [--runs leaderboard/results/cpu] [--reps 2000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from lompo_bench.leaderboard import stats
from lompo_bench.leaderboard.report import build_report
from lompo_bench.leaderboard.results import aggregate, read_records


def improvements(cells: list, pairs: list[tuple[str, str]], fn, reps: int) -> tuple[float, list]:
    """Seconds for every pair's point estimate and interval with `fn` as the statistic, and the results."""
    library, _ = stats._rliable()
    out, start = [], time.perf_counter()
    for algo, other in pairs:
        mine = {c.dataset_key: c for c in cells if c.algo == algo and c.scores}
        theirs = {c.dataset_key: c for c in cells if c.algo == other and c.scores}
        shared = sorted(set(mine) & set(theirs))
        x, y = stats.score_matrix(list(mine.values()), shared), stats.score_matrix(list(theirs.values()), shared)
        with stats.quiet_bootstrap():
            point, ci = library.get_interval_estimates({"pair": (x, y)}, lambda a, b: np.array([fn(a, b)]), reps=reps)
        out.append((point["pair"].tolist(), ci["pair"].tolist()))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("leaderboard/results/cpu"))
    parser.add_argument("--reps", type=int, default=stats.REPS)
    args = parser.parse_args()
    from rliable import metrics

    cells = [c for c in aggregate(read_records(args.runs)) if c.scores]
    algos = sorted({c.algo for c in cells})
    pairs = [
        (a, b)
        for a, b in itertools.permutations(algos, 2)
        if {c.dataset_key for c in cells if c.algo == a} & {c.dataset_key for c in cells if c.algo == b}
    ]
    ours_s, ours = improvements(cells, pairs, stats.probability_of_improvement, args.reps)
    rliable_s, theirs = improvements(cells, pairs, metrics.probability_of_improvement, args.reps)
    start = time.perf_counter()
    build_report(args.runs, Path(tempfile.mkdtemp()), profile="cpu")
    report_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "records": str(args.runs),
                "pairs": len(pairs),
                "reps": args.reps,
                "improvement_seconds_ours": round(ours_s, 2),
                "improvement_seconds_rliable": round(rliable_s, 2),
                "ratio_rliable_over_ours": round(rliable_s / ours_s, 1),
                "identical_estimates_and_intervals": ours == theirs,
                "build_report_seconds_now": round(report_s, 2),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
