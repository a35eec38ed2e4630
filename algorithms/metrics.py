"""A run's logged values: `metrics.csv` rows (phase, step, metric, value) and, with `--logger tensorboard`,
TensorBoard event files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.errors import UserError

CSV_HEADER = "phase,step,metric,value\n"


TENSORBOARD = "tensorboard"  # a run whose folder holds this folder also logs there (`train --logger tensorboard`)


class TensorBoard:
    """TensorBoard event files of a run (the `tensorboard` extra): scalars under `scalars/`, rewritten from the
    bookkeeping whenever metrics.csv is (so a resumed run shows no doubled steps), images under `images/`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._scalars: Any = None
        self._images: Any = None

    @staticmethod
    def require() -> Any:
        """torch's SummaryWriter; one line naming the extra when TensorBoard is not installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError('--logger tensorboard needs TensorBoard: pip install -e ".[tensorboard]"') from None
        return SummaryWriter

    @classmethod
    def writer(cls, path: Path) -> Any:
        return cls.require()(str(path), flush_secs=30)

    def rewrite(self, history: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> None:
        if self._scalars is not None:
            self._scalars.close()
        shutil.rmtree(self.folder / "scalars", ignore_errors=True)
        self._scalars = self.writer(self.folder / "scalars")
        for entry in history:
            self.add(entry, entry["phase"])
        for entry in evaluations:
            self.add(entry, "evaluation")
        self._scalars.flush()

    def add(self, entry: dict[str, Any], phase: str) -> None:
        if self._scalars is None:
            self.rewrite([], [])
        prefix, step = ("final_", 0) if entry.get("final") else ("", entry.get("step", 0))
        for key, value in _values(entry):
            self._scalars.add_scalar(f"{phase}/{prefix}{key}", value, step)

    def image(self, tag: str, step: int, image: np.ndarray) -> None:
        if self._images is None:
            self._images = self.writer(self.folder / "images")
        self._images.add_image(tag, image, step, dataformats="HWC")
        self._images.flush()

    def flush(self) -> None:
        for writer in (self._scalars, self._images):
            if writer is not None:
                writer.flush()


def _values(entry: dict[str, Any]) -> list[tuple[str, float]]:
    """The logged values of a history entry ({"phase", "step", metric: value...}) or an evaluation ({"step" or
    "final", "mean_return"}): everything but its labels."""
    return [(key, float(value)) for key, value in entry.items() if key not in ("phase", "step", "final")]


def csv_rows(entry: dict[str, Any], phase: str | None = None) -> str:
    """An entry as CSV rows, one per value."""
    phase = phase or entry["phase"]
    step = "final" if entry.get("final") else entry.get("step", "")
    return "".join(f"{phase},{step},{key},{value!r}\n" for key, value in _values(entry))
