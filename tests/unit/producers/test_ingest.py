"""Client JSON to envelopes: server-owned fields, field paths for what is wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from producers.gateway.ingest import new_event_ids, prepare, source_for
from schemas import Envelope, OrderPlaced

pytestmark = pytest.mark.unit

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def order(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "order.placed",
        "version": 1,
        "payload": {
            "order_id": "o-1",
            "customer_id": "c-1",
            "store_id": "store-7",
            "lines": [{"sku": "A", "quantity": 2, "unit_price": "9.99", "currency": "EUR"}],
        },
    }
    item.update(changes)
    return item


def test_the_server_sets_source_event_id_time_and_key() -> None:
    envelope = prepare(order(), source=source_for("storefront"), now=NOW)
    assert isinstance(envelope, Envelope)
    assert isinstance(envelope.payload, OrderPlaced)
    assert envelope.source == "gateway.storefront"
    assert envelope.key == "store-7"
    assert envelope.occurred_at == NOW
    assert envelope.event_id.version == 4


def test_a_clients_event_id_time_and_matching_key_are_kept() -> None:
    event_id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    item = order(event_id=event_id, occurred_at="2024-01-01T00:00:00Z", key="store-7")
    envelope = prepare(item, source="gateway.x", now=NOW, event_id=str(UUID(int=1)))
    assert isinstance(envelope, Envelope)
    assert envelope.event_id == UUID(event_id)
    assert envelope.occurred_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_a_given_event_id_is_used_when_the_client_sends_none() -> None:
    envelope = prepare(order(), source="gateway.x", now=NOW, event_id=str(UUID(int=7)))
    assert isinstance(envelope, Envelope) and envelope.event_id == UUID(int=7)


def errors_of(item: Any) -> list[dict[str, Any]]:
    result = prepare(item, source="gateway.x", now=NOW)
    assert isinstance(result, list), result
    return result


def test_a_clients_source_is_refused_along_with_other_problems() -> None:
    item = order(source="spoofed")
    item["payload"]["lines"][0]["quantity"] = 0
    found = {tuple(e["loc"]): e["type"] for e in errors_of(item)}
    assert found[("source",)] == "forbidden"
    assert ("payload", "lines", 0, "quantity") in found


def test_unknown_fields_are_refused_with_their_path() -> None:
    assert ("surprise",) in {tuple(e["loc"]) for e in errors_of(order(surprise=1))}
    item = order()
    item["payload"]["colour"] = "red"
    assert ("payload", "colour") in {tuple(e["loc"]) for e in errors_of(item)}


def test_a_key_that_disagrees_with_the_payload_is_refused() -> None:
    [error] = errors_of(order(key="store-8"))
    assert error["loc"] == ["key"] and error["type"] == "key_mismatch"


def test_a_missing_key_field_is_reported_on_the_payload_not_the_key() -> None:
    item = order()
    del item["payload"]["store_id"]
    locs = {tuple(e["loc"]) for e in errors_of(item)}
    assert ("payload", "store_id") in locs and ("key",) not in locs


@pytest.mark.parametrize(
    ("item", "loc", "kind"),
    [
        ([], [], "model_type"),
        ("text", [], "model_type"),
        ({"version": 1, "payload": {}}, ["type"], "missing_type"),
        (order(version="1"), ["version"], "missing_version"),
        (order(version=True), ["version"], "missing_version"),
        (order(type="order.shipped"), ["type"], "unknown_event_type"),
        (order(version=9), ["version"], "unknown_event_version"),
    ],
)
def test_items_that_name_no_contract(item: Any, loc: list[Any], kind: str) -> None:
    assert (loc, kind) in [(e["loc"], e["type"]) for e in errors_of(item)]


def test_error_details_never_echo_the_input() -> None:
    item = order()
    item["payload"]["customer_id"] = "secret value with spaces"
    for error in errors_of(item):
        assert set(error) == {"loc", "msg", "type"}
        assert "secret value" not in error["msg"]


def test_new_event_ids_are_distinct_version_4_uuids() -> None:
    ids = [UUID(text) for text in new_event_ids(2000)]
    assert len(set(ids)) == 2000
    assert all(u.version == 4 and u.variant == "specified in RFC 4122" for u in ids)
    assert new_event_ids(0) == []
