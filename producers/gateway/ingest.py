"""Turn one parsed JSON object from a client into an envelope, or say what is wrong.

The client sends an envelope without its server-owned parts: ``source`` is always the
gateway's (``gateway.<key name>``; a client's is refused), ``event_id`` and
``occurred_at`` are filled in when absent (send your own ``event_id`` to make retries
idempotent), and ``key`` is derived from the payload by ``schemas.topics`` (one that
disagrees is refused). Unknown fields are refused by the contracts themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import uuid4

from pydantic import ValidationError

from schemas.envelope import Envelope
from schemas.errors import UnknownEventType, UnknownEventVersion
from schemas.registry import registry
from schemas.topics import rule_for

ErrorDetail = dict[str, Any]  # {"loc": [...], "msg": str, "type": str}


def source_for(key_name: str) -> str:
    """The envelope ``source`` of events sent with the key called ``key_name``."""
    return f"gateway.{key_name}"


def _error(loc: tuple[str | int, ...], msg: str, kind: str) -> ErrorDetail:
    return {"loc": list(loc), "msg": msg, "type": kind}


def new_event_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the OS's randomness.

    Several times cheaper than ``uuid4()`` per event; the envelope parses the text.
    """
    raw = os.urandom(16 * count).hex()
    return [
        f"{raw[i : i + 12]}4{raw[i + 13 : i + 16]}{_VARIANT[raw[i + 16]]}{raw[i + 17 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


# The RFC 4122 variant: the top two bits of the 17th hex digit are 10.
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}


_Validate = Callable[[Any], Any]
# (type, version) -> the concrete envelope's validation and the payload field keying it.
_CONTRACTS: dict[tuple[str, int], tuple[_Validate, str]] = {}


def _contract(event_type: str, version: int) -> tuple[_Validate, str]:
    """Look up a contract once (raises ``Unknown*``); later lookups are one dict get."""
    model = registry.envelope(event_type, version)
    found = _CONTRACTS[(event_type, version)] = (
        model.__pydantic_validator__.validate_python,
        rule_for(event_type).key_field,
    )
    return found


def prepare(
    item: Any, *, source: str, now: datetime, event_id: str | None = None
) -> Envelope[Any] | list[ErrorDetail]:
    """The envelope for ``item``, or its errors with field paths. Consumes ``item``.

    ``event_id`` is used when the item has none (default: a fresh one).
    """
    if type(item) is not dict:
        return [_error((), "an event must be a JSON object", "model_type")]
    errors: list[ErrorDetail] = []
    if "source" in item:
        errors.append(
            _error(("source",), "set by the gateway from your API key; leave it out", "forbidden")
        )
    event_type, version = item.get("type"), item.get("version")
    if not isinstance(event_type, str):
        errors.append(_error(("type",), "a string event type is required", "missing_type"))
    if type(version) is not int:  # not bool, not "1": the contracts' versions are strict
        errors.append(_error(("version",), "an integer version is required", "missing_version"))
    if not isinstance(event_type, str) or not isinstance(version, int):
        return errors
    contract = _CONTRACTS.get((event_type, version))
    if contract is None:
        try:
            contract = _contract(event_type, version)
        except UnknownEventType as exc:
            return [*errors, _error(("type",), str(exc), "unknown_event_type")]
        except UnknownEventVersion as exc:
            return [*errors, _error(("version",), str(exc), "unknown_event_version")]
    validate, key_field = contract
    payload = item.get("payload")
    derived = payload.get(key_field) if type(payload) is dict else None
    sent_key = item.get("key")
    if sent_key is None:
        if type(derived) is str:
            item["key"] = derived
    elif type(derived) is str and sent_key != derived:
        errors.append(
            _error(
                ("key",),
                f"must equal payload.{key_field} ({derived!r}) or be left out",
                "key_mismatch",
            )
        )
    item["source"] = source
    if "event_id" not in item:
        item["event_id"] = event_id or uuid4()
    if "occurred_at" not in item:
        item["occurred_at"] = now
    try:
        envelope: Envelope[Any] = validate(item)
    except ValidationError as exc:
        for e in exc.errors(include_url=False, include_context=False, include_input=False):
            # A key we could not derive is reported through its payload field instead.
            if e["loc"] == ("key",) and sent_key is None and e["type"] == "missing":
                continue
            errors.append(_error(e["loc"], e["msg"], e["type"]))
        return errors or [_error(("key",), "could not be derived from the payload", "missing")]
    return errors or envelope
