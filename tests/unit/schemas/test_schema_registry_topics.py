from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas import (
    DELIVERIES_TOPIC,
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    SHOPPERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    TOPIC_PARTITIONS,
    TOPIC_RULES,
    VIEWING_TOPIC,
    OrderPlaced,
    PlaybackHeartbeat,
    Registry,
    SchemaError,
    StockAdjusted,
    StockLow,
    UnknownEventType,
    UnknownEventVersion,
    key_for,
    new_event,
    registry,
    topic_for,
)
from schemas.base import Payload

pytestmark = pytest.mark.unit

EXPECTED_TOPICS = {
    "order.placed": ORDERS_TOPIC,
    "order.cancelled": ORDERS_TOPIC,
    "order.confirmed": ORDER_DECISIONS_TOPIC,
    "order.rejected": ORDER_DECISIONS_TOPIC,
    "stock.received": INVENTORY_TOPIC,
    "stock.adjusted": INVENTORY_TOPIC,
    "stock.reserved": INVENTORY_TOPIC,
    "stock.released": INVENTORY_TOPIC,
    "stock.low": STOCK_ALERTS_TOPIC,
    "playback.started": VIEWING_TOPIC,
    "playback.heartbeat": VIEWING_TOPIC,
    "playback.paused": VIEWING_TOPIC,
    "playback.resumed": VIEWING_TOPIC,
    "playback.stopped": VIEWING_TOPIC,
    "playback.completed": VIEWING_TOPIC,
    "shopper.online": SHOPPERS_TOPIC,
    "shopper.offline": SHOPPERS_TOPIC,
    "shopper.location": SHOPPERS_TOPIC,
    "delivery.assigned": DELIVERIES_TOPIC,
    "delivery.picked_up": DELIVERIES_TOPIC,
    "delivery.delivered": DELIVERIES_TOPIC,
    "delivery.failed": DELIVERIES_TOPIC,
}


def test_registry_gets_each_model() -> None:
    assert registry.get("order.placed", 1) is OrderPlaced
    assert registry.get("stock.low", 1) is StockLow
    assert registry.envelope("order.placed", 1).model_fields["payload"].annotation is OrderPlaced


def test_registry_lists_every_contract_in_order() -> None:
    listed = [(p.EVENT_TYPE, p.EVENT_VERSION) for p in registry.all()]
    assert listed == sorted(listed)
    assert {t for t, _ in listed} == set(EXPECTED_TOPICS)


def test_unknown_type() -> None:
    with pytest.raises(UnknownEventType, match=r"'order\.shipped'") as info:
        registry.get("order.shipped", 1)
    assert isinstance(info.value, SchemaError)
    assert info.value.reason == "unknown_event_type"
    with pytest.raises(UnknownEventType):
        registry.envelope("order.shipped", 1)


def test_unknown_version() -> None:
    with pytest.raises(UnknownEventVersion, match=r"version 9 .*known: 1") as info:
        registry.get("order.placed", 9)
    assert isinstance(info.value, SchemaError)
    assert (info.value.event_type, info.value.version, info.value.known) == (
        "order.placed",
        9,
        (1,),
    )
    assert info.value.reason == "unknown_event_version"


def test_versions_and_latest() -> None:
    class OrderPlacedV2(OrderPlaced):
        EVENT_VERSION = 2

    two = Registry([OrderPlacedV2, OrderPlaced])
    assert two.versions("order.placed") == (1, 2)
    assert two.latest("order.placed") is OrderPlacedV2
    assert ("order.placed", 2) in two
    with pytest.raises(UnknownEventType):
        two.versions("nope.nope")


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        Registry([OrderPlaced, OrderPlaced])


@pytest.mark.parametrize(("event_type", "version"), [("OrderPlaced", 1), ("order", 1), ("a.b", 0)])
def test_badly_named_contracts_are_refused(event_type: str, version: int) -> None:
    class Odd(Payload):
        EVENT_TYPE = event_type
        EVENT_VERSION = version

    with pytest.raises(ValueError, match="bad event type or version"):
        Registry([Odd])


@pytest.mark.parametrize(("event_type", "topic"), sorted(EXPECTED_TOPICS.items()))
def test_topic_for(event_type: str, topic: str) -> None:
    assert topic_for(event_type) == topic


def test_topic_for_unknown_type() -> None:
    with pytest.raises(UnknownEventType):
        topic_for("order.shipped")


def test_every_registered_type_has_one_topic_and_a_key_field() -> None:
    for payload in registry.all():
        rules = [r for r in TOPIC_RULES if payload.EVENT_TYPE in r.event_types]
        assert len(rules) == 1, payload
        assert rules[0].key_field in payload.model_fields, payload
    routed = {t for rule in TOPIC_RULES for t in rule.event_types}
    assert routed == {p.EVENT_TYPE for p in registry.all()}


def test_store_topics_are_co_partitioned() -> None:
    store_topics = [r for r in TOPIC_RULES if r.key_field == "store_id"]
    assert {r.name for r in store_topics} == {
        ORDERS_TOPIC,
        ORDER_DECISIONS_TOPIC,
        INVENTORY_TOPIC,
        STOCK_ALERTS_TOPIC,
        SHOPPERS_TOPIC,
        DELIVERIES_TOPIC,
    }
    assert len({r.partitions for r in store_topics}) == 1


def test_topic_partitions_cover_every_topic_and_the_dlq() -> None:
    assert set(TOPIC_PARTITIONS) == {*EXPECTED_TOPICS.values(), DLQ_TOPIC}
    assert all(count >= 1 for count in TOPIC_PARTITIONS.values())


def test_key_for(order_placed: OrderPlaced, heartbeat: PlaybackHeartbeat) -> None:
    assert key_for(order_placed) == "store_7"
    assert key_for(StockAdjusted(store_id="s9", sku="A", delta=-1, reason="damaged")) == "s9"
    assert key_for(heartbeat) == "sess-1"


def test_key_for_an_unrouted_payload() -> None:
    class Orphan(Payload):
        EVENT_TYPE = "orphan.created"
        EVENT_VERSION = 1

    with pytest.raises(UnknownEventType):
        key_for(Orphan())


def test_any_envelope_parses_to_the_concrete_model(
    order_placed: OrderPlaced, heartbeat: PlaybackHeartbeat
) -> None:
    for payload in (order_placed, heartbeat):
        event = new_event(payload, source="test")
        parsed = registry.any_envelope.validate_json(event.model_dump_json())
        assert type(parsed) is type(event)
        assert parsed == event
    assert registry.any_envelope is registry.any_envelope


def test_any_envelope_refuses_an_unknown_contract(order_placed: OrderPlaced) -> None:
    data = new_event(order_placed, source="test").model_dump(mode="json")
    with pytest.raises(ValidationError, match="no contract for this"):
        registry.any_envelope.validate_python({**data, "version": 2})
