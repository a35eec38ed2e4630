"""Errors a user can cause. The CLI prints their message as one line and exits with code 2.

This module imports nothing of ours, so every layer (tasks included) may raise these.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: an unknown name, a bad flag value, a missing or corrupt file."""


class UnknownTaskError(UserError, KeyError):
    """A task name or alias that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message; keep it a plain line.
        return str(self.args[0]) if self.args else ""
