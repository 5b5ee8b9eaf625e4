"""Riverbed's exception tree.

    RiverbedError
    ├── StackError            the local stack cannot be provisioned or started
    │                         (always carries ``fix``: what the user should do)
    ├── RetryableError        transient: broker or database unreachable, timeouts;
    │                         retried with backoff while the worker keeps its place
    └── PermanentError        can never succeed as is: the event goes to the
                              dead-letter topic with the reason

Schema problems (``schemas.errors.SchemaError``) are permanent by nature and are
mapped to dead-lettering by the processors.
"""

from __future__ import annotations


class RiverbedError(Exception):
    """Base of every error Riverbed raises on purpose."""


class StackError(RiverbedError):
    """A local-stack service could not be provisioned, started or reached."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(message)
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.args[0]}\n  fix: {self.fix}"


class RetryableError(RiverbedError):
    """A transient failure: try again later with backoff."""


class PermanentError(RiverbedError):
    """A failure that no retry can fix."""
