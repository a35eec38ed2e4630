"""Small file helpers every layer shares (torch-free)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from lompo_bench.errors import UserError


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(data: Any) -> str:
    """JSON text, numpy scalars and tuples included (as numbers and lists)."""
    return json.dumps(data, indent=2, default=_jsonable)


# "Write into a hidden sibling, then rename into place": the one way anything we write becomes visible, so a killed
# job never leaves half a file or folder under its real name. Renames are atomic within a filesystem, and the
# sibling is on the same one.
@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `path` (same suffix, so writers that add one add none) to write; it
    replaces `path` when the block ends without an error, and is deleted otherwise. Each process has its own
    temporary, so two processes writing the same file each replace it whole."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Yield an empty hidden folder beside `path` (`.<name>.partial`, left over from a killed build: deleted
    first) to fill; it replaces `path` (an existing one is deleted) when the block ends without an error, and is
    deleted otherwise. Hidden, so Minari's listings skip it. One builder at a time: hold a `file_lock` when
    several processes may build the same folder."""
    partial = path.parent / f".{path.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(path, ignore_errors=True)
    os.replace(partial, path)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file whole or not at all (`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (`write_atomic`)."""
    write_atomic(path, to_json(data))


class LockHeld(Exception):
    """Raised by `file_lock(..., wait=False)` when another process holds the lock; `holder` is what that process
    wrote into the lock file (its host and pid), so a message can name it."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(f"{path} is held by {holder or 'another process'}")
        self.path, self.holder = path, holder


@contextlib.contextmanager
def file_lock(path: Path, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created if missing) for the `with` block; processes wanting
    it wait (`wait`) or get `LockHeld` at once. The kernel drops the lock when its holder dies, so a killed job
    never leaves a stale lock behind; the file itself stays (deleting it would let two holders race). While held,
    the file names its holder ("host pid N"); released, it is empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            raise LockHeld(path, handle.read().strip()) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.uname().nodename} pid {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.truncate(0)  # released: the file names no holder (a killed holder's pid is checked by readers)
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def exclusive_folder(folder: Path, activity: str) -> Iterator[None]:
    """Hold `folder` for one process `activity` ("training the run", "generating"): a second process on it is
    refused in one line (two writers would interleave their files). The lock dies with its holder, so killed work
    can be resumed."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(file_lock(folder / ".lock", wait=False))
        except LockHeld as held:
            raise UserError(
                f"another process ({held.holder or 'unknown'}) is {activity} in {folder}; wait for it to finish "
                "(rerun then to resume), or pick another --seed / --out"
            ) from None
        yield
