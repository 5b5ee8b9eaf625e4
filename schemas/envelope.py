"""The envelope every event travels in: identity, time, origin, tracing and payload.

``Envelope[P]`` is generic in its payload so handlers are typed
(``Envelope[OrderPlaced]``). For each payload class :func:`envelope_model` derives a
concrete subclass whose ``type`` and ``version`` are literals: parsing with it checks
that the body names the right contract, and its JSON Schema states them as constants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Generic, Literal, TypeVar, cast
from uuid import UUID, uuid4

from pydantic import AfterValidator, Field, StringConstraints, create_model, model_validator
from pydantic_core import PydanticCustomError

from schemas.base import Contract, Payload
from schemas.fields import EVENT_TYPE_PATTERN, SOURCE_PATTERN
from schemas.topics import key_for
from schemas.traceparent import Traceparent

P = TypeVar("P", bound=Payload)


def _utc(value: datetime) -> datetime:
    # A naive time is ambiguous across hosts and time zones: refuse it, never guess.
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise PydanticCustomError(
            "timezone_aware",
            "occurred_at must be timezone-aware (e.g. '2024-05-01T12:00:00Z'); "
            "naive datetimes are refused",
        )
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
EventTypeName = Annotated[str, StringConstraints(pattern=EVENT_TYPE_PATTERN)]
CorrelationId = Annotated[str, StringConstraints(pattern=r"^[\x21-\x7e]{1,128}$")]


class Envelope(Contract, Generic[P]):
    """One event: who, what, when and where from, around a typed payload.

    ``key`` is the Kafka key the event was published with (see ``schemas.topics``),
    repeated here so sinks and the dead-letter topic keep it.
    """

    event_id: UUID
    type: EventTypeName
    version: Annotated[int, Field(strict=True, ge=1)]
    occurred_at: UtcDatetime
    source: Annotated[str, StringConstraints(pattern=SOURCE_PATTERN)]
    key: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    correlation_id: CorrelationId | None = None
    traceparent: Traceparent | None = None
    payload: P

    @model_validator(mode="after")
    def _names_its_payload(self) -> Envelope[P]:
        # Concrete envelopes check this through their literals; this guards direct use.
        expected = (self.payload.EVENT_TYPE, self.payload.EVENT_VERSION)
        if (self.type, self.version) != expected:
            raise ValueError(
                f"envelope says {self.type} v{self.version} but the payload is "
                f"{expected[0]} v{expected[1]}"
            )
        return self


@cache
def envelope_model(payload_cls: type[P]) -> type[Envelope[P]]:
    """The concrete envelope class for one payload class (built once, then cached)."""
    # Literals of runtime values: a static checker cannot follow, the model can.
    type_literal: Any = Literal[payload_cls.EVENT_TYPE]
    version_literal: Any = Literal[payload_cls.EVENT_VERSION]
    model = create_model(
        f"{payload_cls.__name__}Envelope",
        __base__=Envelope[payload_cls],  # type: ignore[valid-type]
        __module__=__name__,
        __doc__=f"The envelope of {payload_cls.EVENT_TYPE} v{payload_cls.EVENT_VERSION}.",
        type=(type_literal, ...),
        version=(version_literal, ...),
    )
    return cast("type[Envelope[P]]", model)


def new_event(
    payload: P,
    *,
    source: str,
    correlation_id: str | None = None,
    traceparent: str | None = None,
    occurred_at: datetime | None = None,
    event_id: UUID | None = None,
) -> Envelope[P]:
    """Wrap a payload in a fresh envelope: new id, now (UTC), its type, version and key."""
    return envelope_model(type(payload))(
        event_id=uuid4() if event_id is None else event_id,
        type=payload.EVENT_TYPE,
        version=payload.EVENT_VERSION,
        occurred_at=datetime.now(UTC) if occurred_at is None else occurred_at,
        source=source,
        key=key_for(payload),
        correlation_id=correlation_id,
        traceparent=traceparent,
        payload=payload,
    )
