"""Issue 20's model-budget sweep, read back: the world-model diagnostics of every kept snapshot of one model
config on a dataset (the models a `--set model_snapshots=...` training left), as a Markdown table and a CSV, and
the budget docs/FIDELITY.md's rule 1 picks: the first budget after which the held-out model loss falls by less
than `--threshold` (2%) over the next snapshot.

    python benchmarks/budget_sweep.py --dataset lompo/walker_walk/medium-expert-cpu-v0 --csv walker.csv

Models are grouped by their config apart from `model_steps` (`--seed`, and the profile's other fields as
trained); each is measured with `diagnostics.diagnose`, so the values are those `lompo-bench diagnose` prints.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import torch

from lompo_bench.algorithms import diagnostics
from lompo_bench.paths import runs_root, world_model_dir

COLUMNS = ("model_loss", "image_nll", "reward_mse", "kl", "spread_data", "spread_uniform", "spread_corners",
           "penalty_data", "reward_data", "reward_model_data")  # fmt: skip


def snapshots(root: Path, dataset_id: str, seed: int) -> dict[str, list[tuple[int, Path]]]:
    """Finished models of `dataset_id` and `seed` under `root`, grouped by their config without `model_steps`."""
    groups: dict[str, list[tuple[int, Path]]] = {}
    for folder in sorted(world_model_dir(root, dataset_id, seed, "*").parent.glob(f"seed{seed}-*")):
        if not (folder / "model.pt").exists():
            continue
        fields = json.loads((folder / "config.json").read_text())["model"]
        steps = fields.pop("model_steps")
        groups.setdefault(json.dumps(fields, sort_keys=True), []).append((steps, folder))
    return {key: sorted(rows) for key, rows in groups.items()}


def rule_budget(losses: list[tuple[int, float]], threshold: float) -> int | None:
    """Rule 1: the first budget whose next snapshot lowers the held-out loss by less than `threshold` (a share);
    None when the loss still falls that fast at every step measured (the cap then decides)."""
    for (steps, loss), (_, next_loss) in zip(losses, losses[1:], strict=False):
        if loss - next_loss < threshold * loss:
            return steps
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--runs", type=Path, default=None, help="runs root (default: $LOMPO_BENCH_HOME/runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=0.02)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    groups = snapshots(args.runs or runs_root(), args.dataset, args.seed)
    rows = []
    for key, models in groups.items():
        if len(models) < 2:
            continue
        print(f"\n{args.dataset}, seed {args.seed}, model config {key}\n")
        print("| updates | " + " | ".join(COLUMNS) + " |")
        print("|---" * (len(COLUMNS) + 1) + "|")
        losses = []
        for steps, folder in models:
            values = diagnostics.diagnose(folder, torch.device("cpu"))["values"]
            losses.append((steps, values["model_loss"]))
            rows.append({"dataset_id": args.dataset, "seed": args.seed, "model_steps": steps,
                         **{name: values.get(name) for name in COLUMNS}})  # fmt: skip
            print(f"| {steps} | " + " | ".join(f"{values[name]:.4g}" for name in COLUMNS) + " |")
        chosen = rule_budget(losses, args.threshold)
        print(f"\nrule 1 ({100 * args.threshold:g}% per snapshot): "
              + (f"{chosen} updates" if chosen else f"not reached by {losses[-1][0]} (the cap decides)"))  # fmt: skip
    if args.csv is not None and rows:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
