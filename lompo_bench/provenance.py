"""Where a dataset or a run came from: the code version recorded in dataset metadata and run configs."""

from __future__ import annotations

import subprocess
from pathlib import Path


def code_permalink() -> str:
    """The git commit of this code (with `-dirty` for uncommitted changes), or the package version outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True, text=True).stdout
        return f"lompo-bench@{commit}" + ("-dirty" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        from lompo_bench import __version__

        return f"lompo-bench=={__version__}"
