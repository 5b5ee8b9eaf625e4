"""The errors the schemas package raises, all permanent.

A message that fails here will fail the same way on every retry, so a consumer sends it
to the dead-letter topic (``riverbed.dlq``) with :attr:`SchemaError.reason` as the
reason instead of retrying::

    SchemaError                  permanent: retrying the same bytes cannot help
    ├── UnknownEventType         no contract has this ``type``
    ├── UnknownEventVersion      the ``type`` is known, this ``version`` is not
    ├── DecodeError              not an envelope at all: bad JSON, not an object,
    │                            bad headers, headers disagreeing with the body
    └── ValidationFailed         an envelope that breaks its contract (field paths)

Building a payload in Python (``OrderPlaced(...)``) raises pydantic's own
``ValidationError`` as usual: that is a bug in the caller, not a poison message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class SchemaError(Exception):
    """Base of every error raised for a message that cannot become an envelope."""

    reason: str = "schema_error"


class UnknownEventType(SchemaError):
    """No registered contract has this event type."""

    reason = "unknown_event_type"

    def __init__(self, event_type: str) -> None:
        super().__init__(f"unknown event type {event_type!r}")
        self.event_type = event_type


class UnknownEventVersion(SchemaError):
    """The event type is registered, but not at this version."""

    reason = "unknown_event_version"

    def __init__(self, event_type: str, version: int, known: Sequence[int]) -> None:
        versions = ", ".join(str(v) for v in known)
        super().__init__(
            f"unknown version {version} of event type {event_type!r} (known: {versions})"
        )
        self.event_type = event_type
        self.version = version
        self.known = tuple(known)


class DecodeError(SchemaError):
    """The bytes or headers are not a Riverbed envelope at all."""

    reason = "decode_error"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One contract violation: where (``payload.lines.0.quantity``) and what."""

    path: str
    message: str
    kind: str

    def __str__(self) -> str:
        return f"{self.path or '<envelope>'}: {self.message}"


class ValidationFailed(SchemaError):
    """A well-formed envelope whose fields break the contract of its (type, version)."""

    reason = "validation_failed"

    def __init__(self, event_type: str, version: int, errors: Sequence[FieldError]) -> None:
        details = "; ".join(str(e) for e in errors)
        super().__init__(f"{event_type} v{version} failed validation: {details}")
        self.event_type = event_type
        self.version = version
        self.errors = tuple(errors)
