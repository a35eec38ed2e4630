"""What a run is configured as: an algorithm's profile (smoke / cpu / paper), `train --set` overrides typed
against its config's fields (and their digest, part of the run folder's name), each field's valid range, and
the device.

A config field states its range in its annotation, beside its comment: `model_steps: Count = 25_000  # official
code`, `Count` being `Annotated[int, Range(1)]` (below). `pick_profile` checks every field of the config it
returns, so a profile, `--set` and the Python API are refused alike, in one line, before anything is built or
written.

No torch here (planning computes configs and world-model keys without it): `resolve_device` imports it."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from lompo_bench.errors import UserError

if TYPE_CHECKING:
    import torch


def parse_overrides(algo: str, config: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings (`train --set`) as typed values of `config`'s fields: ints, floats, booleans
    (true/false), strings, comma lists for tuples, `none` where a field may be None. One line for a bad one."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    hints = typing.get_type_hints(type(config))  # the types themselves: `Count` is `int` here
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UserError(f"--set wants key=value, not {pair!r}")
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            raise UserError(f"{algo} has no setting {key!r}: {hint}its settings: {', '.join(fields)}")
        parsed[key] = _typed(algo, key, text.strip(), _type_text(hints[key]), getattr(config, key))
    return parsed


def _type_text(annotation: Any) -> str:
    """A field's type as plain text (`int`, `float | None`, `tuple[int, ...]`), for parsing and messages."""
    if annotation is type(None):
        return "None"
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return " | ".join(_type_text(arg) for arg in typing.get_args(annotation))
    if typing.get_origin(annotation) is tuple:
        return f"tuple[{_type_text(typing.get_args(annotation)[0])}, ...]"
    return getattr(annotation, "__name__", str(annotation))


def _typed(algo: str, key: str, text: str, annotation: str, current: Any) -> Any:
    if text.lower() == "none" and "None" in annotation:
        return None
    try:
        if "tuple" in annotation:
            return tuple(int(part) for part in text.split(",") if part.strip())
        if "bool" in annotation or isinstance(current, bool):
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if "int" in annotation.replace("tuple", "") and "float" not in annotation:
            return int(text.replace("_", ""))
        if "float" in annotation:
            return float(text)
    except ValueError:
        raise UserError(f"{algo} setting {key} wants a value of type {annotation}, not {text!r}") from None
    return text


def overrides_key(overrides: dict[str, Any]) -> str | None:
    """A short digest naming a set of overrides (None for none): part of the run folder's name."""
    if not overrides:
        return None
    return hashlib.sha256(json.dumps(overrides, sort_keys=True, default=list).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Range:
    """A numeric field's valid values: from `low` to `high` (None: unbounded), each end included unless open. A
    tuple field's elements are checked one by one; None passes where the field allows None."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


# The ranges most fields have, as types to annotate them with (`steps: Count = 100_000`).
Count = Annotated[int, Range(1)]  # counts and sizes: >= 1
NonNegInt = Annotated[int, Range(0)]  # counts that may be none: >= 0
PositiveFloat = Annotated[float, Range(0, low_open=True)]  # learning rates, scales, clipping norms: > 0
NonNegFloat = Annotated[float, Range(0)]  # weights that may be off, noise scales: >= 0
Share = Annotated[float, Range(0, 1)]  # fractions and discounts: in [0, 1]
Part = Annotated[float, Range(0, 1, low_open=True)]  # fractions above 0 (Polyak's tau, the share decoded): (0, 1]


def _range_of(annotation: Any) -> Range | None:
    """The Range an annotation carries: its own, or that of a member (`Count | None`, `tuple[Count, ...]`)."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Range):
            return meta
    for arg in typing.get_args(annotation):
        if (found := _range_of(arg)) is not None:
            return found
    return None


def check_ranges(algo: str, config: Any) -> None:
    """Refuse, in one line naming the setting, a field of `config` outside the range its annotation states."""
    hints = typing.get_type_hints(type(config), include_extras=True)
    for field in dataclasses.fields(config):
        valid, value = _range_of(hints[field.name]), getattr(config, field.name)
        if valid is None or value is None:
            continue
        for item in value if isinstance(value, tuple) else (value,):
            if not valid.holds(item):
                which = "each value of " if isinstance(value, tuple) else ""
                raise UserError(f"{algo} setting {which}{field.name} must be {valid}, not {value!r}")


def pick_profile(algo: str, profiles: dict[str, Any], profile: str, **overrides: Any) -> Any:
    """An algorithm's config for `profile` (smoke / cpu / paper), with `overrides` applied and every field's range
    checked; one line if the profile is unknown or a value out of range."""
    if profile not in profiles:
        raise UserError(f"unknown profile {profile!r} for {algo}: choose from {', '.join(profiles)}")
    config = dataclasses.replace(profiles[profile], **overrides)
    check_ranges(algo, config)
    return config


def resolve_device(name: str) -> torch.device:
    """`auto`: the GPU when one is present, else the CPU; `cpu`, `cuda`, `cuda:N` as asked."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but torch sees no CUDA GPU here (use --device auto or cpu)")
    return device
