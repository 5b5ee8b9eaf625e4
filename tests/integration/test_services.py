"""Round trips through each real service of the local stack."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pymongo.errors
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from core.settings import Settings


async def test_kafka_round_trip_commits_offsets_in_a_group(
    settings: Settings, new_topics: Any, uid: str
) -> None:
    (topic,) = await new_topics("roundtrip", partitions=3)
    group = f"test-group-{uid}"
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = {f"k{i}".encode(): f"v{i}".encode() for i in range(30)}
        for key, value in sent.items():
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()

    async def consume(limit: int) -> dict[bytes, bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        got: dict[bytes, bytes] = {}
        try:
            async with asyncio.timeout(30):
                while len(got) < limit:
                    batch = await consumer.getmany(timeout_ms=500)
                    for messages in batch.values():
                        got.update(
                            {
                                m.key: m.value
                                for m in messages
                                if m.key is not None and m.value is not None
                            }
                        )
            await consumer.commit()
        finally:
            await consumer.stop()
        return got

    assert await consume(len(sent)) == sent

    # The group committed its offsets: a new member of the same group starts at the end.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        committed = [await consumer.committed(TopicPartition(topic, p)) for p in range(3)]
        assert sum(c or 0 for c in committed) == len(sent)
        assert await consumer.getmany(timeout_ms=1500) == {}
    finally:
        await consumer.stop()


async def test_postgres_round_trip(pg_schema: tuple[asyncpg.Connection, str]) -> None:
    conn, _schema = pg_schema
    await conn.execute("create table items (id bigint primary key, name text not null)")
    await conn.executemany("insert into items values ($1, $2)", [(1, "apple"), (2, "pear")])
    rows = await conn.fetch("select id, name from items where name = $1", "pear")
    assert [tuple(r) for r in rows] == [(2, "pear")]
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute("insert into items values ($1, $2)", 1, "again")


async def test_app_role_is_not_superuser(settings: Settings) -> None:
    conn = await asyncpg.connect(settings.postgres_dsn.get_secret_value())
    try:
        assert (
            await conn.fetchval("select rolsuper from pg_roles where rolname = current_user")
            is False
        )
    finally:
        await conn.close()


async def test_mongo_round_trip_with_unique_index(mongo_db: Any) -> None:
    sessions = mongo_db["sessions"]
    await sessions.create_index("session_id", unique=True)
    await sessions.insert_one({"session_id": "s1", "title": "t1", "context": {"device": "tv"}})
    doc = await sessions.find_one({"session_id": "s1"}, {"_id": 0})
    assert doc == {"session_id": "s1", "title": "t1", "context": {"device": "tv"}}
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        await sessions.insert_one({"session_id": "s1", "title": "other"})
    assert await sessions.count_documents({}) == 1
