"""The in-task diagnostics (`lompo-bench diagnose RUN --in-task N --json FILE`) of several runs as one Markdown
table: per run the score's return, the task's reward per step against the model's for the policy's own actions,
the spread and lambda x spread there, the saturated share, and the rollouts' horizon imagined against paid.

    python benchmarks/in_task_table.py benchmarks/results/issue20/in_task/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COLUMNS = (
    ("task_return", "return"),
    ("task_reward", "task reward / step"),
    ("task_reward_model", "model's reward / step"),
    ("task_spread", "spread"),
    ("task_penalty", "lambda x spread"),
    ("task_saturated", "at +-1"),
    ("task_return_h", "paid over H"),
    ("imagined_return", "imagined over H"),
    ("imagined_return_penalized", "imagined, penalized"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    args = parser.parse_args()
    print("| run | episodes | " + " | ".join(title for _, title in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for path in args.files:
        values = json.loads(path.read_text())["in_task"]
        cells = [f"{values[name]:.3g}" if name in values else "" for name, _ in COLUMNS]
        print(f"| {path.stem} | {int(values['episodes'])} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
