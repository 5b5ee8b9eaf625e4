"""Fakes for the runtime's unit tests: messages, a dead-letter sink, a flush that records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.runtime.dlq import DeadLetters
from schemas import Envelope, StockReceived, encode, new_event

T0 = datetime(2025, 1, 6, tzinfo=UTC)


@dataclass
class Message:
    """What faust's ``event.message`` and aiokafka's ``ConsumerRecord`` both carry."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def event(n: int) -> Envelope[Any]:
    payload = StockReceived(store_id="s1", sku=f"sku-{n}", quantity=1)
    return new_event(payload, source="test", occurred_at=T0 + timedelta(seconds=n))


def message(n: int, *, partition: int = 0, extra: list[tuple[str, bytes]] | None = None) -> Message:
    value, headers = encode(event(n))
    return Message("t.inventory", partition, n, b"s1", value, headers + (extra or []))


def sku(env: Envelope[Any]) -> str:
    return str(env.payload.sku)


@dataclass
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass
class Sink:
    """A send function that records what it was given."""

    sent: list[Sent] = field(default_factory=list)

    async def __call__(
        self, topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append(Sent(topic, key, value, headers))

    def dead_letters(self) -> DeadLetters:
        return DeadLetters(self, "test", "t.dlq")


async def no_sleep(_delay: float) -> None:
    return None
