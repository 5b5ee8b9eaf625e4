"""Response shapes, for the OpenAPI document (handlers write the JSON directly)."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    event_id: UUID
    topic: str
    partition: int
    offset: int


class BatchItem(BaseModel):
    """One event of a batch: accepted (with where it was written) or rejected (why)."""

    index: int
    status: Literal["accepted", "rejected"]
    event_id: UUID | None = None
    partition: int | None = None
    offset: int | None = None
    errors: list[FieldProblem] | None = None


class BatchResult(BaseModel):
    accepted: int
    rejected: int
    items: list[BatchItem]


class ErrorInfo(BaseModel):
    status: int
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorInfo


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ErrorBody} for status in statuses}


# Valid requests, shown in /docs and sent by schemathesis' examples phase.
EXAMPLE_EVENT: dict[str, Any] = {
    "type": "order.placed",
    "version": 1,
    "payload": {
        "order_id": "o-1001",
        "customer_id": "c-42",
        "store_id": "store-7",
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "9.99", "currency": "EUR"}],
    },
}
EXAMPLE_HEARTBEAT: dict[str, Any] = {
    "type": "playback.heartbeat",
    "version": 1,
    "payload": {
        "session_id": "s-9",
        "user_id": "u-3",
        "title_id": "t-77",
        "position_s": 61.5,
        "context": {"device": "tv", "bitrate_kbps": 4800},
    },
}

# The request body, described for readers of /docs (the handlers parse it themselves).
EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "An event envelope without its server-owned parts: `source` is set by the gateway "
        "(sending it is refused), `event_id` and `occurred_at` are filled in when absent, "
        "`key` is derived from the payload. `payload` follows the contract of "
        "(`type`, `version`); see `riverbed schemas export`."
    ),
    "required": ["type", "version", "payload"],
    "properties": {
        "type": {"type": "string", "examples": ["order.placed"]},
        "version": {"type": "integer", "minimum": 1},
        "event_id": {"type": "string", "format": "uuid"},
        "occurred_at": {"type": "string", "format": "date-time"},
        "key": {"type": "string"},
        "correlation_id": {"type": "string"},
        "traceparent": {"type": "string"},
        "payload": {"type": "object"},
    },
    "additionalProperties": False,
    "examples": [EXAMPLE_EVENT],
}
BATCH_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {"type": "array", "items": EVENT_SCHEMA},
        {
            "type": "object",
            "properties": {"events": {"type": "array", "items": EVENT_SCHEMA}},
            "required": ["events"],
            "additionalProperties": False,
        },
    ],
    "examples": [[EXAMPLE_EVENT, EXAMPLE_HEARTBEAT], {"events": [EXAMPLE_HEARTBEAT]}],
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
