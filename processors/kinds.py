"""The table of worker kinds: which topic each kind's consumer group reads.

A leaf module (it imports only the topic names), so the runtime, the bootstrap, the
dashboard and the harnesses all read the one table without importing the workers.
Consumer groups are ``<group_prefix>-<kind>``; metrics ports are ``metrics_port + index``.
"""

from __future__ import annotations

from schemas import (
    DELIVERIES_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    SHOPPERS_TOPIC,
    VIEWING_TOPIC,
)

# kind -> the (logical) topic its consumer group reads; the order fixes the metrics ports.
WORKER_TOPICS: dict[str, str] = {
    "orders": ORDERS_TOPIC,
    "inventory": INVENTORY_TOPIC,
    "viewing": VIEWING_TOPIC,
    "dispatch": ORDER_DECISIONS_TOPIC,
}
KINDS: tuple[str, ...] = tuple(WORKER_TOPICS)
COMMERCE_KINDS: tuple[str, ...] = ("orders", "inventory")
# Kinds that read more than their main topic (co-partitioned with it: same key, same count).
EXTRA_TOPICS: dict[str, tuple[str, ...]] = {"dispatch": (SHOPPERS_TOPIC, DELIVERIES_TOPIC)}


def topics_of(kind: str) -> tuple[str, ...]:
    """Every logical topic ``kind`` subscribes to, its main topic first."""
    return (topic_of(kind), *EXTRA_TOPICS.get(kind, ()))


def topic_of(kind: str) -> str:
    """The logical topic of ``kind``; a clear error for an unknown kind."""
    try:
        return WORKER_TOPICS[kind]
    except KeyError:
        raise ValueError(
            f"unknown worker kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None
