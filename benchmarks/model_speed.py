"""The world model's speed levers (issue 13), each a ratio against fp32 eager measured in this one run, and the
loss curves that show whether a lever changes learning.

1. The table of `lompo-bench bench` (model update per lever and with the defaults, actor-critic, rollouts, data
   path): `algorithms/bench.py`.
2. Loss curves on a real dataset (default: Walker medium-expert, cpu profile): the same model trained from one
   seed with fp32 eager, with a second seed (the noise band), and with each lever, its full loss (every frame
   decoded) on two fixed batches every `--every` updates.

    python benchmarks/model_speed.py [--profiles cpu paper] [--updates 3] [--curve-updates 200]
                                     [--dataset lompo/walker_walk/medium-expert-cpu-v0] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import torch

from lompo_bench.algorithms import bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--updates", type=int, default=3)
    parser.add_argument("--dataset", default="lompo/walker_walk/medium-expert-cpu-v0")
    parser.add_argument("--curve-profile", default="cpu")
    parser.add_argument("--curve-updates", type=int, default=200, help="0: no curves")
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--json", help="write the figures and curves here")
    args = parser.parse_args()
    from lompo_bench.data import dataset_task, open_cache
    from lompo_bench.data.store import dataset_exists

    have_data = dataset_exists(args.dataset)
    print(f"cpu: {bench.describe_machine('cpu')}")
    print("| figure | ours | reference | ratio | unit | reference is |\n|---|---:|---:|---:|---|---|")
    figures = []
    for figure in bench.figures(tuple(args.profiles), args.updates, args.dataset if have_data else None):
        figures.append({**dataclasses.asdict(figure), "ratio": figure.ratio})
        print(figure.markdown_row(), flush=True)
    curves: dict[str, list[tuple[int, float]]] = {}
    if args.curve_updates and not have_data:
        print(f"no loss curves: dataset {args.dataset} is not here (lompo-bench generate --env walker --profile cpu)")
    elif args.curve_updates:
        task = dataset_task(args.dataset)
        config = bench.task_config(args.curve_profile, task)
        variants = {"fp32 eager": bench.LEVERS[bench.BASELINE],
                    "fp32 eager, seed 1": {**bench.LEVERS[bench.BASELINE], "seed": 1},
                    **{name: lever for name, lever in bench.LEVERS.items() if name != bench.BASELINE}}  # fmt: skip
        start = time.perf_counter()
        curves = bench.loss_curves(config, open_cache(args.dataset), variants, args.curve_updates, args.every)
        steps = [step for step, _ in curves["fp32 eager"]]
        print(f"\nfull model loss on 2 fixed batches, {args.curve_profile} profile, {args.dataset} "
              f"({time.perf_counter() - start:.0f} s)")  # fmt: skip
        print("| updates | " + " | ".join(map(str, steps)) + " |\n|---|" + "---:|" * len(steps))
        for name, curve in curves.items():
            print(f"| {name} | " + " | ".join(f"{loss:.1f}" for _, loss in curve) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "figures": figures, "curves": curves}, f, indent=1)


if __name__ == "__main__":
    main()
