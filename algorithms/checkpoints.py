"""Versioned checkpoints, written atomically, read back with their format checked (format-1 BC and CQL
checkpoints converted, format-1 latent-model ones refused with the reason), and the RNG state they carry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from lompo_bench.errors import UserError, disk_full
from lompo_bench.files import atomic_file

DISK_FULL_BELOW = 64 * 2**20  # free bytes under which a failed checkpoint write is taken for a full disk

CHECKPOINT_VERSION = 3
# Format 2 came with LOMPO's rework to the official implementation: LOMPO, LMBRL and Offline SLAC changed their
# networks (the world model became its own module, a deeper reward head, 64-d latents, deeper actor and critic, a
# deterministic actor), so a format-1 policy of theirs is a different algorithm's and is refused. BC's and CQL's
# networks did not change: their format-1 checkpoints are read as they are.
FORMAT_1_READABLE = ("bc", "cql")
# Format 3: BC's conv encoder and trunk became one `features` module (nets.PixelFeatures, CQL's already): the same
# weights under new names, so a format-2 BC checkpoint is renamed (`_from_format_2`); the others read as they are.
BC_RENAMES = (("encoder.", "features.encoder."), ("trunk.", "features.trunk."))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint whole or not at all; a disk too full for it is an OSError (ENOSPC) naming `path`, as
    every other writer's (torch.save raises a RuntimeError of its own)."""
    try:
        with atomic_file(path) as tmp:
            torch.save({"version": CHECKPOINT_VERSION, **state}, tmp)
    except RuntimeError as error:
        if shutil.disk_usage(path.parent).free < DISK_FULL_BELOW or "No space left" in str(error):
            raise disk_full(path) from error
        raise


def load_checkpoint(path: Path, device: torch.device) -> dict[str, Any] | None:
    """The checkpoint at `path` (None when there is none); a checkpoint of another format version is refused."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as error:  # torch raises several types for a damaged file
        raise UserError(f"cannot read checkpoint {path}: {type(error).__name__}; delete it to start afresh") from None
    if state.get("version") == 1:
        state = _from_format_1(path, state)
    if state.get("version") == 2:
        state = _from_format_2(path, state)
    if state.get("version") != CHECKPOINT_VERSION:
        raise UserError(f"{path} has checkpoint format {state.get('version')}, this code reads {CHECKPOINT_VERSION}")
    return state


def _algo_of(path: Path) -> str | None:
    """The algorithm of the run whose checkpoint `path` is (its config.json beside it), None when unknown."""
    config = path.parent / "config.json"
    return json.loads(config.read_text()).get("algo") if config.exists() else None


def _from_format_1(path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Convert a format-1 checkpoint to format 2 where the algorithm's networks did not change (BC, CQL); refuse
    the others in one line that says why."""
    algo = _algo_of(path)
    if algo not in FORMAT_1_READABLE:
        raise UserError(
            f"{path} has checkpoint format 1 of {algo or 'an unknown algorithm'}: its networks predate LOMPO's "
            f"rework to the official implementation (format 2), so it cannot act as trained; train it again"
        )
    return {**state, "version": 2}


def _from_format_2(path: Path, state: dict[str, Any]) -> dict[str, Any]:
    """Convert a format-2 checkpoint to format 3: a BC run's weights renamed (`BC_RENAMES`; its optimizer state
    is by parameter order, which did not change); every other checkpoint is the same."""
    if _algo_of(path) == "bc" and "training" in state:
        renamed = {_bc_name(key): value for key, value in state["training"]["modules"].items()}
        state = {**state, "training": {**state["training"], "modules": renamed}}
    return {**state, "version": 3}


def _bc_name(key: str) -> str:
    """A format-2 BC weight's name in format 3."""
    for old, new in BC_RENAMES:
        if key.startswith(old):
            return new + key[len(old) :]
    return key


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
