"""Errors for bad user input: each names the file, the column or key, and what was expected."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data or configuration, reported so that a user can fix it."""

    def __init__(
        self,
        path: str | Path | None,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
    ):
        self.path = str(path) if path is not None else None
        self.column = column
        self.row = row
        self.detail = message
        where = []
        if self.path:
            where.append(self.path)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ValueError):
    """An invalid configuration value; the message names the dotted key."""
