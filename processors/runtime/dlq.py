"""The dead-letter topic: events that can never be processed, with the reason why.

The original key, value and headers are kept as they were, so ``riverbed dlq replay``
can put them back on their topic once the cause is fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from schemas import DLQ_TOPIC

log = logging.getLogger("riverbed.dlq")

H_REASON = "riverbed-dlq-reason"
H_EXCEPTION = "riverbed-dlq-exception"
H_TOPIC = "riverbed-dlq-topic"
H_PARTITION = "riverbed-dlq-partition"
H_OFFSET = "riverbed-dlq-offset"
H_CONSUMER = "riverbed-dlq-consumer"
H_AT = "riverbed-dlq-at"
DLQ_HEADERS = (H_REASON, H_EXCEPTION, H_TOPIC, H_PARTITION, H_OFFSET, H_CONSUMER, H_AT)
MAX_REASON = 2000

# (topic, key, value, headers) -> awaitable ack
Send = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]]], Awaitable[Any]]


def reason_of(exc: BaseException) -> str:
    """A one-line reason, without secrets: schema errors carry their own ``reason``."""
    code = getattr(exc, "reason", None)
    detail = str(exc) or type(exc).__name__
    text = f"{code}: {detail}" if code and code != detail else detail
    return " ".join(str(text).split())[:MAX_REASON]


def dead_letter_headers(
    *,
    original: Sequence[tuple[str, bytes]],
    exc: BaseException,
    topic: str,
    partition: int,
    offset: int,
    consumer: str,
) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in original if k not in DLQ_HEADERS]
    return [
        *kept,
        (H_REASON, reason_of(exc).encode()),
        (H_EXCEPTION, type(exc).__name__.encode()),
        (H_TOPIC, topic.encode()),
        (H_PARTITION, str(partition).encode()),
        (H_OFFSET, str(offset).encode()),
        (H_CONSUMER, consumer.encode()),
        (H_AT, datetime.now(UTC).isoformat().encode()),
    ]


class DeadLetters:
    """Sends poison messages to ``riverbed.dlq``; ``count`` feeds the metrics."""

    def __init__(
        self,
        send: Send,
        consumer: str,
        topic: str = DLQ_TOPIC,
        on_put: Callable[[Sequence[tuple[str, bytes]]], None] | None = None,
    ) -> None:
        self._send = send
        self.topic = topic
        self.consumer = consumer
        self.count = 0
        self._on_put = on_put  # e.g. metrics, called with the original headers

    async def put(
        self,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        topic: str,
        partition: int,
        offset: int,
        exc: BaseException,
    ) -> None:
        dl_headers = dead_letter_headers(
            original=headers,
            exc=exc,
            topic=topic,
            partition=partition,
            offset=offset,
            consumer=self.consumer,
        )
        await self._send(self.topic, key, value, dl_headers)
        self.count += 1
        if self._on_put is not None:
            self._on_put(headers)
        event_id = dict(headers).get("riverbed-event-id", b"").decode(errors="replace") or None
        log.warning(
            "dead-lettered %s[%d]@%d: %s",
            topic,
            partition,
            offset,
            reason_of(exc),
            extra={
                "event_id": event_id,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "consumer": self.consumer,
            },
        )
