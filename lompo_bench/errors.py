"""Errors a user can cause. The CLI prints their message as one line and exits with code 2.

This module imports nothing of ours, so every layer (tasks included) may raise these.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator


class UserError(Exception):
    """Something the user can fix: an unknown name, a bad flag value, a missing or corrupt file."""


def os_error_line(error: OSError) -> str | None:
    """One line for what the user can fix about a failed read or write (a full disk, a folder that cannot be
    written, a file where a folder belongs), naming the folder; None for any other OSError (a bug: let it show).
    A full disk names the folder written into: the destination of a copy (`filename2`), a folder named itself."""
    path = error.filename
    full = is_disk_full(error)
    if full and error.filename2:  # a copy (shutil): the source is `filename`, the destination what did not fit
        path = error.filename2
    path = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else path
    if isinstance(path, str) and path:
        folder = path if full and os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    else:
        folder = None
    if full:
        return (
            f"no space left in {folder or 'the folder being written'}: free some space there (or point "
            "LOMPO_BENCH_HOME / MINARI_DATASETS_PATH elsewhere) and rerun the same command; finished work is kept"
        )
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write {path or 'a file'}: {error.strerror}; make {folder or 'its folder'} writable, or point "
            "LOMPO_BENCH_HOME / MINARI_DATASETS_PATH at a folder you can write"
        )
    if error.errno in (errno.ENOTDIR, errno.EEXIST) and path:
        return f"{path}: a file stands where a folder is needed; check LOMPO_BENCH_HOME and MINARI_DATASETS_PATH"
    return None


def is_disk_full(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(error)


@contextlib.contextmanager
def naming_full_disk(path: os.PathLike[str] | str) -> Iterator[None]:
    """Name `path` (the file or folder being written) in a full disk's OSError that names no file (writes through
    an open file object: pickle, numpy, zipfile, Path.write_text), so that `os_error_line` can say where."""
    try:
        yield
    except OSError as error:
        if is_disk_full(error) and not error.filename:
            raise disk_full(path) from error
        raise


def disk_full(path: os.PathLike[str] | str) -> OSError:
    """The OSError a write into `path` that ran out of room would have raised (for writers, such as torch.save,
    that raise something else)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


class UnknownTaskError(UserError, KeyError):
    """A task name or alias that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it a plain line.
        return str(self.args[0]) if self.args else ""
