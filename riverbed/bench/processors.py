"""Stream processors on the local stack: real worker processes against raw baselines.

Workers run as ``riverbed worker KIND`` processes in isolated namespaces of the local
stack (``riverbed.sandbox``), started and joined to their consumer groups before any
clock starts. A worker figure runs from the first write of the (pre-encoded) events to
the last commit, once every group is caught up and the outbox is drained; its baseline
drains the same bytes, pre-loaded, with a raw aiokafka consumer into the same database
(``COPY`` for PostgreSQL, ``bulk_write`` for MongoDB), committing offsets after each
write as the workers do.

Commit times come from the database: each bench namespace adds a column
``committed_at default clock_timestamp()`` to ``processed_events``. The workers' insert
into that table is the last statement of a batch's transaction, so the column is the
commit time less the commit itself (a WAL flush, ~1 ms here), on the host's clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError
from pymongo import AsyncMongoClient, InsertOne

from core.kafka import new_admin, new_consumer
from core.settings import Settings
from processors.kinds import COMMERCE_KINDS, WORKER_TOPICS
from producers.simulators.seed import seed_reference_data
from producers.simulators.simulation import Simulation
from riverbed.bench.children import child_env, peak_rss_mib
from riverbed.bench.feed import Record, flood
from riverbed.sandbox import Namespace
from schemas import TOPIC_PARTITIONS, VIEWING_TOPIC, Envelope

GROUPS = {kind: WORKER_TOPICS[kind] for kind in COMMERCE_KINDS}
COMMIT_CLOCK = (
    "alter table processed_events "
    "add column committed_at timestamptz not null default clock_timestamp()"
)


def commerce_workload(
    count: int, seed: int = 1
) -> tuple[Simulation, list[Envelope[Any]], Iterator[Envelope[Any]]]:
    """Opening stock plus ``count`` order/stock events, and the stream that continues them."""
    sim = Simulation(seed, {"orders": 1, "inventory": 1})
    stream = sim.events()
    return sim, [*sim.initial_stock(), *itertools.islice(stream, count)], stream


def viewing_workload(count: int, seed: int = 2) -> list[Envelope[Any]]:
    return list(itertools.islice(Simulation(seed, {"viewing": 1}).events(), count))


async def fresh(settings: Settings, tmp: Path, sim: Simulation) -> Namespace:
    """A migrated, seeded namespace whose ``processed_events`` records commit times."""
    ns = Namespace(settings, uuid.uuid4().hex[:10], tmp)
    await ns.create()
    await seed_reference_data(
        settings.postgres_owner_dsn.get_secret_value(), sim.catalog, schema=ns.schema
    )
    conn = await ns.owner()
    try:
        await conn.execute(COMMIT_CLOCK)
    finally:
        await conn.close()
    return ns


def start(ns: Namespace, kinds: dict[str, int], env: dict[str, str] | None = None) -> None:
    for kind, count in kinds.items():
        for _ in range(count):
            ns.start(kind, {**child_env(ns.settings), **(env or {})})


async def wait_ready(spaces: list[tuple[Namespace, dict[str, int]]], wait_s: float = 240) -> None:
    """Until each worker group is stable with all its members (each has partitions)."""
    admin = new_admin(spaces[0][0].settings)
    await admin.start()
    try:
        async with asyncio.timeout(wait_s):
            for ns, kinds in spaces:
                for kind, count in kinds.items():
                    while True:
                        _check_alive(ns)
                        try:
                            [response] = await admin.describe_consumer_groups([ns.group(kind)])
                        except KafkaError as exc:
                            # On a new broker the offsets topic (and so every group
                            # coordinator) is created on first use: retriable, wait.
                            if not exc.retriable:
                                raise
                            await asyncio.sleep(0.5)
                            continue
                        [group] = response.to_object()["groups"]
                        if group["state"] == "Stable" and len(group["members"]) == count:
                            break
                        await asyncio.sleep(0.2)
    finally:
        await admin.close()


def _check_alive(ns: Namespace) -> None:
    for kind, procs in ns.workers.items():
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"worker {kind} exited ({p.returncode}):\n{ns.logs()}")


async def last_commit(ns: Namespace) -> float:
    conn = await ns.owner()
    try:
        value: float = await conn.fetchval(
            "select extract(epoch from max(committed_at))::float8 from processed_events"
        )
        return value
    finally:
        await conn.close()


async def through_workers(
    ns: Namespace, batch: list[Record], fed: Counter[str], wait_s: float
) -> float:
    """Events/s from the first write to the last commit, workers already running."""
    return await finish(ns, batch, fed, await flood(ns, batch), wait_s)


async def finish(
    ns: Namespace, batch: list[Record], fed: Counter[str], started: float, wait_s: float
) -> float:
    """Events/s of ``batch`` from ``started`` to the last commit, once everything settled."""
    await settled(ns, fed, batch, wait_s)
    return len(batch) / (await last_commit(ns) - started)


async def settled(ns: Namespace, fed: Counter[str], batch: list[Record], wait_s: float) -> None:
    """Until the commerce workers applied every event of ``batch``, and the outbox is drained.

    A worker applies each partition in order, one transaction per batch, so the batch is
    applied once the *last* record of each of its partitions has its processed row (of
    the kind that consumes it). The check is therefore a few primary-key lookups and the
    partial index of unpublished outbox rows, whatever the tables hold. (It used to count
    ``processed_events`` and ``outbox`` every 50 ms: with 40,000 events stored, those
    counts cost PostgreSQL ~50 µs of CPU per benchmarked event, taken from the workers.)
    ``fed`` counts the events written to each topic of ``ns`` (updated here). Then
    until each group's committed offsets reach the end of its topic.
    """
    fed.update(r.topic for r in batch)
    consumer_of = {ns.topic(t): kind for kind, t in GROUPS.items()}
    last: dict[tuple[str, int], Record] = {}
    for r in batch:
        last[(r.topic, r.partition)] = r
    kinds = [consumer_of[r.topic] for r in last.values()]
    ids = [r.event_id for r in last.values()]
    conn = await ns.owner()
    try:
        async with asyncio.timeout(wait_s):
            while True:
                row = await conn.fetchrow(
                    "select (select count(*) from processed_events p "
                    "join unnest($1::text[], $2::uuid[]) as u(c, e) "
                    "on p.consumer = u.c and p.event_id = u.e) as applied, "
                    "exists (select 1 from outbox) as unpublished",
                    kinds,
                    ids,
                )
                if row["applied"] == len(ids) and not row["unpublished"]:
                    break
                _check_alive(ns)
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise RuntimeError(f"workers did not catch up within {wait_s:.0f} s") from None
    finally:
        await conn.close()
    # And every group read to the end (the emitted stock events included), so that the
    # CPU read after this covers all the work the batch caused.
    await caught_up(ns, GROUPS, wait_s)


async def caught_up(ns: Namespace, groups: dict[str, str], wait_s: float) -> None:
    try:
        await ns.wait_caught_up(groups, wait_s=wait_s)
    except TimeoutError:
        _check_alive(ns)
        raise RuntimeError(f"workers did not catch up within {wait_s:.0f} s") from None


def peak_rss(ns: Namespace) -> dict[str, float]:
    """VmHWM (peak resident set) of each kind's largest worker, in MiB."""
    peaks: dict[str, float] = {}
    for kind, procs in ns.workers.items():
        for p in procs:
            peaks[kind] = max(peaks.get(kind, 0.0), peak_rss_mib(p.pid))
    return peaks


async def drain(
    ns: Namespace,
    logical_topics: list[str],
    count: int,
    write: Callable[[list[Any]], Awaitable[None]],
    *,
    max_records: int,
) -> float:
    """Raw aiokafka consume of ``count`` messages, ``write`` per poll, commit after: ev/s."""
    consumer = new_consumer(
        ns.settings,
        group_id=f"bench-raw-{ns.uid}",
        enable_auto_commit=False,
        max_poll_records=max_records,
    )
    await consumer.start()
    consumer.assign(
        [TopicPartition(ns.topic(t), p) for t in logical_topics for p in range(TOPIC_PARTITIONS[t])]
    )
    await consumer.seek_to_beginning()
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


async def copy_baseline(ns: Namespace, batch: list[Record]) -> float:
    """Raw consume of the same bytes + COPY into a scratch table: the ceiling."""
    await flood(ns, batch)
    conn = await ns.owner()
    await conn.execute("create table bench_raw (event_id uuid, type text, value bytea)")

    async def copy(messages: list[Any]) -> None:
        rows = [
            (uuid.UUID(_header(m, "riverbed-event-id")), _header(m, "riverbed-type"), m.value)
            for m in messages
        ]
        await conn.copy_records_to_table("bench_raw", records=rows)

    try:
        return await drain(ns, list(GROUPS.values()), len(batch), copy, max_records=5000)
    finally:
        await conn.close()


async def bulk_write_baseline(ns: Namespace, batch: list[Record]) -> float:
    """Raw consume of the same bytes + one unordered ``bulk_write`` per poll into MongoDB."""
    await flood(ns, batch)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ns.settings.mongo_uri.get_secret_value()
    )
    collection = client[ns.mongo_db]["bench_raw"]

    async def write(messages: list[Any]) -> None:
        ops = [
            InsertOne({"_id": _header(m, "riverbed-event-id"), "value": m.value}) for m in messages
        ]
        await collection.bulk_write(ops, ordered=False)

    try:
        return await drain(ns, [VIEWING_TOPIC], len(batch), write, max_records=2000)
    finally:
        await client.close()


async def processed_count(client: httpx.AsyncClient) -> int:
    """Events a worker applied, from its /metrics (counted after each successful flush)."""
    text = (await client.get("/metrics")).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("riverbed_events_processed_total{")
    )


async def through_viewing(ns: Namespace, batch: list[Record], port: int, wait_s: float) -> float:
    """Events/s from the first write until the worker's last flush of them succeeded."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        before = await processed_count(client)
        started = time.time()
        await flood(ns, batch)
        async with asyncio.timeout(wait_s):
            while await processed_count(client) < before + len(batch):
                _check_alive(ns)
                await asyncio.sleep(0.1)
        ended = time.time()
    await caught_up(ns, {"viewing": VIEWING_TOPIC}, wait_s)
    return len(batch) / (ended - started)
