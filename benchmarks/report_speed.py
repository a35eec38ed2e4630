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

from lompo_bench.leaderboard import stats
from lompo_bench.leaderboard.report import build_report
from lompo_bench.leaderboard.results import aggregate, read_records


def improvements(cells: list, algos: list[str], statistic, reps: int) -> tuple[float, list]:
    """Seconds for every ordered pair's `stats.improvement` with `statistic`, and the results (pairs with no shared
    dataset drop out)."""
    start = time.perf_counter()
    out = [stats.improvement(cells, a, b, reps, statistic) for a, b in itertools.permutations(algos, 2)]
    return time.perf_counter() - start, [row for row in out if row is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("leaderboard/results/cpu"))
    parser.add_argument("--reps", type=int, default=stats.REPS)
    args = parser.parse_args()
    from rliable import metrics

    cells = [c for c in aggregate(read_records(args.runs)) if c.scores]
    algos = sorted({c.algo for c in cells})
    ours_s, ours = improvements(cells, algos, stats.probability_of_improvement, args.reps)
    rliable_s, theirs = improvements(cells, algos, metrics.probability_of_improvement, args.reps)
    start = time.perf_counter()
    build_report(args.runs, Path(tempfile.mkdtemp()), profile="cpu")
    report_s = time.perf_counter() - start
    print(
        json.dumps(
            {
                "records": str(args.runs),
                "pairs": len(ours),
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
