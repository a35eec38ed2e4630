"""A run's result record (`<run>/result.json`): what training writes and the leaderboard reads, declared once.

Torch-free, so `report` and `runs` read records without the training stack. `RECORD_FORMAT` changes when a field
is renamed or its meaning changes (readers refuse other formats); the JSON keeps the fields' order below.
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from lompo_bench.errors import UserError

RECORD_FORMAT = 1

# The evaluation episodes per seed a profile's records are scored on (the built-ins' final evaluation,
# `eval_episodes` of every algorithm's cpu and paper profiles; `lompo-bench evaluate-policy --episodes`'s default).
# `report` pools records of this count only: a record of another count (a plugin evaluating 2 episodes, an
# outside policy evaluated with `--episodes 2`) is a cell of its own, marked. The smoke profile has none: its runs
# check that the pipeline runs (1 episode each), and their numbers mean nothing.
STANDARD_EPISODES: dict[str, int] = {"cpu": 10, "paper": 10}


def standard_episodes(profile: str) -> int | None:
    """The evaluation episodes per seed records of `profile` are pooled at (`STANDARD_EPISODES`); None: any."""
    return STANDARD_EPISODES.get(profile)


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
    # Action components outside [-1, 1] the policy returned over all the evaluation's episodes, which the task
    # clipped (`lompo_bench.evaluate_policy` counts them; `report` marks the record's cell). None: none were.
    clipped_actions: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: `format` first, then the fields; `overrides`, `dataset_fingerprint`, `adopted` and
        `clipped_actions` only when set."""
        data = {"format": RECORD_FORMAT, **asdict(self)}
        for optional in ("overrides", "dataset_fingerprint", "adopted", "clipped_actions"):
            if not data[optional]:
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "a result record") -> ResultRecord:
        """A record read back; `UserError` naming `where` for another format, missing fields, or a field of the
        wrong type or out of range (a NaN or string score, a seed of -1, returns that are not `episodes` numbers):
        one line each."""
        if not isinstance(data, dict):
            raise UserError(f"{where} is not a result record: a JSON {type(data).__name__}, not an object")
        if data.get("format") != RECORD_FORMAT:
            raise UserError(f"{where} is a result record of format {data.get('format')!r}, not {RECORD_FORMAT}")
        names = {f.name for f in fields(cls)}
        missing = sorted(f.name for f in fields(cls) if f.name not in data and f.default is MISSING)
        if missing:
            raise UserError(f"{where} lacks {', '.join(missing)}")
        values = {key: value for key, value in data.items() if key in names}
        hints = typing.get_type_hints(cls)
        for name, value in values.items():
            if not _conforms(value, hints[name]):
                raise UserError(f"{where}: {name} is {_shown(value)}, not {_described(hints[name])}")
        for name in ("seed", "episodes", "clipped_actions", "dataset_transitions", "ablation_factor"):
            least = 1 if name == "episodes" else 0
            if values.get(name) is not None and values[name] < least:
                raise UserError(f"{where}: {name} is {values[name]}, not a whole number of at least {least}")
        if len(values["returns"]) != values["episodes"]:
            raise UserError(f"{where}: {len(values['returns'])} returns for {values['episodes']} episodes")
        return cls(**values)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of a field's type: numbers finite (a JSON NaN or Infinity is no score), whole
    numbers for int, never a bool for a number."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if isinstance(value, bool):
        return hint is bool
    if hint is int:
        return isinstance(value, int)
    if hint is float:
        return isinstance(value, int | float) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(key, str) for key in value)
    return isinstance(value, hint)


def _described(hint: Any) -> str:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_described(arg) for arg in args)
    names = {int: "a whole number", float: "a finite number", str: "a string", bool: "true or false"}
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) is list:
        return f"a list of {_described(args[0]).removeprefix('a ')}s"
    if typing.get_origin(hint) is dict:
        return "an object"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _shown(value: Any) -> str:
    text = json.dumps(value)  # NaN as NaN, strings quoted, as the file holds them
    return text if len(text) <= 40 else text[:37] + "..."


def read_record(path: Path) -> dict[str, Any]:
    """A `result.json` as a checked dict (one-line `UserError` naming the file when it is not one)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UserError(f"cannot read result record {path}: {error}") from None
    return ResultRecord.from_dict(data, str(path)).to_dict()
