"""Where lompo-bench keeps its work: `$LOMPO_BENCH_HOME` (default `~/.lompo_bench`), with `generate/` for dataset
generation work folders and `runs/` for training runs. Datasets themselves live where Minari looks."""

from __future__ import annotations

import os
from pathlib import Path


def lompo_home() -> Path:
    return Path(os.environ.get("LOMPO_BENCH_HOME", Path.home() / ".lompo_bench"))


def runs_root() -> Path:
    """`$LOMPO_BENCH_HOME/runs`: one folder per training run."""
    return lompo_home() / "runs"


def run_dir(
    algo: str, dataset_id: str, profile: str, seed: int, root: Path | None = None, variant: str | None = None
) -> Path:
    """The folder of one training run: `<runs root>/<algo>/<dataset id>/<profile>-seed<seed>`; a run with config
    overrides (`train --set`) lives apart, in `<profile>+<variant>-seed<seed>` (`variant`: a digest of them)."""
    name = f"{profile}+{variant}" if variant else profile
    return (root or runs_root()) / algo / dataset_id / f"{name}-seed{seed}"


def world_model_dir(root: Path, dataset_id: str, seed: int, key: str) -> Path:
    """Where a latent world model lives, shared by every run under the runs root `root` that trains the same model
    (LOMPO and LMBRL): `<root>/_world_models/<dataset id>/seed<seed>-<key>`, `key` a digest of the model's
    config."""
    return root / "_world_models" / dataset_id / f"seed{seed}-{key}"


def root_of_run(run_folder: Path, dataset_id: str) -> Path:
    """The runs root holding `run_folder`, a `run_dir(...)` of `dataset_id`."""
    return run_folder.parents[len(Path(dataset_id).parts) + 1]
