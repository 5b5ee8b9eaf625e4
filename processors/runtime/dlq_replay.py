"""Read the dead-letter topic and put its events back on the topics they belong to.

Where a letter goes is decided by the event's own ``type`` (read from its JSON body),
with the same rule as publishing (``schemas.topics``), and only if that is one of
Riverbed's input topics (:data:`INPUT_TOPICS`): never by a header. Whoever can write to
the dead-letter topic can set any header (``riverbed-dlq-topic`` included), so a header
must not steer the tool into ``order-decisions`` or a worker's internal topics. A letter
whose body has no known (type, version), or whose type belongs to an output topic, is
skipped and reported (:class:`Plan`). The replayed message gets ``riverbed-type`` and
``riverbed-version`` from its body too, so a worker parses it by what it is.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from core.kafka import new_consumer, new_producer
from core.settings import Settings
from processors.runtime.dlq import (
    DLQ_HEADERS,
    H_AT,
    H_EXCEPTION,
    H_OFFSET,
    H_PARTITION,
    H_REASON,
    H_TOPIC,
)
from schemas import (
    DLQ_TOPIC,
    HEADER_TYPE,
    HEADER_VERSION,
    INVENTORY_TOPIC,
    ORDERS_TOPIC,
    SHOPPERS_TOPIC,
    VIEWING_TOPIC,
    registry,
    topic_for,
)
from schemas.errors import SchemaError

# The topics a replay may write: those the workers read that only outside producers write
# (what the gateway publishes to). Not order-decisions nor deliveries, which dispatch
# reads but workers write too (order.confirmed, delivery.assigned).
INPUT_TOPICS = frozenset({ORDERS_TOPIC, INVENTORY_TOPIC, VIEWING_TOPIC, SHOPPERS_TOPIC})


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode(errors="replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header(H_REASON)

    @property
    def exception(self) -> str:
        return self.header(H_EXCEPTION)

    @property
    def body_contract(self) -> tuple[str, int] | None:
        """The body's ``(type, version)`` if it is a JSON object naming both, else None."""
        try:
            body = json.loads(self.value) if self.value is not None else None
        except (ValueError, UnicodeDecodeError):
            return None
        if type(body) is not dict:
            return None
        event_type, version = body.get("type"), body.get("version")
        if type(event_type) is not str or type(version) is not int:
            return None
        return event_type, version

    @property
    def event_type(self) -> str:
        """The body's type if it has one (what a replay goes by), else the header's."""
        contract = self.body_contract
        return contract[0] if contract else self.header(HEADER_TYPE)

    @property
    def origin(self) -> str:
        return f"{self.header(H_TOPIC)}[{self.header(H_PARTITION)}]@{self.header(H_OFFSET)}"

    @property
    def at(self) -> datetime | None:
        raw = self.header(H_AT)
        return datetime.fromisoformat(raw) if raw else None

    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if k not in DLQ_HEADERS]

    def replay_headers(self, event_type: str, version: int) -> list[tuple[str, bytes]]:
        """The original headers, with type and version taken from the body."""
        kept = [(k, v) for k, v in self.original_headers() if k not in _CONTRACT_HEADERS]
        return [*kept, (HEADER_TYPE, event_type.encode()), (HEADER_VERSION, str(version).encode())]


_CONTRACT_HEADERS = frozenset({HEADER_TYPE, HEADER_VERSION})


@dataclass
class Plan:
    """What a replay would do: ``(letter, logical topic)`` to send, and skipped letters
    with why (by reason, for the operator)."""

    sends: list[tuple[DeadLetter, str]] = field(default_factory=list)
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)

    def by_topic(self) -> Counter[str]:
        return Counter(topic for _letter, topic in self.sends)


def plan(letters: Iterable[DeadLetter]) -> Plan:
    """Where each letter would go, by its body's type, input topics only."""
    out = Plan()
    for letter in letters:
        contract = letter.body_contract
        if contract is None:
            out.skipped.append((letter, "the body is not an event with a type and version"))
            continue
        try:
            registry.get(*contract)
            topic = topic_for(contract[0])
        except SchemaError:
            out.skipped.append((letter, f"no contract for {contract[0]} v{contract[1]}"))
            continue
        if topic not in INPUT_TOPICS:
            out.skipped.append((letter, f"{contract[0]} belongs on {topic}, not an input topic"))
            continue
        out.sends.append((letter, topic))
    return out


async def read_all(settings: Settings) -> list[DeadLetter]:
    """Every dead letter currently on the topic (from the start to the end offsets)."""
    topic = settings.topic(DLQ_TOPIC)
    consumer = new_consumer(settings, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[DeadLetter] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    out.append(DeadLetter(m.offset, m.partition, m.key, m.value, tuple(m.headers)))
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if not batch:
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        return sorted(out, key=lambda d: (d.at or datetime.min, d.partition, d.offset))
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def select(
    letters: Iterable[DeadLetter], *, event_type: str | None, since: datetime | None
) -> list[DeadLetter]:
    return [
        d
        for d in letters
        if (event_type is None or d.event_type == event_type)
        and (since is None or (d.at is not None and d.at >= since))
    ]


async def replay(settings: Settings, planned: Plan) -> int:
    """Re-publish ``planned.sends`` (original key and value; type headers from the body)."""
    if not planned.sends:
        return 0
    producer = new_producer(settings, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        futures = []
        for letter, topic in planned.sends:
            contract = letter.body_contract
            # plan() guarantees both; a Plan is a plain object, so check again here.
            if topic not in INPUT_TOPICS or contract is None or topic_for(contract[0]) != topic:
                raise ValueError(f"refusing to replay to {topic}: not this event's input topic")
            futures.append(
                await producer.send(
                    settings.topic(topic),
                    letter.value,
                    key=letter.key,
                    headers=letter.replay_headers(*contract),
                )
            )
        for fut in futures:
            await fut
        return len(futures)
    finally:
        await producer.stop()
