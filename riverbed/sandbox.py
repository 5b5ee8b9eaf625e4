"""An isolated namespace on the real stack, for tests, benchmarks and fault runs.

A namespace has its own topic prefix, consumer-group prefix and Postgres schema (fully
migrated, app and reader roles granted), and starts real worker processes with
``python -m riverbed worker KIND`` pointed at it through ``RIVERBED_*`` variables, so
many runs share one broker and one database without seeing each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import NewTopic
from pymongo import AsyncMongoClient

from core.kafka import GROUP_GONE, delete_groups, new_admin, new_consumer, new_producer
from core.settings import Settings
from processors.kinds import KINDS
from processors.runtime.app import worker_datadir
from producers.topic_admin import replication_for
from riverbed.stack.postgres import roles
from schemas import DLQ_TOPIC, TOPIC_PARTITIONS, Envelope, encode, topic_for
from stores.postgres.migrate import migrate
from stores.postgres.pool import quote_ident

# Table -> ordering used for byte-for-byte dumps.
DOMAIN_TABLES = {
    "orders": "order_id",
    "order_lines": "order_id, line_no",
    "order_status_history": "order_id, status",
    "inventory": "store_id, sku",
    "inventory_movements": "movement_id",
    "processed_events": "consumer, event_id",
    "outbox": "id",
    "dispatch_orders": "order_id",
    "shoppers": "shopper_id",
    "deliveries": "delivery_id",
}


@dataclass
class Namespace:
    settings: Settings
    uid: str
    log_dir: Path
    workers: dict[str, list[subprocess.Popen[bytes]]] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"t{self.uid}."

    @property
    def schema(self) -> str:
        return f"test_{self.uid}"

    @property
    def group_prefix(self) -> str:
        return f"t{self.uid}"

    @property
    def mongo_db(self) -> str:
        return f"test_{self.uid}"

    def _names(self) -> dict[str, str]:
        """The namespace's settings (field names): topics, groups, schema, database."""
        return {
            "topic_prefix": self.prefix,
            "group_prefix": self.group_prefix,
            "postgres_schema": self.schema,
            "mongo_db": self.mongo_db,
        }

    @property
    def env(self) -> dict[str, str]:
        return {
            **{f"RIVERBED_{name.upper()}": value for name, value in self._names().items()},
            # The namespace's broker(s): a local cluster lists every node.
            "RIVERBED_KAFKA_BOOTSTRAP": self.settings.kafka_bootstrap,
            "RIVERBED_SINK_FLUSH_MS": "100",
        }

    def local_settings(self) -> Settings:
        """The settings with this namespace's names, for in-process apps and clients."""
        return self.settings.model_copy(update=self._names())

    def topic(self, logical: str) -> str:
        return f"{self.prefix}{logical}"

    def group(self, kind: str) -> str:
        return f"{self.group_prefix}-{kind}"

    async def create(self) -> None:
        admin = new_admin(self.settings)
        await admin.start()
        try:
            names = {**TOPIC_PARTITIONS, DLQ_TOPIC: TOPIC_PARTITIONS.get(DLQ_TOPIC, 4)}
            rf, configs = await replication_for(admin)  # 3 on a cluster, as in production
            await admin.create_topics(
                [NewTopic(self.topic(t), n, rf, topic_configs=configs) for t, n in names.items()]
            )
        finally:
            await admin.close()
        app_role, reader_role = roles(self.settings)
        await migrate(
            self.settings.postgres_owner_dsn.get_secret_value(),
            schema=self.schema,
            app_role=app_role,
            reader_role=reader_role,
            say=lambda _m: None,
        )

    def owns(self, name: str) -> bool:
        """A topic or consumer group of this namespace (workers', bench's, tests')."""
        return name.startswith((self.prefix, f"{self.group_prefix}-")) or name.endswith(
            f"-{self.uid}"
        )

    async def drop(self) -> None:
        """Stop the workers, then delete every topic, group, schema and database of ours."""
        await self.stop()
        await self._drop_kafka()
        for kind in KINDS:
            shutil.rmtree(worker_datadir(self.settings.data_dir, self.group(kind)), True)
        conn = await self.owner()
        try:
            await conn.execute(f"drop schema if exists {quote_ident(self.schema)} cascade")
        finally:
            await conn.close()
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            self.settings.mongo_uri.get_secret_value()
        )
        try:
            await client.drop_database(self.mongo_db)
        finally:
            await client.close()

    async def _drop_kafka(self) -> None:
        admin = new_admin(self.settings)
        await admin.start()
        try:
            groups = [g[0] for g in await admin.list_consumer_groups() if self.owns(g[0])]
            # A worker that died without leaving stays a member until its session times
            # out (RIVERBED_WORKER_SESSION_TIMEOUT_S): until then the broker refuses
            # (GROUP_NOT_EMPTY), so try again for a little longer than that.
            deadline = time.monotonic() + self.settings.worker_session_timeout_s + 20
            while groups:
                codes = await delete_groups(admin, groups)
                groups = [g for g, c in codes.items() if c not in GROUP_GONE]
                if groups and time.monotonic() > deadline:
                    raise RuntimeError(f"namespace {self.uid}: groups not deleted: {codes}")
                if groups:
                    await asyncio.sleep(1)
            topics = [t for t in await admin.list_topics() if self.owns(t)]
            if topics:
                await admin.delete_topics(topics)
        finally:
            await admin.close()

    async def owner(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self.settings.postgres_owner_dsn.get_secret_value(),
            server_settings={"search_path": self.schema},
        )
        return conn

    # --- workers ---------------------------------------------------------------------
    def start(self, kind: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{kind}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "riverbed", "worker", kind, "--loglevel", "warning"],
            env={**os.environ, **self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.setdefault(kind, []).append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for procs in self.workers.values():
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
        for procs in self.workers.values():
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    async def stop(self) -> None:
        """:meth:`stop_all` in a thread, so this event loop keeps running meanwhile.

        A worker's last flush may need something served by the caller's own loop (the
        chaos slow-db scenario's latency proxy): waiting for the workers on the loop
        held that flush until each one's 30 s kill timeout (90 s of the scenario's 106 s,
        measured); in a thread the three stop in under a second.
        """
        await asyncio.to_thread(self.stop_all)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-4000:]}" for p in self.log_dir.glob("*.log")
        )

    # --- kafka ----------------------------------------------------------------------
    async def publish(self, events: Iterable[Envelope[Any]]) -> int:
        producer = new_producer(self.settings, acks="all", enable_idempotence=True, linger_ms=5)
        await producer.start()
        n = 0
        try:
            futures = []
            for env in events:
                value, headers = encode(env)
                futures.append(
                    await producer.send(
                        self.topic(topic_for(env.type)),
                        value,
                        key=env.key.encode(),
                        headers=headers,
                    )
                )
                n += 1
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return n

    async def publish_raw(
        self,
        logical_topic: str,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        producer = new_producer(self.settings, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                self.topic(logical_topic), value, key=key, headers=headers or []
            )
        finally:
            await producer.stop()

    @contextlib.asynccontextmanager
    async def _group(
        self, kind: str, logical_topic: str
    ) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        """A consumer in ``kind``'s group (not subscribed) and the topic's partitions."""
        topic = self.topic(logical_topic)
        consumer = new_consumer(self.settings, group_id=self.group(kind), enable_auto_commit=False)
        await consumer.start()
        try:
            yield (
                consumer,
                [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS[logical_topic])],
            )
        finally:
            await consumer.stop()

    async def lag(self, kind: str, logical_topic: str) -> int:
        async with self._group(kind, logical_topic) as (consumer, parts):
            ends = await consumer.end_offsets(parts)
            total = 0
            for tp in parts:
                total += ends[tp] - (await consumer.committed(tp) or 0)
            return total

    async def wait_caught_up(self, groups: dict[str, str], *, wait_s: float = 180) -> None:
        """Until every (kind -> topic) group has no lag and the outbox is drained."""
        async with asyncio.timeout(wait_s):
            while True:
                lags = [await self.lag(kind, topic) for kind, topic in groups.items()]
                conn = await self.owner()
                try:
                    unpublished = await conn.fetchval("select coalesce(sum(events), 0) from outbox")
                finally:
                    await conn.close()
                if not any(lags) and unpublished == 0:
                    return
                await asyncio.sleep(0.5)

    async def reset_offsets(self, kind: str, logical_topic: str) -> None:
        """Rewind a (stopped) group to offset 0 on every partition."""
        async with self._group(kind, logical_topic) as (consumer, parts):
            consumer.assign(parts)
            await consumer.commit(dict.fromkeys(parts, 0))

    async def read(self, logical_topic: str, *, expect: int, wait_s: float = 60) -> list[Any]:
        consumer = new_consumer(
            self.settings,
            self.topic(logical_topic),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        got: list[Any] = []
        try:
            async with asyncio.timeout(wait_s):
                while len(got) < expect:
                    for messages in (await consumer.getmany(timeout_ms=500)).values():
                        got.extend(messages)
            extra = await consumer.getmany(timeout_ms=500)
            got.extend(m for ms in extra.values() for m in ms)
        finally:
            await consumer.stop()
        return got

    # --- postgres -------------------------------------------------------------------
    async def dump(self) -> dict[str, bytes]:
        """Every domain table as COPY text, ordered by primary key: byte-comparable."""
        conn = await self.owner()
        try:
            out = {}
            for table, order in DOMAIN_TABLES.items():
                buf = io.BytesIO()
                await conn.copy_from_query(f"select * from {table} order by {order}", output=buf)
                out[table] = buf.getvalue()
            return out
        finally:
            await conn.close()
