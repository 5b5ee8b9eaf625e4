"""Publisher and gateway throughput on the local stack, in one run.

    uv run python -m bench.publisher [--quick] [--events N] [--rounds R] [--json PATH]

Figures, each on the same events (half ``order.placed`` over 64 stores, half
``playback.heartbeat`` over 500 sessions) written to fresh topics (deleted afterwards):

(a) raw aiokafka: ``send`` per pre-encoded message, then gather (the baseline);
(a') raw aiokafka batch API: the path ``publish_many`` takes, for reference;
(b) ``Publisher.publish_many``, encoding included (target: >= 0.8 x (a));
(c) the HTTP gateway in a uvicorn subprocess (one worker), batches of 1,000 sent by
    a few concurrent httpx requests (target: >= 20,000 events/s).

Every figure counts only acknowledged events and checks the topics' end offsets. Each
round runs the figures in turn and the median of the rounds is reported (the machine is
shared); "gateway per server CPU-second" is the gateway's throughput per CPU-second its
process used, a figure that other load on the machine disturbs less. Exits 1 when a
target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import os
import secrets
import socket
import statistics
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
        await publisher.publish_many(events[:2])  # connections and metadata, untimed
        t0 = time.perf_counter()
        deliveries = await publisher.publish_many(events)
        return len(deliveries) / (time.perf_counter() - t0)


class GatewayProcess:
    """The gateway served by ``riverbed gateway``'s code path in a subprocess."""

    def __init__(self, topics: dict[str, str]) -> None:
        self.topics = topics
        self.port, self.key = _free_port(), secrets.token_urlsafe(24)
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> GatewayProcess:
        env = {
            **os.environ,
            "RIVERBED_GATEWAY_API_KEY": self.key,
            "RIVERBED_GATEWAY_RATE_PER_S": "1e9",
            "RIVERBED_GATEWAY_RATE_BURST": str(10**9),
        }
        args = ["-m", "bench.publisher", "--serve-gateway", str(self.port)]
        args += ["--topics", json.dumps(self.topics)]
        self.process = await asyncio.create_subprocess_exec(sys.executable, *args, env=env)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def client(self) -> httpx.AsyncClient:
        headers = {"X-API-Key": self.key, "Content-Type": "application/json"}
        return httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{self.port}", headers=headers, timeout=60
        )

    async def wait_ready(self, client: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process is None or self.process.returncode is not None:
                raise RuntimeError("the gateway process exited")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("the gateway did not become ready within 30 s")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        with open(f"/proc/{self.process.pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(count: int, rounds: int) -> list[Figure]:
    settings = get_settings()
    events = make_events(count)
    bodies = client_bodies(make_events(count + BATCH))  # the first batch warms up
    uid = secrets.token_hex(4)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    labels = ("raw", "rawbatch", "publisher", "gateway")
    topics = {label: await fresh_topics(admin, label, uid) for label in labels}
    rates: dict[str, list[float]] = {name: [] for name in (*labels, "gateway_cpu")}
    try:
        warm = {label: await warm_up(settings, list(t.values())) for label, t in topics.items()}
        async with GatewayProcess(topics["gateway"]) as gateway, gateway.client() as client:
            await gateway.wait_ready(client)
            await client.post("/v1/events/batch", content=bodies[0])
            for _ in range(rounds):  # interleaved, so that the machine's noise hits all
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
    ratio = m["publisher"] / m["raw"]
    gateway_met = m["gateway"] >= GATEWAY_TARGET
    return [
        Figure("raw aiokafka send (a)", m["raw"], "events/s"),
        Figure(
            "raw aiokafka batch API (a')",
            m["rawbatch"],
            "events/s",
            m["raw"],
            m["rawbatch"] / m["raw"],
        ),
        Figure(
            "Publisher.publish_many (b)",
            m["publisher"],
            "events/s",
            m["raw"],
            ratio,
            PUBLISHER_RATIO_TARGET,
            ratio >= PUBLISHER_RATIO_TARGET,
        ),
        Figure(
            "gateway batch endpoint (c)",
            m["gateway"],
            "events/s",
            None,
            None,
            GATEWAY_TARGET,
            gateway_met,
        ),
        Figure("gateway per server CPU-second", m["gateway_cpu"], "events/cpu-s"),
    ]


def print_table(figures: list[Figure], count: int, rounds: int) -> None:
    s = get_settings()
    extras = [m for m in ("uvloop", "httptools", "cramjam") if importlib.util.find_spec(m)]
    print(
        f"\n{count:,} events x {rounds} rounds (median); compression={s.publisher_compression}, "
        f"linger={s.publisher_linger_ms}ms, batch={s.publisher_batch_bytes}B; "
        f"installed: {', '.join(extras) or 'no uvloop/httptools/cramjam'}\n"
    )
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
    parser.add_argument("--quick", action="store_true", help="20,000 events, 2 rounds (< 30 s)")
    parser.add_argument("--events", type=int, default=100_000, help="events per figure and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument("--serve-gateway", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--topics", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(args.serve_gateway, json.loads(args.topics))
        return
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # leader elections of new topics
    count, rounds = (20_000, 2) if args.quick else (args.events, args.rounds)
    figures = asyncio.run(run(count, rounds))
    print_table(figures, count, rounds)
    if args.json:
        with open(args.json, "w") as file:
            json.dump([asdict(f) for f in figures], file, indent=2)
    if any(f.met is False for f in figures):
        sys.exit(1)


if __name__ == "__main__":
    main()
