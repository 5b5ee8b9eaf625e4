from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from schemas import (
    DecodeError,
    Envelope,
    OrderLine,
    OrderPlaced,
    PlaybackHeartbeat,
    SchemaError,
    UnknownEventType,
    UnknownEventVersion,
    ValidationFailed,
    decode,
    encode,
    envelope_model,
    new_event,
)

pytestmark = pytest.mark.unit

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def placed(order_placed: OrderPlaced) -> Envelope[OrderPlaced]:
    return new_event(order_placed, source="storefront", traceparent=TRACEPARENT)


def _rewrite(value: bytes, change: Any) -> bytes:
    body = json.loads(value)
    change(body)
    return json.dumps(body).encode()


def test_round_trip_every_registered_contract(
    order_placed: OrderPlaced, heartbeat: PlaybackHeartbeat
) -> None:
    samples = {type(order_placed): order_placed, type(heartbeat): heartbeat}
    for payload in samples.values():
        event = new_event(payload, source="test", correlation_id="c-1")
        assert decode(*encode(event)) == event


def test_round_trip_keeps_decimals_exact() -> None:
    prices = [Decimal("0.10"), Decimal("0.20"), Decimal("9999999999.99"), Decimal("1.00")]
    lines = tuple(
        OrderLine(sku=f"S{i}", quantity=1, unit_price=p, currency="EUR")
        for i, p in enumerate(prices)
    )
    order = OrderPlaced(order_id="o", customer_id="c", store_id="s", lines=lines)
    value, headers = encode(new_event(order, source="t"))
    body = json.loads(value)
    assert [line["unit_price"] for line in body["payload"]["lines"]] == [
        "0.10",
        "0.20",
        "9999999999.99",
        "1.00",
    ]
    decoded = decode(value, headers)
    assert isinstance(decoded.payload, OrderPlaced)
    assert [line.unit_price for line in decoded.payload.lines] == prices
    assert sum(line.unit_price for line in decoded.payload.lines[:2]) == Decimal("0.30")


def test_encoded_body_and_headers(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    assert isinstance(value, bytes)
    assert headers == [
        ("riverbed-type", b"order.placed"),
        ("riverbed-version", b"1"),
        ("riverbed-event-id", str(placed.event_id).encode()),
        ("content-type", b"application/json"),
        ("traceparent", TRACEPARENT.encode()),
    ]
    body = json.loads(value)
    assert body["type"] == "order.placed"
    assert body["occurred_at"].endswith("Z")
    assert body["key"] == "store_7"


def test_no_traceparent_header_without_one(order_placed: OrderPlaced) -> None:
    _, headers = encode(new_event(order_placed, source="s"))
    assert "traceparent" not in dict(headers)


def test_decode_returns_the_concrete_envelope(placed: Envelope[OrderPlaced]) -> None:
    decoded = decode(*encode(placed))
    assert type(decoded) is envelope_model(OrderPlaced)
    assert decoded.occurred_at == placed.occurred_at


def test_decode_accepts_headers_as_a_mapping(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    assert decode(value, dict(headers)) == placed


def test_decode_without_headers_reads_type_from_the_body(placed: Envelope[OrderPlaced]) -> None:
    value, _ = encode(placed)
    assert decode(value) == placed
    assert decode(value, []) == placed


def test_encode_a_hand_built_generic_envelope(placed: Envelope[OrderPlaced]) -> None:
    generic = Envelope[OrderPlaced](**dict(placed))
    value, _ = encode(generic)
    assert decode(value) == placed


def test_encode_refuses_an_unregistered_type(placed: Envelope[OrderPlaced]) -> None:
    class Draft(OrderPlaced):
        EVENT_VERSION = 7

    draft = Envelope[Draft](
        **{**dict(placed), "version": 7, "payload": Draft(**dict(placed.payload))}
    )
    with pytest.raises(UnknownEventVersion):
        encode(draft)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"", "malformed JSON"),
        (b"[1, 2]", "JSON array, not an object"),
        (b'"order.placed"', "JSON string, not an object"),
        (b"null", "not an object"),
    ],
)
@pytest.mark.parametrize("with_headers", [True, False])
def test_decode_refuses_what_is_not_an_envelope(
    placed: Envelope[OrderPlaced], value: bytes, message: str, with_headers: bool
) -> None:
    headers = encode(placed)[1] if with_headers else None
    with pytest.raises(DecodeError, match=message) as info:
        decode(value, headers)
    assert info.value.reason == "decode_error"


def test_decode_refuses_a_tombstone() -> None:
    with pytest.raises(DecodeError, match="tombstone"):
        decode(None)


def test_header_body_type_mismatch(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    other = dict(headers)
    other["riverbed-type"] = b"order.cancelled"
    with pytest.raises(
        DecodeError, match=r"headers name order\.cancelled v1 but the body is order\.placed v1"
    ):
        decode(value, list(other.items()))


def test_header_body_version_mismatch(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    body = _rewrite(value, lambda b: b.update(version=2))
    with pytest.raises(DecodeError, match=r"body is order\.placed v2"):
        decode(body, headers)


def test_header_body_event_id_mismatch(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    other = [(k, str(uuid4()).encode() if k == "riverbed-event-id" else v) for k, v in headers]
    with pytest.raises(DecodeError, match="differs from body event_id"):
        decode(value, other)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("riverbed-type", b"order.placed")], "come together"),
        ([("riverbed-version", b"1")], "come together"),
        ([("riverbed-type", b"order.placed"), ("riverbed-version", b"one")], "not a number"),
        ([("riverbed-type", b"\xff"), ("riverbed-version", b"1")], "bad header"),
        ([("riverbed-event-id", b"nope")], "bad header"),
        ([("content-type", b"application/avro")], "is not application/json"),
    ],
)
def test_bad_headers(placed: Envelope[OrderPlaced], headers: Any, message: str) -> None:
    value, _ = encode(placed)
    with pytest.raises(DecodeError, match=message):
        decode(value, headers)


def test_content_type_parameters_are_tolerated(placed: Envelope[OrderPlaced]) -> None:
    value, _ = encode(placed)
    assert decode(value, [("content-type", b"application/json; charset=utf-8")]) == placed


def test_body_without_type_and_no_headers(placed: Envelope[OrderPlaced]) -> None:
    value, _ = encode(placed)
    with pytest.raises(DecodeError, match="no string 'type'"):
        decode(_rewrite(value, lambda b: b.pop("type")))
    with pytest.raises(DecodeError, match="integer 'version'"):
        decode(_rewrite(value, lambda b: b.update(version="1")))


def test_unknown_type_and_version_on_decode(placed: Envelope[OrderPlaced]) -> None:
    value, _ = encode(placed)
    with pytest.raises(UnknownEventType):
        decode(value, [("riverbed-type", b"order.shipped"), ("riverbed-version", b"1")])
    with pytest.raises(UnknownEventVersion):
        decode(value, [("riverbed-type", b"order.placed"), ("riverbed-version", b"3")])
    with pytest.raises(UnknownEventType):
        decode(_rewrite(value, lambda b: b.update(type="order.shipped")))


def test_validation_failures_name_the_field(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)

    def break_line(body: dict[str, Any]) -> None:
        body["payload"]["lines"][0]["quantity"] = 0
        body["payload"]["lines"][0]["currency"] = "eur"

    with pytest.raises(ValidationFailed) as info:
        decode(_rewrite(value, break_line), headers)
    failed = info.value
    assert isinstance(failed, SchemaError)
    assert failed.reason == "validation_failed"
    assert (failed.event_type, failed.version) == ("order.placed", 1)
    assert [e.path for e in failed.errors] == [
        "payload.lines.0.quantity",
        "payload.lines.0.currency",
    ]
    assert "payload.lines.0.quantity: Input should be greater than 0" in str(failed)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda b: b.update(occurred_at="2024-05-01T12:00:00"), "occurred_at"),
        (lambda b: b.update(extra=1), "extra"),
        (lambda b: b.pop("event_id"), "event_id"),
        (lambda b: b["payload"].update(store_id="a b"), "payload.store_id"),
    ],
)
def test_more_validation_failures(placed: Envelope[OrderPlaced], change: Any, path: str) -> None:
    value, headers = encode(placed)
    with pytest.raises(ValidationFailed) as info:
        decode(_rewrite(value, change), headers)
    assert [e.path for e in info.value.errors] == [path]


def test_context_errors_name_the_key_path(heartbeat: PlaybackHeartbeat) -> None:
    value, headers = encode(new_event(heartbeat, source="player"))
    bad = _rewrite(value, lambda b: b["payload"]["context"]["device"].update({"$where": 1}))
    with pytest.raises(ValidationFailed, match=r"context\['device'\]\['\$where'\]") as info:
        decode(bad, headers)
    assert info.value.errors[0].path == "payload.context"


def test_money_sent_as_a_json_number_is_read_exactly(placed: Envelope[OrderPlaced]) -> None:
    value, headers = encode(placed)
    text = value.decode().replace('"unit_price":"9.99"', '"unit_price":0.30')
    decoded = decode(text.encode(), headers)
    assert isinstance(decoded.payload, OrderPlaced)
    assert decoded.payload.lines[0].unit_price == Decimal("0.30")
