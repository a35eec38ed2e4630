"""LOMPO's hot paths: the variational model's update (Eq. 8) and the penalized latent rollouts (Eq. 9), with the
paper's ensemble of forward models against a single forward model measured in the same run.

The paper claims its ensemble training "has the same computational overhead as the regular training of a single
variational model" (one random head per time step, one shared GRU). This prints, per task layout and profile:
frames/s of a model update with K heads and with one head and their ratio, and imagined transitions/s of the
rollouts with K heads and with one head (a rollout evaluates every head, for the disagreement penalty).

    python benchmarks/model_update_speed.py [--profiles cpu paper] [--updates 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import torch

from lompo_bench.algorithms import bench, lompo


def measure(config: lompo.LompoConfig, task: str, updates: int) -> dict[str, float]:
    """Model-update frames/s and rollout imagined transitions/s (medians of `updates`; `algorithms/bench.py`)."""
    return {
        "model_frames_per_s": bench.model_frames_per_second(config, task, updates),
        "imagined_per_s": bench.imagined_per_second(config, task, updates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--updates", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = (
        f"{'task':<12} {'profile':<7} {'K':>2} {'frames/s K':>10} {'frames/s 1':>10} {'ratio':>6} "
        f"{'imagined/s K':>12} {'imagined/s 1':>12} {'ratio':>6}"
    )
    print(header)
    results = []
    for task in bench.LAYOUTS:
        for profile in args.profiles:
            config = lompo.resolve_for_task(lompo.make_config(profile), task)
            ensemble = measure(config, task, args.updates)
            single = measure(dataclasses.replace(config, ensemble=1), task, args.updates)
            row = {
                "task": task,
                "profile": profile,
                "heads": config.ensemble,
                "ensemble": ensemble,
                "single": single,
                "model_ratio": ensemble["model_frames_per_s"] / single["model_frames_per_s"],
                "rollout_ratio": ensemble["imagined_per_s"] / single["imagined_per_s"],
            }
            results.append(row)
            print(
                f"{task:<12} {profile:<7} {config.ensemble:>2} {ensemble['model_frames_per_s']:>10.0f} "
                f"{single['model_frames_per_s']:>10.0f} {row['model_ratio']:>6.2f} "
                f"{ensemble['imagined_per_s']:>12.0f} {single['imagined_per_s']:>12.0f} {row['rollout_ratio']:>6.2f}",
                flush=True,
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
