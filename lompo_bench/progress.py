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
    """Progress as plain lines, for logs and terminals that are not one (`cmd > run.log`, cluster jobs): a line when
    a stage starts, then one whenever `every_fraction` more of it is done or `every_seconds` have passed since the
    last (whichever first), with the count, rate, ETA and the job's latest message, and one when it finishes. The
    rate counts from the stage's first update, so a resumed run (its first count 13,000 of 30,000) shows its speed
    now, not the checkpoint's count over a few seconds."""

    def __init__(self, write: Callable[[str], None], every_fraction: float = 0.05, every_seconds: float = 30.0) -> None:
        self._write, self._fraction, self._seconds = write, every_fraction, every_seconds
        self._stage, self._total = "", 1
        self._started = self._last_time = 0.0
        self._last_done = 0
        self._base: tuple[int, float] | None = None  # (count, time) of the stage's first update

    def start(self, stage: str, total: int) -> None:
        self._stage, self._total, self._last_done, self._base = stage, max(int(total), 1), 0, None
        self._started = self._last_time = time.monotonic()
        self._write(f"{stage}: started, {total} to do")

    def update(self, completed: int, message: str = "") -> None:
        now = time.monotonic()
        if self._base is None:
            self._base = (completed, now)
        if completed - self._last_done < self._fraction * self._total and now - self._last_time < self._seconds:
            return
        self._last_done, self._last_time = completed, now
        base_done, base_time = self._base
        rate = (completed - base_done) / (now - base_time) if now > base_time else 0.0
        left = max(self._total - completed, 0)
        eta = f"ETA {_duration(left / rate)}" if rate > 0 else ("ETA 0m00s" if not left else "ETA ?")
        speed = f"{rate:.3g}/s" if rate > 0 else "?/s"  # nothing measured yet: the first update is the base
        line = f"{self._stage}: {completed}/{self._total} ({100 * completed / self._total:.0f}%) {speed} {eta}"
        self._write(f"{line} {message}".rstrip())

    def finish(self) -> None:
        self._write(f"{self._stage}: done in {_duration(time.monotonic() - self._started)}")


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )
