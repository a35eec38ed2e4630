"""How long jobs (generation, training) report progress: one bar per stage. The CLI draws them with rich;
library callers and tests pass nothing and get `NoProgress`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Progress(Protocol):
    def start(self, stage: str, total: int) -> None: ...

    def update(self, completed: int, message: str = "") -> None: ...

    def finish(self) -> None: ...


class NoProgress:
    def start(self, stage: str, total: int) -> None:
        pass

    def update(self, completed: int, message: str = "") -> None:
        pass

    def finish(self) -> None:
        pass


class LineProgress:
    """Progress as plain lines, for logs and terminals without a TTY: a line when a stage starts, then one each
    time it passes another `step` of its total (10% by default), and one when it finishes."""

    def __init__(self, write: Callable[[str], None], step: float = 0.1) -> None:
        self._write, self._step = write, step
        self._stage, self._total, self._next = "", 0, 0.0
        self._started = 0.0

    def start(self, stage: str, total: int) -> None:
        self._stage, self._total, self._next = stage, max(int(total), 1), self._step
        self._started = time.monotonic()
        self._write(f"{stage}: started ({total})")

    def update(self, completed: int, message: str = "") -> None:
        if completed / self._total + 1e-9 < self._next:
            return
        self._next = (int(completed / self._total / self._step) + 1) * self._step
        elapsed = time.monotonic() - self._started
        self._write(f"{self._stage}: {completed}/{self._total} {elapsed:.0f}s {message}".rstrip())

    def finish(self) -> None:
        self._write(f"{self._stage}: done in {time.monotonic() - self._started:.0f}s")
