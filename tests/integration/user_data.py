"""A snapshot of what belongs to the user, not to the tests: the default Postgres schema,
the broker's consumer groups and the default topics, and the default Mongo database.

The integration suite takes one at its start and compares at its end
(``test_zz_user_data.py``): tests live in namespaces of their own and must leave all of
this exactly as they found it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import TopicPartition
from pymongo import AsyncMongoClient

from core.kafka import new_admin, new_consumer
from core.settings import Settings
from schemas import DLQ_TOPIC, TOPIC_PARTITIONS


@dataclass(frozen=True)
class UserData:
    tables: dict[str, str]  # "schema.table" -> md5 of its rows
    groups: frozenset[str]
    topics: dict[str, int]  # default topic -> sum of its end offsets
    mongo: dict[str, int]  # collection of the default database -> documents


async def _tables(settings: Settings) -> dict[str, str]:
    """Every table the default settings would read and write (the app role's search_path)."""
    conn = await asyncpg.connect(settings.postgres_owner_dsn.get_secret_value())
    try:
        rows = await conn.fetch(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(current_schemas(false)) and table_type = 'BASE TABLE' "
            "order by 1, 2"
        )
        found = {}
        for r in rows:
            name = f'"{r["table_schema"]}"."{r["table_name"]}"'
            found[f"{r['table_schema']}.{r['table_name']}"] = await conn.fetchval(
                f"select coalesce(md5(string_agg(t::text, ',' order by t::text)), '') from {name} t"
            )
        return found
    finally:
        await conn.close()


async def _kafka(settings: Settings) -> tuple[frozenset[str], dict[str, int]]:
    admin = new_admin(settings)
    await admin.start()
    try:
        groups = frozenset(g[0] for g in await admin.list_consumer_groups())
        present = set(await admin.list_topics())
    finally:
        await admin.close()
    defaults = [t for t in (*TOPIC_PARTITIONS, DLQ_TOPIC) if t in present]
    if not defaults:
        return groups, {}
    consumer = new_consumer(settings)
    await consumer.start()
    try:
        await consumer.topics()  # metadata of every topic, so partitions_for_topic knows them
        topics: dict[str, int] = {}
        for topic in defaults:
            parts = consumer.partitions_for_topic(topic) or set()
            ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            topics[topic] = sum(ends.values())
        return groups, topics
    finally:
        await consumer.stop()


async def _mongo(settings: Settings) -> dict[str, int]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_uri.get_secret_value()
    )
    try:
        db = client[settings.mongo_db]
        return {
            name: await db[name].count_documents({})
            for name in sorted(await db.list_collection_names())
        }
    finally:
        await client.close()


async def snapshot(settings: Settings) -> UserData:
    groups, topics = await _kafka(settings)
    return UserData(await _tables(settings), groups, topics, await _mongo(settings))
