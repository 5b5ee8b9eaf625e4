from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from schemas import (
    Envelope,
    OrderCancelled,
    OrderPlaced,
    PlaybackHeartbeat,
    envelope_model,
    new_event,
)

pytestmark = pytest.mark.unit

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _fields(order_placed: OrderPlaced, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "event_id": uuid4(),
        "type": "order.placed",
        "version": 1,
        "occurred_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        "source": "storefront",
        "key": "store_7",
        "payload": order_placed,
    }
    return {**fields, **changes}


def test_new_event_fills_identity_time_type_and_key(order_placed: OrderPlaced) -> None:
    before = datetime.now(UTC)
    event = new_event(order_placed, source="storefront", correlation_id="req-42")
    assert isinstance(event, Envelope)
    assert isinstance(event.event_id, UUID) and event.event_id.version == 4
    assert before <= event.occurred_at <= datetime.now(UTC)
    assert event.occurred_at.tzinfo is UTC
    assert (event.type, event.version) == ("order.placed", 1)
    assert event.key == "store_7"
    assert event.correlation_id == "req-42"
    assert event.traceparent is None
    assert event.payload is order_placed


def test_new_event_keys_viewing_by_session(heartbeat: PlaybackHeartbeat) -> None:
    assert new_event(heartbeat, source="player").key == "sess-1"


def test_new_event_uses_the_concrete_envelope(order_placed: OrderPlaced) -> None:
    event = new_event(order_placed, source="storefront")
    assert type(event) is envelope_model(OrderPlaced)
    assert Envelope[OrderPlaced] in type(event).__mro__


def test_envelope_model_is_cached() -> None:
    assert envelope_model(OrderPlaced) is envelope_model(OrderPlaced)


def test_occurred_at_is_normalized_to_utc(order_placed: OrderPlaced) -> None:
    tz = timezone(timedelta(hours=2))
    event = Envelope[OrderPlaced](
        **_fields(order_placed, occurred_at=datetime(2024, 5, 1, 14, 0, tzinfo=tz))
    )
    assert event.occurred_at == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    parsed = Envelope[OrderPlaced](**_fields(order_placed, occurred_at="2024-05-01T09:00:00-03:00"))
    assert parsed.occurred_at.hour == 12


@pytest.mark.parametrize("naive", [datetime(2024, 5, 1, 12, 0), "2024-05-01T12:00:00"])
def test_naive_times_are_refused_clearly(order_placed: OrderPlaced, naive: object) -> None:
    with pytest.raises(ValidationError, match="occurred_at must be timezone-aware"):
        Envelope[OrderPlaced](**_fields(order_placed, occurred_at=naive))
    with pytest.raises(ValidationError, match="timezone-aware"):
        new_event(order_placed, source="s", occurred_at=datetime(2024, 5, 1))


@pytest.mark.parametrize(
    "traceparent",
    [
        TRACEPARENT,
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future",
    ],
)
def test_valid_traceparents(order_placed: OrderPlaced, traceparent: str) -> None:
    assert new_event(order_placed, source="s", traceparent=traceparent).traceparent == traceparent


@pytest.mark.parametrize(
    ("traceparent", "problem"),
    [
        (TRACEPARENT.upper(), "lowercase"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "must look like"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "'ff' is invalid"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "exactly four"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace-id"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent-id"),
        ("", "must look like"),
    ],
)
def test_invalid_traceparents(order_placed: OrderPlaced, traceparent: str, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        new_event(order_placed, source="s", traceparent=traceparent)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("event_id", "not-a-uuid"),
        ("version", 0),
        ("version", "1"),
        ("type", "Order Placed"),
        ("source", ""),
        ("source", "has space"),
        ("key", ""),
        ("correlation_id", "has space"),
        ("correlation_id", ""),
    ],
)
def test_envelope_fields_are_checked(order_placed: OrderPlaced, field: str, value: object) -> None:
    with pytest.raises(ValidationError) as info:
        Envelope[OrderPlaced](**_fields(order_placed, **{field: value}))
    assert info.value.errors()[0]["loc"][0] == field


def test_envelope_refuses_unknown_fields(order_placed: OrderPlaced) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Envelope[OrderPlaced](**_fields(order_placed, partition=3))


def test_envelope_is_frozen(order_placed: OrderPlaced) -> None:
    event = new_event(order_placed, source="s")
    with pytest.raises(ValidationError):
        event.key = "other"  # type: ignore[misc]


def test_generic_envelope_checks_type_and_version_against_the_payload(
    order_placed: OrderPlaced,
) -> None:
    with pytest.raises(ValidationError, match=r"envelope says order\.cancelled v1"):
        Envelope[OrderPlaced](**_fields(order_placed, type="order.cancelled"))
    with pytest.raises(ValidationError, match=r"payload is order\.placed v1"):
        Envelope[OrderPlaced](**_fields(order_placed, version=2))


def test_concrete_envelope_pins_type_and_version(order_placed: OrderPlaced) -> None:
    model = envelope_model(OrderPlaced)
    with pytest.raises(ValidationError, match=r"Input should be 'order\.placed'"):
        model(**_fields(order_placed, type="order.cancelled"))


def test_concrete_envelope_refuses_another_payload() -> None:
    cancelled = OrderCancelled(order_id="o", store_id="s")
    with pytest.raises(ValidationError):
        envelope_model(OrderPlaced)(
            event_id=uuid4(),
            type="order.placed",
            version=1,
            occurred_at=datetime.now(UTC),
            source="s",
            key="s",
            payload=cancelled,
        )
