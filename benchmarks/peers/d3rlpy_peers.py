"""d3rlpy's BC and CQL on a lompo-bench dataset, scored by lompo-bench (issue 32, item 2).

    python benchmarks/peers/d3rlpy_peers.py bc --seed 0                 # 3,840 updates x 100: d3rlpy's batch
    python benchmarks/peers/d3rlpy_peers.py cql --seed 0 --budget ours  # 30,000 updates x 64: our cpu profile's

The algorithm is d3rlpy's own at its defaults (`BCConfig()` / `CQLConfig()`: its Nature-DQN pixel encoder, its
learning rates, its CQL's automatic conservative weight, no augmentation), changed only where pixels and the
budget need it: `PixelObservationScaler` (pixels / 255, as every d3rlpy pixel example) and the batch of the budget.
The data comes through `lompo_bench.adapters.d3rlpy.to_mdp_dataset` (pixels only, channels first, frame stack 3 as
our learners, d3rlpy's zero padding before an episode's first frame), the trained policy goes back through
`policy_from_d3rlpy` into `lompo_bench.evaluate_policy`; the record lands in
`leaderboard/results/peers/d3rlpy_<method>[_batch<B>]/...` with a `peer.json` saying what ran.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch loads: one thread unless asked otherwise
os.environ.setdefault("MUJOCO_GL", "egl")

import argparse  # noqa: E402
import json  # noqa: E402
from typing import Any  # noqa: E402

import common  # noqa: E402

METHODS = ("bc", "cql")
PEER = "d3rlpy"


def make_config(d3rlpy: Any, method: str, batch: int) -> Any:
    """d3rlpy's config for `method` at its defaults, with the pixel scaler and the budget's batch."""
    scaler = d3rlpy.preprocessing.PixelObservationScaler()
    if method == "bc":
        return d3rlpy.algos.BCConfig(batch_size=batch, observation_scaler=scaler)
    return d3rlpy.algos.CQLConfig(batch_size=batch, observation_scaler=scaler)


def default_batch(d3rlpy: Any, method: str) -> int:
    config = d3rlpy.algos.BCConfig() if method == "bc" else d3rlpy.algos.CQLConfig()
    return int(config.batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("method", choices=METHODS)
    parser.add_argument("--frame-stack", type=int, default=3, help="frames per observation (3, as our learners)")
    parser.add_argument(
        "--in-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="copy the frames into RAM (240 MB for a cpu dataset; faster sampling)",
    )
    common.add_common_arguments(parser)
    args = parser.parse_args()
    common.check_args(args)

    from lompo_bench.adapters.d3rlpy import import_d3rlpy, policy_from_d3rlpy, to_mdp_dataset
    from lompo_bench.progress import LineProgress

    d3rlpy = import_d3rlpy()
    peer_batch = default_batch(d3rlpy, args.method)
    budget = common.pick_budget(args.method, peer_batch, args)
    name = common.run_name(PEER, args.method, budget.batch, peer_batch)
    common.check_target(args, budget, name)
    common.limit_threads(args.threads)
    common.say(
        f"{name}: d3rlpy {d3rlpy.__version__} {args.method.upper()} on {args.dataset}, seed {args.seed}, "
        f"{budget.updates} updates x {budget.batch} (budget {budget.mode}), {args.threads} thread(s)"
    )

    dataset = to_mdp_dataset(args.dataset, frame_stack=args.frame_stack, in_memory=args.in_memory)
    d3rlpy.seed(args.seed)
    algo = make_config(d3rlpy, args.method, budget.batch).create(device="cpu")
    progress = LineProgress(common.say)
    progress.start(f"d3rlpy {args.method}", budget.updates)

    def report(_algo: Any, _epoch: int, step: int) -> None:
        progress.update(step)

    with common.Timer() as training:
        algo.fit(
            dataset,
            n_steps=budget.updates,
            n_steps_per_epoch=budget.updates,  # one epoch: d3rlpy evaluates nothing here, we do after
            logger_adapter=d3rlpy.logging.NoopAdapterFactory(),  # no d3rlpy_logs/ folder in the working directory
            show_progress=False,
            callback=report,
        )
    progress.finish()

    config = json.loads(algo.config.serialize()) if hasattr(algo.config, "serialize") else repr(algo.config)
    common.evaluate_and_file(
        policy_from_d3rlpy(algo, frame_stack=args.frame_stack),
        args=args,
        budget=budget,
        name=name,
        code_version=f"peer d3rlpy=={d3rlpy.__version__} {type(algo).__name__} defaults (pixel scaler, batch "
        f"{budget.batch}), {budget.updates} updates, frame stack {args.frame_stack}; benchmarks/peers/d3rlpy_peers.py",
        training=training,
        details={
            "peer": PEER,
            "peer_version": d3rlpy.__version__,
            "method": args.method,
            "frame_stack": args.frame_stack,
            "changed_from_defaults": {"observation_scaler": "PixelObservationScaler", "batch_size": budget.batch},
            "compatibility_edits": [],
            "config": config,
        },
    )


if __name__ == "__main__":
    common.run_main(main)
