"""`lompo-bench runs`: what every run folder under a runs root holds, read from its plain files only (no torch,
no checkpoint loading, no lock taken): `config.json`, `metrics.csv`, `result.json` and the lock file's holder.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from lompo_bench.errors import UserError
from lompo_bench.paths import world_model_dir
from lompo_bench.records import read_record

# Which config field counts a phase's steps (the phase names runs log under in metrics.csv).
PHASE_TOTALS = {"model": "model_steps", "policy": "ac_updates", "rollout": "ac_updates", "train": "steps"}


@dataclass(frozen=True)
class RunRow:
    algo: str
    dataset_id: str
    profile: str
    seed: int
    state: str  # done / running (pid) / stopped
    progress: str  # "<phase> <step>/<total>", or "" before the first log
    last_evaluation: float | None  # mean return of the latest evaluation during training
    score: float | None  # the final normalized score (done runs)
    folder: Path


def _holder_alive(lock: Path) -> int | None:
    """The pid that holds (or last held) `lock` on this host, if that process is alive."""
    try:
        host, _, pid = lock.read_text().split()[:3]
        pid_value = int(pid)
    except (OSError, ValueError):
        return None
    if host != os.uname().nodename:  # another machine's process: cannot tell from here
        return None
    try:
        os.kill(pid_value, 0)
    except (ProcessLookupError, PermissionError):
        return None
    return pid_value


def _last_rows(path: Path) -> tuple[dict[str, str] | None, float | None]:
    """The last training row of a metrics.csv and the latest evaluation's mean return."""
    if not path.exists():
        return None, None
    last, evaluation = None, None
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["phase"] == "evaluation":
                if row["step"] != "final":
                    evaluation = float(row["value"])
            else:
                last = row
    return last, evaluation


def list_runs(root: Path) -> list[RunRow]:
    """Every run folder (one holding `config.json`) under `root`, shared world models left out."""
    if not root.is_dir():
        raise UserError(f"no runs folder at {root}; train something first (lompo-bench train ...)")
    rows = []
    for config_path in sorted(root.rglob("config.json")):
        folder = config_path.parent
        if "_world_models" in folder.relative_to(root).parts:
            continue
        try:
            record = json.loads(config_path.read_text())
            algo, dataset_id, seed = record["algo"], record["dataset_id"], int(record["seed"])
        except (OSError, ValueError, KeyError):
            continue  # not a run folder of ours
        profile = folder.name.rsplit("-seed", 1)[0]
        last, evaluation = _last_rows(folder / "metrics.csv")
        if last is None and "ensemble" in record["config"]:  # a LOMPO-family run still in its shared model phase
            pattern = world_model_dir(root, dataset_id, seed, "*")
            logs = pattern.parent.glob(f"{pattern.name}/metrics.csv")
            last = next((r for r in (_last_rows(p)[0] for p in logs) if r is not None), None)
        progress = ""
        if last is not None:
            total = record["config"].get(PHASE_TOTALS.get(last["phase"], ""), "")
            progress = f"{last['phase']} {last['step']}" + (f"/{total}" if total else "")
        score = None
        if (folder / "result.json").exists():
            try:  # the one reader of result records, as the leaderboard's
                score = read_record(folder / "result.json")["normalized_score"]
                state = "done"
            except UserError:
                state = "done (result.json unreadable)"
        else:
            pid = _holder_alive(folder / ".lock")
            state = f"running (pid {pid})" if pid else "stopped"
        rows.append(RunRow(algo, dataset_id, profile, seed, state, progress, evaluation, score, folder))
    return rows
