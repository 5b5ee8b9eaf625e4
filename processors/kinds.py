"""The table of worker kinds: which topic each kind's consumer group reads.

A leaf module (it imports only the topic names), so the runtime, the bootstrap, the
dashboard and the harnesses all read the one table without importing the workers.
Consumer groups are ``<group_prefix>-<kind>``; metrics ports are ``metrics_port + index``.
"""

from __future__ import annotations

from schemas import INVENTORY_TOPIC, ORDERS_TOPIC, VIEWING_TOPIC

# kind -> the (logical) topic its consumer group reads; the order fixes the metrics ports.
WORKER_TOPICS: dict[str, str] = {
    "orders": ORDERS_TOPIC,
    "inventory": INVENTORY_TOPIC,
    "viewing": VIEWING_TOPIC,
}
KINDS: tuple[str, ...] = tuple(WORKER_TOPICS)
COMMERCE_KINDS: tuple[str, ...] = ("orders", "inventory")


def topic_of(kind: str) -> str:
    """The logical topic of ``kind``; a clear error for an unknown kind."""
    try:
        return WORKER_TOPICS[kind]
    except KeyError:
        raise ValueError(
            f"unknown worker kind {kind!r}; expected one of {', '.join(KINDS)}"
        ) from None
