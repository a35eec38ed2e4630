"""A run's result record (`<run>/result.json`): what training writes and the leaderboard reads, declared once.

Torch-free, so `report` and `runs` read records without the training stack. `RECORD_FORMAT` changes when a field
is renamed or its meaning changes (readers refuse other formats); the JSON keeps the fields' order below.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError

RECORD_FORMAT = 1


def normalized_score(value: float, ref_min: float, ref_max: float | None) -> float | None:
    """D4RL's normalized score, 100 (R - R_random) / (R_expert - R_random), as `minari.get_normalized_score`
    computes it from a dataset's references; None without an expert reference."""
    if ref_max is None or ref_max == ref_min:
        return None
    return 100.0 * (value - ref_min) / (ref_max - ref_min)


@dataclass(frozen=True)
class ResultRecord:
    algo: str
    dataset_id: str
    task: str
    kind: str | None  # the dataset's kind (medium-replay, medium-expert, expert)
    dataset_profile: str | None  # smoke / cpu / paper for generated datasets
    dataset_source: str  # "lompo-bench", or "vd4rl" for imports
    ablation_factor: int | None  # Appendix B's D'Claw sub-sampling, else None
    dataset_transitions: int | None
    profile: str  # the algorithm's profile
    seed: int
    episodes: int
    returns: list[float]
    mean_return: float
    std_return: float
    normalized_score: float | None
    ref_min_score: float | None
    ref_max_score: float | None
    reference_provisional: bool
    train_seconds: float
    code_version: str  # the code the run was trained with (config.json)
    evaluation_code_version: str  # the code that ran this evaluation
    finished_at: str
    overrides: dict[str, Any] | None = None  # `train --set` changes; `report` keeps such runs out of Table I
    # The trained-on dataset's content digest (`data.cache.fingerprint_key`): one id can name two contents (a
    # regenerated dataset), and `report` never pools them. None in records written before it existed.
    dataset_fingerprint: str | None = None
    # `train --set` changes the run was trained with that its profile has made its defaults since: the run's
    # config is the profile's as of that change, so the record carries no `overrides` (report counts it as the
    # profile's) and says here how it was trained. None for a run of the profile as it stood.
    adopted: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `format` first, then the fields; `overrides`, `dataset_fingerprint` and `adopted` only
        when set."""
        data = {"format": RECORD_FORMAT, **asdict(self)}
        for optional in ("overrides", "dataset_fingerprint", "adopted"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "a result record") -> ResultRecord:
        """A record read back; `UserError` naming `where` for another format or missing fields."""
        if data.get("format") != RECORD_FORMAT:
            raise UserError(f"{where} is a result record of format {data.get('format')}, not {RECORD_FORMAT}")
        names = {f.name for f in fields(cls)}
        missing = sorted(f.name for f in fields(cls) if f.name not in data and f.default is MISSING)
        if missing:
            raise UserError(f"{where} lacks {', '.join(missing)}")
        return cls(**{key: value for key, value in data.items() if key in names})


def read_record(path: Path) -> dict[str, Any]:
    """A `result.json` as a checked dict (one-line `UserError` naming the file when it is not one)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read result record {path}: {error}") from None
    return ResultRecord.from_dict(data, str(path)).to_dict()
