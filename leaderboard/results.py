"""Stage two of the leaderboard: raw per-seed result records (each run's `result.json`) -> one versioned score file.

Reads plain JSON only (no torch). A score cell is one algorithm (at one profile) on one dataset content, over its
seeds: the normalized scores (D4RL's, from the references the record carries), their mean and standard deviation,
and whether any reference behind them is provisional. One dataset id may have named two contents (a regenerated
dataset): records carry the content's digest (`dataset_fingerprint`; records written before it have none), and
records of different contents, or old records without one beside new ones, are never pooled into one cell.
Nor are records of another evaluation episode count than the profile's standard (`records.STANDARD_EPISODES`:
10 per seed): each such count is a cell of its own (`ScoreCell.episodes`), which the tables mark or list apart.

A record that does not validate (`records.ResultRecord.from_dict`: not JSON, another format, a NaN or string
score, ...) counts for nothing: it is skipped with one warning line naming the file.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.errors import UserError
from lompo_bench.files import write_json
from lompo_bench.records import read_record, standard_episodes

# 2: a cell is one dataset content (`dataset_fingerprint`), not one dataset id; 3: and one evaluation episode
# count, the profile's standard or another (`episodes`), and counts the clipped action components behind it
SCORES_FORMAT = 3
Warn = Callable[[str], None]


def warn_on_stderr(line: str) -> None:
    """The default for a skipped record's warning line: standard error, beside the report on standard output."""
    print(line, file=sys.stderr, flush=True)


@dataclass
class ScoreCell:
    algo: str
    profile: str  # the algorithm's profile
    dataset_id: str
    task: str
    kind: str | None
    dataset_profile: str | None
    dataset_source: str
    ablation_factor: int | None
    dataset_transitions: int | None
    dataset_fingerprint: str | None = None  # the content's digest; None: records from before fingerprints
    seeds: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)  # mean return per seed
    scores: list[float] = field(default_factory=list)  # normalized score per seed (empty without references)
    provisional: bool = False
    origins: list[str] = field(default_factory=list)  # the runs folders its records were read from
    reference: bool = False  # the repository's committed records, shown beside a user's runs (marked in tables)
    # Evaluation episodes per seed of every record in the cell when that is not its profile's standard
    # (`records.STANDARD_EPISODES`); None: the standard count (for the smoke profile, which has none: any count).
    episodes: int | None = None
    clipped_actions: int = 0  # action components outside [-1, 1] its records' policies returned (the task clipped)

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def std(self) -> float | None:
        return float(np.std(self.scores)) if self.scores else None

    @property
    def dataset_key(self) -> str:
        """The dataset content the cell is on: the id, with the fingerprint when the records carry one."""
        return f"{self.dataset_id}@{self.dataset_fingerprint}" if self.dataset_fingerprint else self.dataset_id

    @property
    def draw_label(self) -> str:
        """How tables mark the content when one dataset id has records of more than one."""
        return f"data {self.dataset_fingerprint[:8]}" if self.dataset_fingerprint else "old data draw"

    @property
    def standard(self) -> bool:
        """Whether its records are of the profile's standard evaluation episode count (`records.STANDARD_EPISODES`)."""
        return self.episodes is None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mean": self.mean, "std": self.std}


def valid_records(
    folder: Path, warn: Warn | None, skipped: list[tuple[Path, str]] | None = None
) -> list[tuple[dict[str, Any], Path]]:
    """Every record under `folder` that validates, with its path; one warning line (`warn`, default standard
    error) naming each one that does not, which is skipped (and, with `skipped`, listed there with its line)."""
    found = []
    for path in sorted(folder.rglob("result.json")):
        try:
            found.append((read_record(path), path))
        except UserError as error:  # its message names the file
            line = " ".join(str(error).split())
            (warn or warn_on_stderr)("warning: skipped " + line)
            if skipped is not None:
                skipped.append((path, line))
    return found


def read_records(runs_root: Path, warn: Warn | None = None) -> list[dict[str, Any]]:
    """Every finished run's result record under `runs_root` (`<algo>/<dataset id>/<profile>-seed<n>/result.json`).
    A record that does not validate is skipped with one warning line naming the file (`warn`: a function taking the
    line; default: print it on standard error)."""
    if not runs_root.is_dir():
        raise UserError(f"no runs folder at {runs_root}; train something first (lompo-bench train ...)")
    return [record for record, _ in valid_records(runs_root, warn)]


def run_key(record: dict[str, Any]) -> tuple[str, str, str, str, int]:
    """What makes a record one run: (algo, profile, dataset id, dataset content, seed); its first four, with the
    episode count when not the standard one (`episodes_key`), a cell."""
    return record["algo"], record["profile"], record["dataset_id"], _fingerprint(record), record["seed"]


def episodes_key(record: dict[str, Any]) -> int | None:
    """The record's evaluation episodes per seed where its profile has a standard count it differs from, else
    None: records of the standard count pool into one cell, those of each other count into one apart."""
    standard = standard_episodes(record["profile"])
    return record["episodes"] if standard is not None and record["episodes"] != standard else None


def pooled_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two records one run when folders are pooled: `run_key` and the overrides."""
    return (*run_key(record), json.dumps(record.get("overrides") or {}, sort_keys=True))


def seen_before(seen: dict[tuple[Any, ...], tuple[dict[str, Any], Path]], key: tuple[Any, ...],
                record: dict[str, Any], path: Path) -> bool:  # fmt: skip
    """Whether the run `key` was read from an earlier folder (`seen`: key -> record, path), with the same record (a
    copied folder: read once); a different record of it is a one-line error (one seed would count twice)."""
    if key not in seen:
        return False
    if seen[key][0] != record:
        raise UserError(
            f"two different records of one run ({record['algo']}, {record['dataset_id']}, {record['profile']}, "
            f"seed {record['seed']}): {seen[key][1]} and {path}; pass only one of their runs folders"
        )
    return True


def read_runs(folders: list[Path], warn: Warn | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of several runs folders pooled, and the folder each came from. A run found in two folders (the
    same algorithm, profile, dataset content, seed and overrides) is read once where both records are the same (a
    copied folder), and is a one-line error where they differ: two runs of one seed would count twice in a cell.
    A record that does not validate is skipped with one warning line naming the file (`warn`, as `read_records`)."""
    records: list[dict[str, Any]] = []
    origins: list[str] = []
    seen: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
    for folder in folders:
        if not folder.is_dir():
            raise UserError(f"no runs folder at {folder}")
        here: dict[tuple[Any, ...], tuple[dict[str, Any], Path]] = {}
        for record, path in valid_records(folder, warn):
            key = pooled_key(record)
            if seen_before(seen, key, record, path):
                continue
            here[key] = record, path
            records.append(record)
            origins.append(str(folder))
        seen |= here
    return records, origins


def aggregate(records: list[dict[str, Any]], origins: list[str] | None = None) -> list[ScoreCell]:
    """One cell per (algorithm, profile, dataset content, evaluation episode count), seeds gathered, in a stable
    order. The content is the record's `dataset_fingerprint` (absent from old records: those form a cell of their
    own); the count is the profile's standard (`records.STANDARD_EPISODES`), or each other count apart
    (`ScoreCell.episodes`). `origins`: the runs folder of each record (`read_runs`), gathered into each cell's
    `origins`."""
    cells: dict[tuple[str, str, str, str, int], ScoreCell] = {}
    where = dict(zip(map(id, records), origins, strict=True)) if origins is not None else {}

    for record in sorted(records, key=lambda r: (*run_key(r)[:4], episodes_key(r) or 0, r["seed"])):
        key = (*run_key(record)[:4], episodes_key(record) or 0)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = ScoreCell(
                algo=record["algo"],
                profile=record["profile"],
                dataset_id=record["dataset_id"],
                task=record["task"],
                kind=record.get("kind"),
                dataset_profile=record.get("dataset_profile"),
                dataset_source=record.get("dataset_source", "lompo-bench"),
                ablation_factor=record.get("ablation_factor"),
                dataset_transitions=record.get("dataset_transitions"),
                dataset_fingerprint=record.get("dataset_fingerprint") or None,
                episodes=episodes_key(record),
            )
        cell.seeds.append(record["seed"])
        cell.clipped_actions += record.get("clipped_actions") or 0
        cell.returns.append(record["mean_return"])
        if record.get("normalized_score") is not None:
            cell.scores.append(record["normalized_score"])
        cell.provisional = cell.provisional or bool(record.get("reference_provisional"))
        origin = where.get(id(record))
        if origin is not None and origin not in cell.origins:
            cell.origins.append(origin)
    return list(cells.values())


def _fingerprint(record: dict[str, Any]) -> str:
    return record.get("dataset_fingerprint") or ""  # "" sorts the old records' cell first, apart from the rest


def write_scores(cells: list[ScoreCell], path: Path, runs_root: Path | list[Path]) -> None:
    """The versioned score file: what tables and plots are built from. `runs_root`: the folder (or folders, the
    first named `runs_root`, all of them `runs_roots`) the records were read from."""
    roots = [runs_root] if isinstance(runs_root, Path) else list(runs_root)
    data = {
        "format": SCORES_FORMAT,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs_root": str(roots[0]),
        "runs_roots": [str(root) for root in roots],
        "cells": [cell.to_dict() for cell in cells],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, data)
