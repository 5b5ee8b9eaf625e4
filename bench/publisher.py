"""Publisher and gateway throughput on the local stack, in one run.

    uv run python -m bench.publisher [--quick] [--events N] [--json PATH]

Figures, each on the same events (half ``order.placed`` over 64 stores, half
``playback.heartbeat`` over 500 sessions) written to fresh topics (deleted afterwards):

(a) raw aiokafka: ``send`` per pre-encoded message, then gather (the baseline);
(a') raw aiokafka batch API: the path ``publish_many`` takes, for reference;
(b) ``Publisher.publish_many``, encoding included (target: >= 0.8 x (a));
(c) the HTTP gateway in a uvicorn subprocess (one worker), batches of 1,000 sent by
    a few concurrent httpx requests (target: >= 20,000 events/s).

Every figure counts only acknowledged events and checks the topics' end offsets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import sys
import time
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic_core import from_json, to_json

from producers.publisher import Publisher, producer_config
from riverbed.settings import Settings, get_settings
from schemas import ORDERS_TOPIC, VIEWING_TOPIC, OrderPlaced, PlaybackHeartbeat, encode, new_event
from schemas.envelope import Envelope

BATCH = 1000
CONCURRENCY = 4
PARTITIONS = 4
GATEWAY_TARGET = 20_000.0
PUBLISHER_RATIO_TARGET = 0.8


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: float | None = None
    met: bool | None = None


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
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    await producer.start()
    try:
        for topic in topics:
            for partition in range(PARTITIONS):
                await producer.send_and_wait(topic, b"warm-up", partition=partition)
    finally:
        await producer.stop()
    return len(topics) * PARTITIONS


async def total_messages(settings: Settings, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
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
    producer = AIOKafkaProducer(**producer_config(settings))
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
        await publisher.publish_many(make_events(2))  # connections and metadata, untimed
        t0 = time.perf_counter()
        deliveries = await publisher.publish_many(events)
        rate = len(deliveries) / (time.perf_counter() - t0)
    return rate


async def bench_gateway(
    settings: Settings, bodies: list[bytes], topics: dict[str, str]
) -> tuple[float, float]:
    """Events/s through the gateway, and events per CPU-second of the server process."""
    port, key = _free_port(), secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "RIVERBED_GATEWAY_API_KEY": key,
        "RIVERBED_GATEWAY_RATE_PER_S": "1e9",
        "RIVERBED_GATEWAY_RATE_BURST": str(10**9),
        "RIVERBED_LOG_LEVEL": "warning",
    }
    cmd = [
        sys.executable,
        "-m",
        "bench.publisher",
        "--serve-gateway",
        str(port),
        "--topics",
        json.dumps(topics),
    ]
    server = await asyncio.create_subprocess_exec(*cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    try:
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            await _wait_ready(client, server)
            await client.post("/v1/events/batch", content=bodies[0])  # warm-up, untimed
            queue = list(reversed(bodies[1:]))
            accepted = 0

            async def worker() -> None:
                nonlocal accepted
                while queue:
                    response = await client.post("/v1/events/batch", content=queue.pop())
                    if response.status_code != 202:
                        raise RuntimeError(
                            f"gateway answered {response.status_code}: {response.text[:300]}"
                        )
                    accepted += from_json(response.content)["accepted"]

            cpu0, t0 = _cpu_seconds(server.pid), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            elapsed, cpu = time.perf_counter() - t0, _cpu_seconds(server.pid) - cpu0
        return accepted / elapsed, accepted / cpu
    finally:
        server.terminate()
        await server.wait()


async def _wait_ready(client: httpx.AsyncClient, server: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.returncode is not None:
            raise RuntimeError("the gateway process exited")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the gateway did not become ready within 30 s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(count: int) -> list[Figure]:
    settings = get_settings()
    events = make_events(count)
    bodies = client_bodies(make_events(count + BATCH))  # one extra batch to warm up
    uid = secrets.token_hex(4)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    created: list[str] = []
    try:
        rates: dict[str, float] = {}
        for label in ("raw", "rawbatch", "publisher", "gateway"):
            topics = await fresh_topics(admin, label, uid)
            created.extend(topics.values())
            warm = await warm_up(settings, list(topics.values()))
            if label == "raw":
                rates[label] = await bench_raw(settings, events, topics, batch_api=False)
            elif label == "rawbatch":
                rates[label] = await bench_raw(settings, events, topics, batch_api=True)
            elif label == "publisher":
                rates[label] = await bench_publisher(settings, events, topics)
            else:
                rates[label], rates["gateway_cpu"] = await bench_gateway(settings, bodies, topics)
            expected = warm + {"publisher": count + 2, "gateway": count + BATCH}.get(label, count)
            found = await total_messages(settings, list(topics.values()))
            if found != expected:
                raise RuntimeError(f"{label}: {found} messages on the broker, expected {expected}")
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()
    raw = rates["raw"]
    ratio = rates["publisher"] / raw
    return [
        Figure("raw aiokafka send (a)", raw, "events/s"),
        Figure(
            "raw aiokafka batch API (a')",
            rates["rawbatch"],
            "events/s",
            raw,
            rates["rawbatch"] / raw,
        ),
        Figure(
            "Publisher.publish_many (b)",
            rates["publisher"],
            "events/s",
            raw,
            ratio,
            PUBLISHER_RATIO_TARGET,
            ratio >= PUBLISHER_RATIO_TARGET,
        ),
        Figure(
            "gateway batch endpoint (c)",
            rates["gateway"],
            "events/s",
            None,
            None,
            GATEWAY_TARGET,
            rates["gateway"] >= GATEWAY_TARGET,
        ),
        Figure("gateway per server CPU-second", rates["gateway_cpu"], "events/cpu-s"),
    ]


def print_table(figures: list[Figure], count: int) -> None:
    print(f"\n{count:,} events, compression={get_settings().publisher_compression}\n")
    print(
        f"{'figure':<32} {'events/s':>12} {'baseline':>10} {'ratio':>6} {'target':>10} {'met':>4}"
    )
    for f in figures:
        baseline = f"{f.baseline:,.0f}" if f.baseline else "-"
        ratio = f"{f.ratio:.2f}" if f.ratio else "-"
        target = (
            "-"
            if f.target is None
            else (f"{f.target:.1f}x" if f.target < 10 else f"{f.target:,.0f}")
        )
        met = "-" if f.met is None else ("yes" if f.met else "NO")
        print(f"{f.name:<32} {f.value:>12,.0f} {baseline:>10} {ratio:>6} {target:>10} {met:>4}")


def serve_gateway(port: int, topics: dict[str, str]) -> None:
    from producers.gateway import create_app
    from producers.gateway.server import serve

    settings = get_settings()
    app = create_app(settings, publisher=Publisher(settings, topics=topics))
    serve(app, host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 events (well under 30 s)")
    parser.add_argument("--events", type=int, default=200_000, help="events per figure")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--serve-gateway", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--topics", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(args.serve_gateway, json.loads(args.topics))
        return
    count = 20_000 if args.quick else args.events
    figures = asyncio.run(run(count))
    print_table(figures, count)
    if args.json:
        with open(args.json, "w") as file:
            json.dump([asdict(f) for f in figures], file, indent=2)
    if any(f.met is False for f in figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
