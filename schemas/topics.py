"""Which topic every event type travels on, and its partition key: the one place.

Producers, processors, sinks and the stack's topic creation all read these rules, so
that moving an event or changing a key is one edit here. Orders and inventory are keyed
by ``store_id`` and their topics share one partition count (co-partitioned): a processor
joining a store's orders with its stock finds both on the same partition number.
Shopper and delivery events are keyed by ``store_id`` too (a shopper works one store's
zone), so the dispatch worker finds a store's confirmed orders and its shoppers on one
partition number. Viewing is keyed by ``session_id`` so one session's events stay in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.base import Payload
from schemas.delivery import (
    DeliveryAssigned,
    DeliveryDelivered,
    DeliveryFailed,
    DeliveryPickedUp,
    ShopperLocation,
    ShopperOffline,
    ShopperOnline,
)
from schemas.errors import UnknownEventType
from schemas.inventory import StockAdjusted, StockLow, StockReceived, StockReleased, StockReserved
from schemas.orders import OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from schemas.viewing import (
    PlaybackCompleted,
    PlaybackHeartbeat,
    PlaybackPaused,
    PlaybackResumed,
    PlaybackStarted,
    PlaybackStopped,
)

ORDERS_TOPIC = "riverbed.orders"
ORDER_DECISIONS_TOPIC = "riverbed.order-decisions"
INVENTORY_TOPIC = "riverbed.inventory"
STOCK_ALERTS_TOPIC = "riverbed.stock-alerts"
VIEWING_TOPIC = "riverbed.viewing"
SHOPPERS_TOPIC = "riverbed.shoppers"
DELIVERIES_TOPIC = "riverbed.deliveries"
DLQ_TOPIC = "riverbed.dlq"

DEFAULT_PARTITIONS = 4
# Every store-keyed topic must keep this count, or co-partitioning silently breaks.
STORE_PARTITIONS = DEFAULT_PARTITIONS
VIEWING_PARTITIONS = DEFAULT_PARTITIONS
DLQ_PARTITIONS = DEFAULT_PARTITIONS


@dataclass(frozen=True, slots=True)
class TopicRule:
    """A topic, its partition count, the payload field that keys it and its events."""

    name: str
    partitions: int
    key_field: str
    event_types: frozenset[str]


def _types(*payloads: type[Payload]) -> frozenset[str]:
    return frozenset(p.EVENT_TYPE for p in payloads)


TOPIC_RULES: tuple[TopicRule, ...] = (
    TopicRule(ORDERS_TOPIC, STORE_PARTITIONS, "store_id", _types(OrderPlaced, OrderCancelled)),
    TopicRule(
        ORDER_DECISIONS_TOPIC,
        STORE_PARTITIONS,
        "store_id",
        _types(OrderConfirmed, OrderRejected),
    ),
    TopicRule(
        INVENTORY_TOPIC,
        STORE_PARTITIONS,
        "store_id",
        _types(StockReceived, StockAdjusted, StockReserved, StockReleased),
    ),
    TopicRule(STOCK_ALERTS_TOPIC, STORE_PARTITIONS, "store_id", _types(StockLow)),
    TopicRule(
        SHOPPERS_TOPIC,
        STORE_PARTITIONS,
        "store_id",
        _types(ShopperOnline, ShopperOffline, ShopperLocation),
    ),
    TopicRule(
        DELIVERIES_TOPIC,
        STORE_PARTITIONS,
        "store_id",
        _types(DeliveryAssigned, DeliveryPickedUp, DeliveryDelivered, DeliveryFailed),
    ),
    TopicRule(
        VIEWING_TOPIC,
        VIEWING_PARTITIONS,
        "session_id",
        _types(
            PlaybackStarted,
            PlaybackHeartbeat,
            PlaybackPaused,
            PlaybackResumed,
            PlaybackStopped,
            PlaybackCompleted,
        ),
    ),
)

_RULE_BY_TYPE: dict[str, TopicRule] = {t: r for r in TOPIC_RULES for t in r.event_types}

# Every topic Riverbed creates, with its partition count (the dead-letter topic too).
TOPIC_PARTITIONS: Mapping[str, int] = {
    **{rule.name: rule.partitions for rule in TOPIC_RULES},
    DLQ_TOPIC: DLQ_PARTITIONS,
}


def rule_for(event_type: str) -> TopicRule:
    """The topic rule of an event type; raises :class:`UnknownEventType`."""
    try:
        return _RULE_BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def topic_for(event_type: str) -> str:
    """The topic an event type is published to; raises :class:`UnknownEventType`."""
    return rule_for(event_type).name


def key_for(payload: Payload) -> str:
    """The Kafka message key of a payload, by its topic's key rule."""
    value = getattr(payload, rule_for(payload.EVENT_TYPE).key_field, None)
    if not isinstance(value, str):  # only if a rule names a field its payloads lack
        raise TypeError(f"{type(payload).__name__} has no string key field")
    return value
