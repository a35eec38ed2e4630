"""How long jobs (generation, training) report progress: one bar per stage. The CLI draws them with rich;
library callers and tests pass nothing and get `NoProgress`."""

from __future__ import annotations

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
