"""Publisher and gateway throughput on the local stack: part of ``riverbed bench``.

Figures, each on the same events (half ``order.placed`` over 64 stores, half
``playback.heartbeat`` over 500 sessions) written to fresh topics (deleted afterwards):

(a) raw aiokafka: ``send`` per pre-encoded message, then gather (the baseline);
(a') raw aiokafka batch API: the path ``publish_many`` takes, for reference;
(b) ``Publisher.publish_many``, encoding included (target: ratio >= 0.8), once against
    (a) and once against (a'), the stricter comparison: the same path without encoding;
(c) the HTTP gateway in a uvicorn subprocess (one worker), batches of 1,000 sent by
    a few concurrent httpx requests (target: >= 20,000 events/s; baseline (a)).

Every figure counts only acknowledged events and checks the topics' end offsets. Each
round runs the figures in turn and the median of the rounds is reported (the machine is
shared); "gateway per server CPU-second" is the gateway's throughput per CPU-second its
process used, a figure that other load on the machine disturbs less.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic_core import from_json, to_json

from core.kafka import new_admin, new_consumer, new_producer
from core.settings import Settings
from producers.publisher import Publisher, producer_config
from riverbed.bench.gateway import GatewayProcess
from riverbed.bench.report import Figure, at_least, progress
from schemas import ORDERS_TOPIC, VIEWING_TOPIC, OrderPlaced, PlaybackHeartbeat, encode, new_event
from schemas.envelope import Envelope

BATCH = 1000
CONCURRENCY = 4
PARTITIONS = 4
GATEWAY_TARGET = 20_000.0
PUBLISHER_RATIO_TARGET = 0.8


def make_events(count: int) -> list[Envelope[Any]]:
    events: list[Envelope[Any]] = []
    line = {"sku": "SKU-1", "quantity": 2, "unit_price": Decimal("9.99"), "currency": "EUR"}
    for i in range(count):
        if i % 2 == 0:
            payload: Any = OrderPlaced.model_validate(
                {
                    "order_id": f"o-{i}",
                    "customer_id": f"c-{i % 997}",
                    "store_id": f"store-{i % 64}",
                    "lines": [line],
                }
            )
        else:
            payload = PlaybackHeartbeat(
                session_id=f"sess-{i % 500}",
                user_id=f"u-{i % 500}",
                title_id="t-42",
                position_s=float(i % 3600),
                context={"device": "tv", "bitrate_kbps": 4800},
            )
        events.append(new_event(payload, source="bench"))
    return events


def client_bodies(events: list[Envelope[Any]]) -> list[bytes]:
    """Batches as a client sends them: no source, key, event_id or occurred_at."""
    drop = {"source", "key", "event_id", "occurred_at", "correlation_id", "traceparent"}
    items = [e.model_dump(mode="json", exclude=drop) for e in events]
    return [to_json(items[i : i + BATCH]) for i in range(0, len(items), BATCH)]


async def fresh_topics(admin: AIOKafkaAdminClient, label: str, uid: str) -> dict[str, str]:
    mapping = {
        rule: f"bench.{label}.{rule.split('.')[-1]}.{uid}" for rule in (ORDERS_TOPIC, VIEWING_TOPIC)
    }
    await admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in mapping.values()])
    return mapping


async def warm_up(settings: Settings, topics: list[str]) -> int:
    """One message to every partition, so leaders are elected before the clock starts."""
    producer = new_producer(settings)
    await producer.start()
    try:
        for topic in topics:
            for partition in range(PARTITIONS):
                await producer.send_and_wait(topic, b"warm-up", partition=partition)
    finally:
        await producer.stop()
    return len(topics) * PARTITIONS


async def total_messages(settings: Settings, topics: list[str]) -> int:
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def bench_raw(
    settings: Settings, events: list[Envelope[Any]], topics: dict[str, str], batch_api: bool
) -> float:
    pairs = []
    for e in events:
        value, headers = encode(e)
        topic = topics[ORDERS_TOPIC if e.type.startswith("order.") else VIEWING_TOPIC]
        pairs.append((topic, e.key.encode(), value, headers))
    producer = new_producer(settings, **producer_config(settings))
    await producer.start()
    try:
        for topic in topics.values():
            await producer.partitions_for(topic)
        t0 = time.perf_counter()
        if batch_api:
            # Like publish_many without the rules and encoding: one batch per partition.
            from aiokafka.partitioner import murmur2

            futures = []
            for first in range(0, len(pairs), 4096):
                builders: dict[tuple[str, int], Any] = {}
                for topic, key, value, headers in pairs[first : first + 4096]:
                    where = (topic, (murmur2(key) & 0x7FFFFFFF) % PARTITIONS)
                    builder = builders.get(where) or builders.setdefault(
                        where, producer.create_batch()
                    )
                    if (
                        builder.append(timestamp=None, key=key, value=value, headers=headers)
                        is None
                    ):
                        futures.append(
                            await producer.send_batch(builder, where[0], partition=where[1])
                        )
                        builder = builders[where] = producer.create_batch()
                        builder.append(timestamp=None, key=key, value=value, headers=headers)
                for where, builder in builders.items():
                    futures.append(await producer.send_batch(builder, where[0], partition=where[1]))
        else:
            futures = [await producer.send(t, v, key=k, headers=h) for t, k, v, h in pairs]
        await asyncio.gather(*futures)
        return len(pairs) / (time.perf_counter() - t0)
    finally:
        await producer.stop()


async def bench_publisher(
    settings: Settings, events: list[Envelope[Any]], topics: dict[str, str]
) -> float:
    async with Publisher(settings, topics=topics) as publisher:
        await publisher.publish_many(events[:2])  # connections and metadata, untimed
        t0 = time.perf_counter()
        deliveries = await publisher.publish_many(events)
        return len(deliveries) / (time.perf_counter() - t0)


async def bench_gateway(
    gateway: GatewayProcess, client: httpx.AsyncClient, bodies: list[bytes]
) -> tuple[float, float]:
    """Events/s through the gateway, and events per CPU-second of the server process."""
    queue = list(reversed(bodies))
    accepted = 0

    async def worker() -> None:
        nonlocal accepted
        while queue:
            response = await client.post("/v1/events/batch", content=queue.pop())
            if response.status_code != 202:
                raise RuntimeError(f"gateway: {response.status_code} {response.text[:300]}")
            accepted += from_json(response.content)["accepted"]

    cpu0, t0 = gateway.cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed, cpu = time.perf_counter() - t0, gateway.cpu_seconds() - cpu0
    return accepted / elapsed, accepted / cpu


async def run(settings: Settings, count: int, rounds: int) -> list[Figure]:
    """The publisher and gateway figures: ``rounds`` interleaved rounds of ``count`` events."""
    events = make_events(count)
    bodies = client_bodies(make_events(count + BATCH))  # the first batch warms up
    uid = secrets.token_hex(4)
    admin = new_admin(settings)
    await admin.start()
    labels = ("raw", "rawbatch", "publisher", "gateway")
    topics = {label: await fresh_topics(admin, label, uid) for label in labels}
    rates: dict[str, list[float]] = {name: [] for name in (*labels, "gateway_cpu")}
    try:
        warm = {label: await warm_up(settings, list(t.values())) for label, t in topics.items()}
        async with (
            GatewayProcess(settings, topics["gateway"]) as gateway,
            gateway.client() as client,
        ):
            await gateway.wait_ready(client)
            await client.post("/v1/events/batch", content=bodies[0])
            for n in range(rounds):  # interleaved, so that the machine's noise hits all
                progress(f"publisher: round {n + 1}/{rounds} of {count:,} events")
                rates["raw"].append(await bench_raw(settings, events, topics["raw"], False))
                rates["rawbatch"].append(
                    await bench_raw(settings, events, topics["rawbatch"], True)
                )
                rates["publisher"].append(
                    await bench_publisher(settings, events, topics["publisher"])
                )
                rate, per_cpu = await bench_gateway(gateway, client, bodies[1:])
                rates["gateway"].append(rate)
                rates["gateway_cpu"].append(per_cpu)
        extra = {"publisher": 2 * rounds, "gateway": BATCH}
        for label in labels:
            expected = warm[label] + rounds * count + extra.get(label, 0)
            found = await total_messages(settings, list(topics[label].values()))
            if found != expected:
                raise RuntimeError(f"{label}: {found} messages on the broker, expected {expected}")
    finally:
        await admin.delete_topics([t for mapping in topics.values() for t in mapping.values()])
        await admin.close()
    m = {name: statistics.median(values) for name, values in rates.items()}
    return [
        Figure("raw aiokafka send per message (baseline)", m["raw"], "ev/s"),
        Figure("raw aiokafka batch API", m["rawbatch"], "ev/s", m["raw"]),
        Figure(
            "publisher publish_many (encoding incl.)",
            m["publisher"],
            "ev/s",
            m["raw"],
            at_least(PUBLISHER_RATIO_TARGET, on="ratio"),
        ),
        Figure(
            "publisher publish_many vs raw batch API",
            m["publisher"],
            "ev/s",
            m["rawbatch"],
            at_least(PUBLISHER_RATIO_TARGET, on="ratio"),
        ),
        Figure(
            "gateway POST /v1/events/batch",
            m["gateway"],
            "ev/s",
            m["raw"],
            at_least(GATEWAY_TARGET),
        ),
        Figure("gateway per server CPU-second", m["gateway_cpu"], "ev/cpu-s"),
    ]
