"""Writes tests/data/checkpoints/<algo>/: a smoke run's config.json and its checkpoint cut down to the network
weights (what `load_policy` reads), plus the action it takes for a fixed observation. Run once per checkpoint
format; tests/test_algorithms.py loads these files to make sure later code still reads old checkpoints. Name
the algorithms to rewrite (those whose format changed); the others keep their older files, which the test then
reads through the format converter.

    python tests/data/make_checkpoints.py [ALGO ...]      # default: lompo cql bc drqbc
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent / "checkpoints"
DATASET = "test/adroit_pen/synthetic-v0"


def fixed_observation() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    return {
        "pixels": rng.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        "proprio": rng.normal(size=48).astype(np.float32),
    }


def main(algos: list[str]) -> None:
    scratch = Path(tempfile.mkdtemp())
    os.environ["MINARI_DATASETS_PATH"] = str(scratch / "minari")
    from lompo_bench.algorithms import jobs
    from lompo_bench.algorithms.registry import get_algorithm
    from lompo_bench.paths import run_dir
    from tests.helpers import write_synthetic_dataset

    write_synthetic_dataset(DATASET, [20, 25, 30], learnable=True)
    for algo in algos:
        jobs.train(algo, DATASET, profile="smoke", device="cpu", out=scratch / "runs")
        source = run_dir(algo, DATASET, "smoke", 0, scratch / "runs")
        target = HERE / algo
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        shutil.copy(source / "config.json", target / "config.json")
        state = torch.load(source / "checkpoint.pt", weights_only=False)
        torch.save(
            {"version": state["version"], "training": {"modules": state["training"]["modules"]}},
            target / "checkpoint.pt",
        )
        policy = get_algorithm(algo).load_policy(target, torch.device("cpu"))
        policy.reset()
        action = policy.act(fixed_observation())
        (target / "expected_action.json").write_text(json.dumps(action.tolist()))
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main(sys.argv[1:] or ["lompo", "cql", "bc", "drqbc"])
