"""Errors a user can cause. The CLI prints their message as one line and exits with code 2.

This module imports nothing of ours, so every layer (tasks included) may raise these.
"""

from __future__ import annotations

import errno
import os


class UserError(Exception):
    """Something the user can fix: an unknown name, a bad flag value, a missing or corrupt file."""


def os_error_line(error: OSError) -> str | None:
    """One line for what the user can fix about a failed read or write (a full disk, a folder that cannot be
    written, a file where a folder belongs), naming the folder; None for any other OSError (a bug: let it show)."""
    path = error.filename
    folder = os.path.dirname(os.path.abspath(path)) if path else None
    if error.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(error):
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


def disk_full(path: os.PathLike[str] | str) -> OSError:
    """The OSError a write into `path` that ran out of room would have raised (for writers, such as torch.save,
    that raise something else)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(path))


class UnknownTaskError(UserError, KeyError):
    """A task name or alias that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it a plain line.
        return str(self.args[0]) if self.args else ""
