"""Small file helpers every layer shares (torch-free)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(data: Any) -> str:
    """JSON text, numpy scalars and tuples included (as numbers and lists)."""
    return json.dumps(data, indent=2, default=_jsonable)


def write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and a rename, so a killed job never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(to_json(data))
    os.replace(tmp, path)
