"""Errors a user can cause and fix: each carries the cause and the remedy, never a bare traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem in the user's input, config or environment.

    The CLI prints ``str(err)`` (cause, then fix) and exits non-zero without a traceback.
    """

    def __init__(
        self,
        cause: str,
        fix: str | None = None,
        *,
        file: str | None = None,
        column: str | None = None,
        row: int | None = None,
    ):
        self.cause = cause
        self.fix = fix
        self.file = file
        self.column = column
        self.row = row
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column '{self.column}'")
        prefix = f"[{', '.join(where)}] " if where else ""
        text = f"{prefix}{self.cause}"
        if self.fix:
            text += f"\n  How to fix: {self.fix}"
        return text
