"""Publish envelopes to Kafka and report only what the broker acknowledged.

The topic and key of every event come from ``schemas.topics``; value and headers from
``schemas.wire.encode``. The producer is idempotent with ``acks="all"``: the client's
own retries never duplicate an event, while a caller that retries after a
:class:`PublishError` may (consumers deduplicate on ``event_id``).

Back-pressure: at most ``publisher_max_pending`` events are handed to the client and not
yet acknowledged; further sends wait for room. Deadline: an event handed over is
acknowledged within ``publisher_send_timeout_s`` or the call raises
:class:`PublishTimeout`; waiting for room is bounded the same way (no room for that long
means something older is overdue).

``publish_many`` fills one record batch per partition itself (see
:mod:`producers.batches`) instead of calling ``send`` per event: the same partitions, a
fraction of the per-event cost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError
from opentelemetry.trace import Tracer, use_span

from core.kafka import new_producer
from core.settings import Settings
from core.tracing import tracing_for
from producers.backpressure import PendingLimit
from producers.batches import BatchWriter, Handed
from producers.errors import PublishError, PublishRejected, PublishTimeout
from producers.tracing import create_span, delivered, send_span, stamped
from schemas.envelope import Envelope
from schemas.topics import rule_for
from schemas.wire import encode

log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]
# Events per back-pressure acquisition and per set of record batches in publish_many.
CHUNK = 4096


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where the broker acknowledged one event."""

    event_id: UUID
    topic: str
    partition: int
    offset: int


class Publisher:
    """Publishes envelopes to their rule topics; not idempotent per call (see module).

    ``topics`` renames rule topics (``{"riverbed.orders": "test.orders.x"}``), for tests
    and benchmarks that must not write to the shared topics.

    ``tracer``: trace each call with a ``send`` span whose context the events carry
    (:mod:`producers.tracing`); default: the ``publisher`` component's when tracing is
    on (``otel_endpoint``), else none.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        producer: AIOKafkaProducer | None = None,
        topics: Mapping[str, str] | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._settings = settings
        if tracer is None and (tracing := tracing_for(settings, "publisher")) is not None:
            tracer = tracing.tracer
        self._tracer = tracer
        self._timeout = settings.publisher_send_timeout_s
        self._limit = PendingLimit(settings.publisher_max_pending)
        self._injected = producer
        self._producer: Any = None
        self._topics = dict(topics or {})
        self._writer: BatchWriter | None = None
        self._routes: dict[str, tuple[str, str]] = {}  # event type -> (topic, key field)

    # -- lifecycle --------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._producer is not None

    @property
    def pending(self) -> int:
        """Events handed to the client and not yet acknowledged (or failed)."""
        return self._limit.pending

    @property
    def peak_pending(self) -> int:
        return self._limit.peak

    async def start(self) -> None:
        """Connect; raises :class:`PublishError` naming the bootstrap address on failure."""
        if self._producer is not None:
            return
        producer = self._injected if self._injected is not None else self._new_producer()
        bootstrap = self._settings.kafka_bootstrap
        try:
            async with asyncio.timeout(self._timeout):
                await producer.start()
        except (KafkaError, OSError, TimeoutError) as exc:
            if self._injected is None:
                await _quietly_stop(producer)
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            raise PublishError(
                f"cannot connect to Kafka at {bootstrap} within {self._timeout:g}s: {reason}"
            ) from exc
        self._producer = producer
        self._writer = BatchWriter(producer, self._limit.release)

    async def stop(self) -> None:
        """Flush what is pending (bounded by the send deadline), then close."""
        producer, self._producer = self._producer, None
        producer = producer if producer is not None else self._injected
        if producer is None:
            return
        try:
            async with asyncio.timeout(self._timeout):
                await producer.flush()
        except (KafkaError, TimeoutError) as exc:
            log.warning("publisher stopping with unacknowledged events: %r", exc)
        await _quietly_stop(producer)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def ping(self, within_s: float) -> bool:
        """True when started and the broker answers a metadata request within ``within_s``."""
        if self._producer is None:
            return False
        try:
            async with asyncio.timeout(within_s):
                return bool(await self._producer.client.force_metadata_update())
        except (KafkaError, OSError, TimeoutError):
            return False

    # -- publishing -------------------------------------------------------------------

    async def publish(self, event: Envelope[Any]) -> Delivery:
        """Publish one event and wait for its acknowledgement."""
        topic, key = self._destination(event)
        if self._tracer is not None:
            return await self._publish_traced(self._tracer, event, topic, key)
        value, headers = encode(event)
        metadata = await self._send_one(topic, key, value, headers)
        return Delivery(event.event_id, metadata.topic, metadata.partition, metadata.offset)

    async def _publish_traced(
        self, tracer: Tracer, event: Envelope[Any], topic: str, key: bytes
    ) -> Delivery:
        span = send_span(tracer, topic, [event], own_parent=event.traceparent is not None)
        with use_span(span, end_on_exit=True):
            value, headers = encode(stamped(event, span, replace=True))
            metadata = await self._send_one(topic, key, value, headers)
            delivered(span, metadata.partition, metadata.offset)
        return Delivery(event.event_id, metadata.topic, metadata.partition, metadata.offset)

    async def publish_many(self, events: Sequence[Envelope[Any]]) -> list[Delivery]:
        """Publish events in order (per key) and wait for all; deliveries in input order.

        Every event's topic and key are checked before anything is sent. All-or-error:
        any event not acknowledged makes the call raise, although others may have been
        written (retry them all with the same ids).
        """
        if self._tracer is None or not events:
            return await self._publish_many(events)
        span = send_span(self._tracer, self._destination(events[0])[0], events, own_parent=False)
        with use_span(span, end_on_exit=True):
            if not span.is_recording():  # not sampled: the batch's context, no span per event
                return await self._publish_many([stamped(e, span, replace=False) for e in events])
            # Stamping changes no type or key: these serve the stamped copies too.
            destinations = [self._destination(event) for event in events]
            creates = [
                None if e.traceparent is not None else create_span(self._tracer, t, e)
                for e, (t, _) in zip(events, destinations, strict=True)
            ]
            try:
                deliveries = await self._publish_many(
                    [
                        e if c is None else stamped(e, c, replace=True)
                        for e, c in zip(events, creates, strict=True)
                    ],
                    destinations,
                )
                for c, d in zip(creates, deliveries, strict=True):
                    if c is not None:
                        delivered(c, d.partition, d.offset)
                return deliveries
            finally:
                for c in creates:
                    if c is not None:
                        c.end()

    async def _publish_many(
        self,
        events: Sequence[Envelope[Any]],
        destinations: list[tuple[str, bytes]] | None = None,
    ) -> list[Delivery]:
        writer = self._running_writer()
        if destinations is None:
            destinations = [self._destination(event) for event in events]
        loop = asyncio.get_running_loop()
        handed: list[tuple[asyncio.Future[Any], float, list[int]]] = []
        chunk = min(CHUNK, self._limit.limit)
        try:
            for first in range(0, len(events), chunk):
                last = min(first + chunk, len(events))
                async with asyncio.timeout(self._timeout):
                    await self._limit.acquire(last - first)
                    batches = await self._write(writer, events, destinations, first, last)
                deadline = loop.time() + self._timeout
                handed.extend((future, deadline, indexes) for future, indexes in batches)
            deliveries: list[Delivery | None] = [None] * len(events)
            for future, deadline, indexes in handed:
                if not future.done():
                    async with asyncio.timeout_at(deadline):
                        await asyncio.shield(future)
                metadata = future.result()  # raises what the broker answered
                topic, partition, offset = metadata.topic, metadata.partition, metadata.offset
                for relative, index in enumerate(indexes):
                    deliveries[index] = Delivery(
                        events[index].event_id, topic, partition, offset + relative
                    )
        except (KafkaError, TimeoutError) as exc:
            raise _failure(exc, f"{len(events)} events") from exc
        return deliveries  # type: ignore[return-value]  # every index was filled above

    # -- internals --------------------------------------------------------------------

    async def _write(
        self,
        writer: BatchWriter,
        events: Sequence[Envelope[Any]],
        destinations: list[tuple[str, bytes]],
        first: int,
        last: int,
    ) -> list[Handed]:
        """Encode and hand over events[first:last], whose slots are taken.

        Encoding chunk by chunk keeps at most one chunk of encoded bytes alive.
        """
        handed: list[Handed] = []
        records = ((i, *destinations[i], *encode(events[i])) for i in range(first, last))
        try:
            await writer.write(records, (t for t, _ in destinations[first:last]), handed)
        except BaseException:
            # Batches handed over settle through their callbacks; the rest never left.
            self._limit.release(last - first - sum(len(h[1]) for h in handed))
            raise
        return handed

    def _new_producer(self) -> AIOKafkaProducer:
        return new_producer(self._settings, **producer_config(self._settings))

    def _running_writer(self) -> BatchWriter:
        self._running()
        assert self._writer is not None
        return self._writer

    def _running(self) -> Any:
        if self._producer is None:
            raise PublishError("publisher is not started (or was stopped)")
        return self._producer

    def _destination(self, event: Envelope[Any]) -> tuple[str, bytes]:
        """The topic and key bytes of an event, by its rule in ``schemas.topics``."""
        route = self._routes.get(event.type)
        if route is None:
            rule = rule_for(event.type)
            route = self._routes[event.type] = (
                self._topics.get(rule.name) or self._settings.topic(rule.name),
                rule.key_field,
            )
        key = getattr(event.payload, route[1])
        if key != event.key:
            raise PublishRejected(
                f"event {event.event_id}: key {event.key!r} differs from its {route[1]} "
                f"{key!r} (schemas.topics keys {event.type} by it)"
            )
        return route[0], key.encode()

    async def _send_one(self, topic: str, key: bytes | None, value: bytes, headers: Headers) -> Any:
        producer = self._running()
        try:
            async with asyncio.timeout(self._timeout):
                await self._limit.acquire(1)
                try:
                    future = await producer.send(topic, value, key=key, headers=headers)
                except BaseException:
                    self._limit.release(1)
                    raise
                future.add_done_callback(self._release_one)
                return await asyncio.shield(future)
        except (KafkaError, TimeoutError) as exc:
            raise _failure(exc, f"a message to {topic}") from exc

    def _release_one(self, _: object) -> None:
        self._limit.release(1)


def producer_config(settings: Settings) -> dict[str, Any]:
    """The producer options a :class:`Publisher` uses (benchmarks reuse them); the
    connection and security arguments are added by :func:`core.kafka.new_producer`."""
    compression = settings.publisher_compression
    return {
        "client_id": "riverbed-publisher",
        "enable_idempotence": True,
        "acks": "all",
        "compression_type": None if compression == "none" else compression,
        "linger_ms": settings.publisher_linger_ms,
        "max_batch_size": settings.publisher_batch_bytes,
        # aiokafka's own waits (metadata, buffer room, batch expiry) end no later than
        # ours, so a dead broker surfaces as an error, not a hang.
        "request_timeout_ms": max(1000, int(settings.publisher_send_timeout_s * 1000)),
    }


def _failure(exc: BaseException, what: str) -> PublishError | PublishRejected:
    if isinstance(exc, TimeoutError | KafkaTimeoutError):
        return PublishTimeout(f"no acknowledgement for {what} within the send deadline")
    if isinstance(exc, MessageSizeTooLargeError):
        return PublishRejected(f"the broker refused {what}: {exc}")
    return PublishError(f"publishing {what} failed: {exc!r}")


async def _quietly_stop(producer: Any) -> None:
    try:
        await producer.stop()
    except (KafkaError, OSError) as exc:  # closing a broken connection is not news
        log.debug("producer stop: %r", exc)
