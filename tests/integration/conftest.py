"""Integration fixtures: the real local stack, and per-test topics, schemas and databases.

The session starts the stack (``riverbed stack up``) if it is not up yet, so
``pytest tests/integration`` works on its own; ``make test`` brings it up first anyway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from core.kafka import GROUP_GONE, delete_groups
from core.settings import Settings
from riverbed.sandbox import Namespace
from riverbed.stack.manager import Stack
from tests.integration.user_data import UserData, snapshot

# Tests that wait for a program a cold machine builds in the background (Helm: `make
# test` starts its build, about 3.5 min; Jaeger: `stack up` does, about 11 min): they
# run after every other test (but before the final user-data check), so nothing else
# waits for those builds.
RUN_LAST = ("tests/deploy/", "tests/integration/tracing/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)
    last = [i for i in items if any(part in str(i.path) for part in RUN_LAST)]
    if last:
        rest = [i for i in items if i not in last]
        at = next((n for n, i in enumerate(rest) if "test_zz_user_data" in str(i.path)), len(rest))
        items[:] = rest[:at] + last + rest[at:]


@pytest.fixture(scope="session", autouse=True)
async def stack(settings: Settings) -> Stack:
    local = Stack(settings)
    await local.up(lambda msg: print(f"[stack] {msg}"))
    return local


@pytest.fixture(scope="session", autouse=True)
async def user_data_before(stack: Stack, settings: Settings) -> UserData:
    """The user's data as the suite found it (``test_zz_user_data.py`` compares at the end)."""
    return await snapshot(settings)


@pytest.fixture(scope="session")
async def kafka_admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    yield admin
    await admin.close()


@pytest.fixture
async def new_topics(kafka_admin: AIOKafkaAdminClient, uid: str) -> AsyncIterator[object]:
    """Create topics named ``test.<name>.<uid>``; deleted after the test, with every
    consumer group whose name ends with the test's uid."""
    created: list[str] = []

    async def make(*names: str, partitions: int = 1) -> list[str]:
        topics = [f"test.{name}.{uid}" for name in names]
        await kafka_admin.create_topics([NewTopic(t, partitions, 1) for t in topics])
        created.extend(topics)
        return topics

    yield make
    groups = [g[0] for g in await kafka_admin.list_consumer_groups() if g[0].endswith(uid)]
    codes = await delete_groups(kafka_admin, groups)
    assert all(code in GROUP_GONE for code in codes.values()), codes
    if created:
        await kafka_admin.delete_topics(created)


@pytest.fixture
async def own_topics(
    settings: Settings, uid: str, kafka_admin: AIOKafkaAdminClient
) -> AsyncIterator[Settings]:
    """The settings under a topic prefix of the test's own (``test.<uid>.``), for tests of
    what uses Riverbed's rule topics by name; every topic under it is deleted afterwards.
    The user's default topics are never the test's to create or write."""
    mine = settings.model_copy(update={"topic_prefix": f"test.{uid}."})
    yield mine
    left = [t for t in await kafka_admin.list_topics() if t.startswith(mine.topic_prefix)]
    if left:
        await kafka_admin.delete_topics(left)


@pytest.fixture
async def pg_schema(settings: Settings, uid: str) -> AsyncIterator[tuple[asyncpg.Connection, str]]:
    """A connection as the owner role with a fresh schema first on its search_path."""
    conn = await asyncpg.connect(settings.postgres_owner_dsn.get_secret_value())
    schema = f"test_{uid}"
    await conn.execute(f'create schema "{schema}"')
    await conn.execute(f'set search_path to "{schema}"')
    yield conn, schema
    await conn.execute(f'drop schema "{schema}" cascade')
    await conn.close()


@pytest.fixture
async def mongo_db(settings: Settings, uid: str) -> AsyncIterator[AsyncDatabase[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        settings.mongo_uri.get_secret_value()
    )
    db = client[f"test_{uid}"]
    yield db
    await client.drop_database(db.name)
    await client.close()


@pytest.fixture
async def ns(settings: Settings, uid: str, tmp_path: Path) -> AsyncIterator[Namespace]:
    """An isolated namespace (topics, groups, schema, Mongo db) with real workers on demand."""
    space = Namespace(settings, uid, tmp_path)
    await space.create()
    try:
        yield space
    finally:
        print(space.logs())  # pytest shows captured output only for failing tests
        await space.drop()
