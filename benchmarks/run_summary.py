"""One line per run folder of what issue 20's study reads from a LOMPO / LMBRL run: the score, the policy phase's
last logged values (actor saturation, Q on real states, the penalty and the imagined reward before and after it,
averaged over the last `--tail` entries) and the seconds it took, as Markdown rows.

    python benchmarks/run_summary.py ~/.lompo_bench/runs/lompo/lompo/walker_walk/medium-expert-cpu-v0/cpu+*-seed0
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

POLICY = ("actor_saturated", "q_real", "q_policy_minus_data")
ROLLOUT = ("penalty_mean", "reward_model", "reward_penalized")


def summary(folder: Path, tail: int) -> dict[str, float | str | None]:
    history = json.loads((folder / "metrics.json").read_text())["history"]
    config = json.loads((folder / "config.json").read_text())
    row: dict[str, float | str | None] = {"run": folder.name, "overrides": json.dumps(config.get("overrides"))}
    for phase, names in (("policy", POLICY), ("rollout", ROLLOUT)):
        entries = [e for e in history if e["phase"] == phase][-tail:]
        for name in names:
            values = [e[name] for e in entries if name in e]
            row[name] = sum(values) / len(values) if values else None
    result = folder / "result.json"
    record = json.loads(result.read_text()) if result.exists() else {}
    row["score"] = record.get("normalized_score")
    row["train_seconds"] = record.get("train_seconds")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", type=Path, nargs="+")
    parser.add_argument("--tail", type=int, default=20, help="last entries of each phase averaged (default 20)")
    args = parser.parse_args()
    rows = [summary(folder, args.tail) for folder in args.folders]
    names = list(rows[0])
    print("| " + " | ".join(names) + " |")
    print("|---" * len(names) + "|")
    for row in rows:
        cells = (v if isinstance(v, str) else "" if v is None else f"{v:.4g}" for v in row.values())
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
