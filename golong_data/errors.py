"""Typed errors. The CLI turns a GolongError into one red line that names the fix."""

from __future__ import annotations


class GolongError(Exception):
    """An error the user can act on: `message` says what went wrong, `hint` what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(GolongError):
    """A single input (file, record) cannot be used. Stages ledger these and go on."""

    def __init__(self, reason: str, detail: str = "", hint: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason, hint)
        self.reason = reason
        self.detail = detail


class ConfigError(GolongError):
    """A setting is invalid; the message says which and what to set instead."""
