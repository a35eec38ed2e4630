"""What a run is configured as: an algorithm's profile (smoke / cpu / paper), `train --set` overrides typed
against its config's fields (and their digest, part of the run folder's name), and the device."""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

import torch

from lompo_bench.errors import UserError


def parse_overrides(algo: str, config: Any, pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` strings (`train --set`) as typed values of `config`'s fields: ints, floats, booleans
    (true/false), strings, comma lists for tuples, `none` where a field may be None. One line for a bad one."""
    fields = {f.name: f for f in dataclasses.fields(config)}
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
        parsed[key] = _typed(algo, key, text.strip(), str(fields[key].type), getattr(config, key))
    return parsed


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


def pick_profile(algo: str, profiles: dict[str, Any], profile: str, **overrides: Any) -> Any:
    """An algorithm's config for `profile` (smoke / cpu / paper), with `overrides` applied; one line if unknown."""
    if profile not in profiles:
        raise UserError(f"unknown profile {profile!r} for {algo}: choose from {', '.join(profiles)}")
    return dataclasses.replace(profiles[profile], **overrides)


def resolve_device(name: str) -> torch.device:
    """`auto`: the GPU when one is present, else the CPU; `cpu`, `cuda`, `cuda:N` as asked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but torch sees no CUDA GPU here (use --device auto or cpu)")
    return device
