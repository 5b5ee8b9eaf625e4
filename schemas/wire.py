"""The wire format: an envelope as a Kafka value (JSON bytes) plus headers.

Both directions are hot paths (10k+ events/s per worker), so each message is parsed
exactly once, straight from bytes by pydantic-core, with the model picked from the
``riverbed-type`` / ``riverbed-version`` headers. Only a message without those headers
costs a second parse (to read ``type`` and ``version`` from the body first).

Failures are permanent :class:`SchemaError` subclasses: :class:`DecodeError` when the
bytes are not an envelope at all, :class:`ValidationFailed` when they are one that
breaks its contract, ``Unknown*`` when no contract matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, NotRequired, TypedDict, Unpack
from uuid import UUID

from pydantic import ValidationError
from pydantic_core import from_json, to_json

from schemas.base import Payload
from schemas.envelope import Envelope
from schemas.errors import DecodeError, FieldError, ValidationFailed
from schemas.registry import registry
from schemas.topics import key_for, rule_for

HEADER_TYPE = "riverbed-type"
HEADER_VERSION = "riverbed-version"
HEADER_EVENT_ID = "riverbed-event-id"
HEADER_CONTENT_TYPE = "content-type"
HEADER_TRACEPARENT = "traceparent"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]
HeadersIn = Sequence[tuple[str, bytes]] | Mapping[str, bytes]
_CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()


def encode(envelope: Envelope[Any]) -> tuple[bytes, Headers]:
    """Serialize an envelope to the Kafka value and headers it is published with.

    Decimals become JSON strings and times RFC 3339 UTC (``...Z``). The ``traceparent``
    header repeats the envelope's, for tracers that only read headers.
    """
    model = registry.envelope(envelope.type, envelope.version)
    if type(envelope) is model:
        value = model.__pydantic_serializer__.to_json(envelope)
    else:
        # Built by hand (e.g. ``Envelope[OrderPlaced](...)``): serialize by runtime type,
        # so a payload typed as a base class still writes all of its fields.
        value = envelope.__pydantic_serializer__.to_json(envelope, serialize_as_any=True)
    return value, headers_of(
        envelope.type, envelope.version, envelope.event_id, envelope.traceparent
    )


def headers_of(event_type: str, version: int, event_id: UUID, traceparent: str | None) -> Headers:
    """The headers an event is published with (they repeat what its body says)."""
    headers: Headers = [
        (HEADER_TYPE, event_type.encode()),
        (HEADER_VERSION, str(version).encode()),
        (HEADER_EVENT_ID, str(event_id).encode()),
        (HEADER_CONTENT_TYPE, _CONTENT_TYPE_BYTES),
    ]
    if traceparent is not None:
        headers.append((HEADER_TRACEPARENT, traceparent.encode()))
    return headers


class Encoded(NamedTuple):
    """An event in its wire form (``value``, ``headers``), with what routing and checks
    read from it; :attr:`payload` parses the value (tests and checks, not hot paths)."""

    event_id: UUID
    type: str
    key: str
    traceparent: str | None
    value: bytes
    headers: Headers

    @property
    def envelope(self) -> Envelope[Any]:
        return decode(self.value, self.headers)

    @property
    def payload(self) -> Any:
        return self.envelope.payload


_ZERO = timedelta(0)


class EnvelopeFields(TypedDict):
    """The envelope's fields besides the payload's, for :func:`encode_event` and
    :func:`encode_trusted`: ``correlation_id`` and ``traceparent`` from a validated event,
    ``event_id``, ``source`` and a UTC ``occurred_at`` from the worker."""

    event_id: UUID
    occurred_at: datetime
    source: str
    correlation_id: NotRequired[str | None]
    traceparent: NotRequired[str | None]


def encode_event(payload: Payload, **envelope: Unpack[EnvelopeFields]) -> Encoded:
    """What ``encode(new_event(payload, ...))`` writes, byte for byte, without building the
    envelope model (``payload`` is a validated model)."""
    return _encode(type(payload), key_for(payload), payload, envelope)


def encode_trusted(
    payload_type: type[Payload], fields: dict[str, Any], **envelope: Unpack[EnvelopeFields]
) -> Encoded:
    """What ``encode(new_event(payload_type(**fields), ...))`` writes, byte for byte,
    built from ``fields`` **without validating them**: no payload nor envelope model.

    For workers that emit events made of fields they already validated: the fields
    are copied from validated events or stored rows, except the values the worker
    computes, which it checks against the contract's bounds itself (e.g.
    ``processors.commerce.logic``). ``fields`` are the payload's fields in declared
    order, optional ones left out when None (as the contracts serialize them).
    Validating and serializing the orders worker's two emitted payloads per order, and
    building their envelopes, was ~27 % of its CPU (py-spy, 30,000 events; BENCHMARKS.md,
    issue 12). Unit tests compare the bytes with :func:`encode` and parse them back (so
    validate them) for every event type the workers emit.
    """
    key = fields[rule_for(payload_type.EVENT_TYPE).key_field]
    return _encode(payload_type, key, fields, envelope)


def _encode(
    payload_type: type[Payload], key: str, payload: Any, envelope: EnvelopeFields
) -> Encoded:
    event_id, occurred_at = envelope["event_id"], envelope["occurred_at"]
    if occurred_at.utcoffset() != _ZERO:
        raise ValueError(f"occurred_at must be UTC, got {occurred_at!r}")
    traceparent = envelope.get("traceparent")
    event_type, version = payload_type.EVENT_TYPE, payload_type.EVENT_VERSION
    # The envelope's fields in their declared order (schemas.envelope.Envelope).
    value = to_json(
        {
            "event_id": event_id,
            "type": event_type,
            "version": version,
            "occurred_at": occurred_at,
            "source": envelope["source"],
            "key": key,
            "correlation_id": envelope.get("correlation_id"),
            "traceparent": traceparent,
            "payload": payload,
        }
    )
    headers = headers_of(event_type, version, event_id, traceparent)
    return Encoded(event_id, event_type, key, traceparent, value, headers)


# The largest legal event (100 order lines, or a 4 KiB player context) is far below this.
MAX_MESSAGE_BYTES = 128 * 1024


def decode(value: bytes | None, headers: HeadersIn | None = None) -> Envelope[Any]:
    """Parse a Kafka value (and its headers, when present) into its concrete envelope.

    ``headers`` is what the client hands over: aiokafka's sequence of (name, bytes)
    pairs, or a mapping of them.
    """
    if value is None:
        raise DecodeError("message has no value (a tombstone is not an event)")
    if len(value) > MAX_MESSAGE_BYTES:
        raise DecodeError(
            f"message of {len(value)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit"
        )
    named = _read_headers(headers or ())
    event_type, version = named[0], named[1]
    if event_type is None or version is None:
        event_type, version = _peek_contract(value)
    model = registry.envelope(event_type, version)
    try:
        envelope = model.model_validate_json(value)
    except ValidationError as exc:
        raise _failure(exc, event_type, version) from exc
    if named[2] is not None and named[2] != envelope.event_id:
        raise DecodeError(
            f"{HEADER_EVENT_ID} header {named[2]} differs from body event_id {envelope.event_id}"
        )
    return envelope


def _read_headers(headers: HeadersIn) -> tuple[str | None, int | None, UUID | None]:
    raw = dict(headers)  # of duplicate names the last wins, as with Kafka's lastHeader()
    content_type = raw.get(HEADER_CONTENT_TYPE)
    if content_type is not None and content_type.split(b";")[0].strip() != _CONTENT_TYPE_BYTES:
        raise DecodeError(f"content-type {content_type!r} is not {CONTENT_TYPE}")
    raw_type, raw_version = raw.get(HEADER_TYPE), raw.get(HEADER_VERSION)
    if (raw_type is None) != (raw_version is None):
        raise DecodeError(f"{HEADER_TYPE} and {HEADER_VERSION} headers come together or not at all")
    event_type = version = event_id = None
    try:
        if raw_type is not None and raw_version is not None:
            event_type = raw_type.decode()
            if not raw_version.isdigit():
                raise ValueError(f"{HEADER_VERSION} {raw_version!r} is not a number")
            version = int(raw_version)
        if (raw_id := raw.get(HEADER_EVENT_ID)) is not None:
            event_id = UUID(raw_id.decode())
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise DecodeError(f"bad header: {exc}") from exc
    return event_type, version, event_id


def _peek_contract(value: bytes) -> tuple[str, int]:
    """Read (type, version) from the body of a message that came without headers."""
    try:
        body = from_json(value)
    except ValueError as exc:
        raise DecodeError(f"malformed JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise DecodeError(f"body is a JSON {_json_kind(body)}, not an object")
    event_type, version = body.get("type"), body.get("version")
    if not isinstance(event_type, str) or type(version) is not int:
        raise DecodeError(
            f"no {HEADER_TYPE}/{HEADER_VERSION} headers and the body has no string 'type' "
            "and integer 'version'"
        )
    return event_type, version


def _failure(exc: ValidationError, event_type: str, version: int) -> DecodeError | ValidationFailed:
    """Tell bytes that are not an envelope apart from an envelope that breaks its contract."""
    errors = exc.errors(include_url=False)
    body = {"type": event_type, "version": version}
    mismatch = False
    for error in errors:
        loc = error["loc"]
        if error["type"] == "json_invalid":
            return DecodeError(f"malformed JSON: {error['ctx']['error']}")
        if loc == () and error["type"] in ("model_type", "model_attributes_type"):
            return DecodeError(f"body is a JSON {_json_kind(error['input'])}, not an object")
        if error["type"] == "literal_error" and loc in (("type",), ("version",)):
            body[str(loc[0])] = error["input"]
            mismatch = True
    if mismatch:
        return DecodeError(
            f"headers name {event_type} v{version} but the body is "
            f"{body['type']} v{body['version']}"
        )
    # A tuple whose items failed also reports itself "too short": noise, not a cause.
    parents = {e["loc"][:i] for e in errors for i in range(len(e["loc"]))}
    fields = [
        FieldError(".".join(str(p) for p in error["loc"]), error["msg"], error["type"])
        for error in errors
        if not (error["type"] == "too_short" and error["loc"] in parents)
    ]
    return ValidationFailed(event_type, version, fields)


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)
