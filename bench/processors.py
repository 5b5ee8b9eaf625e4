"""Processor benchmark: events/s from Kafka through the workers into PostgreSQL.

Every figure stands next to a baseline measured in the same run on the same events:
raw aiokafka consume + asyncpg ``copy_records_to_table`` of the raw events. Workers run
as real processes in an isolated namespace of the local stack (``riverbed.sandbox``).

    uv run python -m bench.processors [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from bench.report import Figure, print_table, write_json
from producers.simulators.seed import seed_reference_data
from producers.simulators.simulation import Simulation
from riverbed.sandbox import Namespace
from riverbed.settings import get_settings
from schemas import INVENTORY_TOPIC, ORDERS_TOPIC, VIEWING_TOPIC, Envelope, topic_for

GROUPS = {"orders": ORDERS_TOPIC, "inventory": INVENTORY_TOPIC}


def workload(count: int, seed: int = 1) -> tuple[Simulation, list[Envelope[Any]]]:
    sim = Simulation(seed, {"orders": 1, "inventory": 1})
    return sim, [*sim.initial_stock(), *itertools.islice(sim.events(), count)]


async def through_workers(
    ns: Namespace, events: list[Envelope[Any]], workers: int
) -> tuple[float, list[int]]:
    """Pre-load the topics, then time the workers from first write to caught up."""
    await ns.publish(events)
    procs = [ns.start(kind) for kind in GROUPS for _ in range(workers)]
    conn = await ns.owner()
    try:
        while not await conn.fetchval("select exists (select 1 from processed_events)"):  # noqa: ASYNC110 - another process writes
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        await ns.wait_caught_up(GROUPS, wait_s=900)
        elapsed = time.perf_counter() - t0
        done = await conn.fetchval("select count(*) from processed_events")
    finally:
        await conn.close()
    rss = [peak_rss_kib(p.pid) for p in procs]
    ns.stop_all()
    return done / elapsed, rss


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def viewing_workload(count: int, seed: int = 2) -> list[Envelope[Any]]:
    return list(itertools.islice(Simulation(seed, {"viewing": 1}).events(), count))


async def drain(
    ns: Namespace,
    topics: list[str],
    count: int,
    write: Callable[[list[Any]], Awaitable[None]],
    *,
    max_records: int,
) -> float:
    """Raw aiokafka consume of ``count`` messages, ``write`` per poll, commit after: ev/s."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=ns.settings.kafka_bootstrap,
        group_id=f"bench-raw-{ns.uid}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=max_records,
    )
    await consumer.start()
    seen = 0
    t0 = time.perf_counter()
    try:
        while seen < count:
            batch = await consumer.getmany(timeout_ms=1000, max_records=max_records)
            messages = [m for ms in batch.values() for m in ms]
            if messages:
                await write(messages)
                await consumer.commit()
                seen += len(messages)
        return count / (time.perf_counter() - t0)
    finally:
        await consumer.stop()


def _header(message: Any, name: str) -> str:
    return str(dict(message.headers)[name].decode())


async def baseline(ns: Namespace, events: list[Envelope[Any]]) -> float:
    """Raw consume of the same bytes + COPY into a scratch table: the ceiling."""
    await ns.publish(events)
    topics = [ns.topic(t) for t in {topic_for(e.type) for e in events}]
    conn = await ns.owner()
    await conn.execute("create table bench_raw (event_id uuid, type text, value bytea)")

    async def copy(messages: list[Any]) -> None:
        rows = [
            (uuid.UUID(_header(m, "riverbed-event-id")), _header(m, "riverbed-type"), m.value)
            for m in messages
        ]
        await conn.copy_records_to_table("bench_raw", records=rows)

    try:
        return await drain(ns, topics, len(events), copy, max_records=5000)
    finally:
        await conn.close()


async def viewing_baseline(ns: Namespace, events: list[Envelope[Any]]) -> float:
    """Raw consume of the same bytes + ``insert_many`` of them into MongoDB."""
    await ns.publish(events)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value()
    )
    collection = client[ns.mongo_db]["bench_raw"]

    async def insert(messages: list[Any]) -> None:
        docs = [{"_id": _header(m, "riverbed-event-id"), "value": m.value} for m in messages]
        await collection.insert_many(docs, ordered=False)

    try:
        return await drain(ns, [ns.topic(VIEWING_TOPIC)], len(events), insert, max_records=2000)
    finally:
        await client.close()


async def viewing_through_worker(ns: Namespace, events: list[Envelope[Any]]) -> tuple[float, int]:
    await ns.publish(events)
    proc = ns.start("viewing")
    t0 = 0.0
    async with asyncio.timeout(900):
        while await ns.lag("viewing", VIEWING_TOPIC) >= len(events):  # noqa: ASYNC110 - polls another process
            await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        await ns.wait_caught_up({"viewing": VIEWING_TOPIC}, wait_s=900)
    rate = len(events) / (time.perf_counter() - t0)
    rss = peak_rss_kib(proc.pid)
    ns.stop_all()
    return rate, rss


async def fresh(tmp: Path, sim: Simulation) -> Namespace:
    ns = Namespace(get_settings(), uuid.uuid4().hex[:10], tmp)
    await ns.create()
    await seed_reference_data(
        ns.settings.postgres_owner_dsn.get_secret_value(), sim.catalog, schema=ns.schema
    )
    return ns


async def main(quick: bool, json_path: Path | None) -> list[Figure]:
    count = 20_000 if quick else 100_000
    sim, events = workload(count)
    tmp = Path(tempfile.mkdtemp(prefix="riverbed-bench-"))
    figures: list[Figure] = []
    spaces: list[Namespace] = []
    try:
        ns = await fresh(tmp, sim)
        spaces.append(ns)
        base = await baseline(ns, events)
        one = await fresh(tmp, sim)
        spaces.append(one)
        rate1, rss1 = await through_workers(one, events, workers=1)
        figures.append(
            Figure(
                "orders+inventory workers, events/s",
                rate1,
                "ev/s",
                base,
                "ratio >= 0.5",
                rate1 / base >= 0.5,
            )
        )
        figures.append(
            Figure(
                "orders+inventory end-to-end, events/s",
                rate1,
                "ev/s",
                None,
                ">= 10000",
                rate1 >= 10_000,
            )
        )
        figures.append(
            Figure(
                "worker peak RSS (max of 2)",
                max(rss1) / 1024,
                "MiB",
                None,
                "<= 300",
                max(rss1) / 1024 <= 300,
            )
        )
        views = viewing_workload(count // 2)
        vbase_ns = await fresh(tmp, sim)
        spaces.append(vbase_ns)
        vbase = await viewing_baseline(vbase_ns, views)
        vns = await fresh(tmp, sim)
        spaces.append(vns)
        vrate, vrss = await viewing_through_worker(vns, views)
        figures.append(
            Figure(
                "viewing worker into MongoDB, events/s",
                vrate,
                "ev/s",
                vbase,
                "ratio >= 0.5",
                vrate / vbase >= 0.5,
            )
        )
        figures.append(
            Figure(
                "viewing worker peak RSS", vrss / 1024, "MiB", None, "<= 300", vrss / 1024 <= 300
            )
        )
        if not quick:
            two = await fresh(tmp, sim)
            spaces.append(two)
            rate2, _ = await through_workers(two, events, workers=2)
            figures.append(
                Figure(
                    "2 workers per kind vs 1, events/s",
                    rate2,
                    "ev/s",
                    rate1,
                    "ratio >= 1.6",
                    rate2 / rate1 >= 1.6,
                )
            )
    finally:
        for space in spaces:
            await space.drop()
    print(f"\nprocessor benchmark: {len(events):,} orders+inventory events (seeded simulator)")
    print_table(figures)
    if json_path:
        write_json(figures, json_path)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k events, no scaling run")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.json))
