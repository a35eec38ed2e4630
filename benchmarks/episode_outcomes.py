"""Where a mean over seeds comes from, episode by episode: for each algorithm's records on one dataset, how many of
its evaluation episodes ended below a return threshold (on Walker Walk, a walker that fell and never walked), the
mean return of the others, and a two-sided Fisher exact test of the first algorithm's count against each other's.
Reads plain result records (their `returns`), so it runs on the committed ones:

    python benchmarks/episode_outcomes.py leaderboard/results/cpu lompo/walker_walk/medium-expert-cpu-v0 \
        --algos lompo bc cql --below 300

The test treats episodes as independent draws, which they are not quite (an episode's policy is its seed's), so
its p-value is a guide to "could this count gap be chance?", not a verdict.
"""

from __future__ import annotations

import argparse
import json
from math import comb
from pathlib import Path


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of the 2 x 2 table [[a, b], [c, d]]: the summed probability, under fixed margins, of every table
    no more likely than the one seen (the usual definition; scipy's `fisher_exact` gives the same)."""
    row, col, n = a + b, a + c, a + b + c + d

    def prob(x: int) -> float:
        return comb(col, x) * comb(n - col, row - x) / comb(n, row)

    seen = prob(a)
    return min(
        1.0, sum(p for x in range(max(0, row + col - n), min(row, col) + 1) if (p := prob(x)) <= seen * (1 + 1e-9))
    )


def outcomes(root: Path, dataset: str, algo: str, below: float) -> dict[str, object]:
    """Per seed: the record's score, its episodes below `below`, and over all seeds the counts and the mean return
    of the episodes at or above it."""
    seeds, low, high = [], 0, []
    for path in sorted((root / algo / dataset).glob("*/result.json")):
        record = json.loads(path.read_text())
        returns = [float(x) for x in record["returns"]]
        fell = sum(r < below for r in returns)
        low += fell
        high += [r for r in returns if r >= below]
        seeds.append(f"s{record['seed']} {record['normalized_score']:.1f} ({fell} of {len(returns)})")
    episodes = low + len(high)
    return {"algo": algo, "seeds": seeds, "low": low, "episodes": episodes,
            "high_mean": sum(high) / len(high) if high else float("nan")}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="a records folder (leaderboard/results/cpu, a runs folder)")
    parser.add_argument("dataset", help="dataset id, e.g. lompo/walker_walk/medium-expert-cpu-v0")
    parser.add_argument("--algos", nargs="+", required=True, help="the first is tested against each other")
    parser.add_argument("--below", type=float, required=True, help="the return an episode counts as failed under")
    args = parser.parse_args()
    rows = [outcomes(args.root, args.dataset, algo, args.below) for algo in args.algos]
    first = rows[0]
    print(f"| algorithm | seeds: score (episodes below {args.below:g}) | below, all seeds | mean return of the "
          f"others | Fisher p against {first['algo']} |")  # fmt: skip
    print("|---|---|---|---|---|")
    for row in rows:
        table = (first["low"], first["episodes"] - first["low"], row["low"], row["episodes"] - row["low"])
        p = "" if row is first else f"{fisher_exact(*table):.2f}"
        print(f"| {row['algo']} | {'; '.join(row['seeds'])} | {row['low']} of {row['episodes']} | "
              f"{row['high_mean']:.0f} | {p} |")  # fmt: skip


if __name__ == "__main__":
    main()
