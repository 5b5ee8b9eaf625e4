"""The seeded input of a fault run, and a publisher that survives a broker outage.

Stock movements are published first and orders and playback second (as in the end-to-end
test), so every order's decision is fixed by the input alone and the pure decision logic
over the same events says what the tables must hold, whatever the faults did.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer

from core.kafka import new_producer
from producers.simulators.simulation import Simulation
from riverbed.sandbox import Namespace
from schemas import (
    INVENTORY_TOPIC,
    ORDERS_TOPIC,
    VIEWING_TOPIC,
    Envelope,
    encode,
    topic_for,
)
from schemas.wire import MAX_MESSAGE_BYTES

log = logging.getLogger("riverbed.chaos")
MIX = {"orders": 1, "inventory": 1, "viewing": 1}
Say = Callable[[str], None]


@dataclass(frozen=True)
class Message:
    """One Kafka record as published: logical topic, key, value, headers."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    reason: str | None = None  # poison only: a fragment of the expected DLQ reason


@dataclass
class Workload:
    sim: Simulation
    stock: list[Envelope[Any]]  # opening stock and every stock.* event of the mix
    stream: list[Envelope[Any]]  # orders and playback, in mix order
    poison: list[Message]

    @property
    def size(self) -> int:
        return len(self.stock) + len(self.stream) + len(self.poison)

    @property
    def commerce(self) -> list[Envelope[Any]]:
        return [*self.stock, *(e for e in self.stream if e.type.startswith("order."))]

    @property
    def viewing(self) -> list[Envelope[Any]]:
        return [e for e in self.stream if e.type.startswith("playback.")]

    def stream_messages(self, seed: int) -> list[Message]:
        """The stream phase as records, poison spread at seeded random places."""
        out = [as_message(e) for e in self.stream]
        rng = random.Random(seed)  # noqa: S311 - a seeded layout, not a secret
        for p in self.poison:
            out.insert(rng.randrange(len(out) + 1), p)
        return out


def build(seed: int, count: int, *, poison: bool = False) -> Workload:
    """``count`` unique events in all (opening stock included), plus poison if asked."""
    sim = Simulation(seed, MIX)
    opening = list(sim.initial_stock())
    mixed = list(itertools.islice(sim.events(), max(count - len(opening), 0)))
    stock = [*opening, *(e for e in mixed if e.type.startswith("stock."))]
    stream = [e for e in mixed if not e.type.startswith("stock.")]
    bad = poison_messages(stream) if poison else []
    return Workload(sim, stock, stream, bad)


def as_message(envelope: Envelope[Any]) -> Message:
    value, headers = encode(envelope)
    return Message(topic_for(envelope.type), envelope.key.encode(), value, headers)


def poison_messages(stream: Sequence[Envelope[Any]]) -> list[Message]:
    """Each poison kind on each input topic, built from a real event of that topic."""
    samples = {
        ORDERS_TOPIC: next(e for e in stream if e.type == "order.placed"),
        VIEWING_TOPIC: next(e for e in stream if e.type == "playback.started"),
    }
    out: list[Message] = []
    for topic, sample in samples.items():
        value, headers = encode(sample)
        body = json.loads(value)
        untyped = [(k, v) for k, v in headers if k not in ("riverbed-type", "riverbed-version")]
        invalid = json.loads(value)
        invalid["payload"] = {k: None for k in invalid["payload"]}
        key = sample.key.encode()
        out += [
            Message(topic, key, b"{not json", untyped, "malformed JSON"),
            Message(
                topic, key, _dump({**body, "type": "x.teleported"}), untyped, "unknown_event_type"
            ),
            Message(topic, key, _dump({**body, "version": 99}), untyped, "unknown_event_version"),
            Message(topic, key, _dump(invalid), headers, "validation_failed"),
            Message(topic, key, _oversized(), untyped, "exceeds"),
        ]
    # The inventory topic gets its own malformed record too: its worker must flow on.
    out.append(Message(INVENTORY_TOPIC, b"s1", b"\xff\xfe not json", [], "malformed JSON"))
    return out


def _dump(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _oversized() -> bytes:
    pad = b"x" * (3 * int(MAX_MESSAGE_BYTES))
    return b'{"pad": "' + pad + b'"}'


Pace = Callable[[int], Awaitable[None]]


class Publisher:
    """Publishes records in chunks; a chunk that fails (broker down) is sent again.

    A resent chunk may duplicate records on the topic: that is at-least-once delivery,
    which the workers must absorb (they deduplicate by event id).
    """

    def __init__(self, ns: Namespace, say: Say, *, chunk: int = 500) -> None:
        self.ns = ns
        self.say = say
        self.chunk = chunk
        self.resent_chunks = 0
        self._producer: AIOKafkaProducer | None = None

    async def _connect(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(
                self.ns.settings,
                acks="all",
                linger_ms=5,
                request_timeout_ms=10_000,
                max_request_size=MAX_MESSAGE_BYTES * 8,
            )
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def publish(self, messages: Sequence[Message], pace: Pace | None = None) -> None:
        for start in range(0, len(messages), self.chunk):
            if pace is not None:
                await pace(start)
            await self._send_chunk(messages[start : start + self.chunk])

    async def _send_chunk(self, chunk: Sequence[Message]) -> None:
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(60):
                    producer = await self._connect()
                    futures = [
                        await producer.send(
                            self.ns.topic(m.topic), m.value, key=m.key, headers=m.headers
                        )
                        for m in chunk
                    ]
                    results = await asyncio.gather(*futures, return_exceptions=True)
                # Every failure is read here (none is left "never retrieved"): the
                # first one decides that the chunk goes again.
                failed = [r for r in results if isinstance(r, BaseException)]
                if failed:
                    raise failed[0]
                return
            except Exception as exc:
                attempt += 1
                self.resent_chunks += 1
                if attempt == 1:
                    self.say(f"publisher: {type(exc).__name__}: {exc}; sending the chunk again")
                await self.close()
                await asyncio.sleep(min(5.0, 0.5 * attempt))
