"""Migrations, grants and pools against the real PostgreSQL of the local stack.

Each test migrates a schema of its own (``test_<uid>``), dropped afterwards, so tests
never see each other's rows and never touch ``public``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import asyncpg
import pytest
from click.testing import CliRunner

from core.settings import Settings, get_settings
from riverbed.commands.migrate import command
from stores.postgres import Migration, MigrationError, create_pool, load_migrations, migrate
from stores.postgres.migrate import lock_key
from stores.postgres.pool import quote_ident, transaction

ALL_VERSIONS = [f"{m.version:04d}" for m in load_migrations()]


@pytest.fixture
def owner_dsn(settings: Settings) -> str:
    return settings.postgres_owner_dsn.get_secret_value()


@pytest.fixture
def app_role(settings: Settings) -> str:
    return urlsplit(settings.postgres_dsn.get_secret_value()).username or ""


@pytest.fixture
async def schema(owner_dsn: str, uid: str) -> AsyncIterator[str]:
    """A schema name that does not exist yet; dropped (with its grants) after the test."""
    name = f"test_{uid}"
    yield name
    conn = await asyncpg.connect(owner_dsn)
    await conn.execute(f"drop schema if exists {quote_ident(name)} cascade")
    await conn.close()


@pytest.fixture
async def migrated(owner_dsn: str, schema: str, app_role: str) -> str:
    assert await migrate(owner_dsn, schema=schema, app_role=app_role, say=lambda _: None)
    return schema


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await conn.execute(f"set search_path to {quote_ident(schema)}")
    return conn


@pytest.fixture
async def owner(owner_dsn: str, migrated: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(owner_dsn, migrated)
    yield conn
    await conn.close()


@pytest.fixture
async def app(settings: Settings, migrated: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the app role, the one workers and the read side use."""
    conn = await connect(settings.postgres_dsn.get_secret_value(), migrated)
    yield conn
    await conn.close()


async def insert_order(conn: asyncpg.Connection, order_id: str, **fields: Any) -> None:
    now = datetime.now(UTC)
    row = {"store_id": "s1", "customer_id": "c1", "status": "confirmed", "placed_at": now}
    row.update(fields)
    await conn.execute(
        "insert into orders (order_id, store_id, customer_id, status, total, currency,"
        " placed_at, updated_at, placed_event_id) values ($1, $2, $3, $4, 10, 'EUR', $5, $5, $6)",
        order_id,
        row["store_id"],
        row["customer_id"],
        row["status"],
        row["placed_at"],
        uuid4(),
    )


# --- the runner -------------------------------------------------------------------------


async def test_migrating_twice_applies_nothing_the_second_time(
    owner_dsn: str, schema: str, app_role: str
) -> None:
    said: list[str] = []
    first = await migrate(owner_dsn, schema=schema, app_role=app_role, say=said.append)
    second = await migrate(owner_dsn, schema=schema, app_role=app_role, say=said.append)
    assert first == ALL_VERSIONS
    assert second == []
    assert said == [f"applied {m.filename}" for m in load_migrations()]


async def test_schema_migrations_records_every_file(owner: asyncpg.Connection) -> None:
    rows = await owner.fetch("select version, name, checksum, applied_at from schema_migrations")
    recorded = {(r["version"], r["name"], r["checksum"]) for r in rows}
    assert recorded == {(m.version, m.name, m.checksum) for m in load_migrations()}
    assert all(r["applied_at"] is not None for r in rows)


async def test_a_tampered_checksum_is_refused(
    owner: asyncpg.Connection, owner_dsn: str, migrated: str, app_role: str
) -> None:
    await owner.execute("update schema_migrations set checksum = 'x' || checksum where version = 1")
    with pytest.raises(MigrationError, match=r"0001_core\.sql was changed after it was applied"):
        await migrate(owner_dsn, schema=migrated, app_role=app_role, say=lambda _: None)


async def test_a_failed_migration_is_rolled_back_and_the_earlier_ones_stay(
    owner: asyncpg.Connection, owner_dsn: str, migrated: str, app_role: str
) -> None:
    broken = Migration(99, "broken", "create table half_done (id int);\nselect * from missing;")
    with pytest.raises(MigrationError, match=r"0099_broken\.sql failed and was rolled back"):
        await migrate(
            owner_dsn,
            schema=migrated,
            app_role=app_role,
            say=lambda _: None,
            migrations=[*load_migrations(), broken],
        )
    assert await owner.fetchval("select to_regclass('half_done')") is None
    versions = await owner.fetch("select version from schema_migrations order by version")
    assert [f"{r['version']:04d}" for r in versions] == ALL_VERSIONS


async def test_concurrent_runners_apply_each_version_once(
    owner_dsn: str, schema: str, app_role: str
) -> None:
    # Hold the runners' lock so both really wait on it, then let them race for it.
    holder = await asyncpg.connect(owner_dsn)
    await holder.execute("select pg_advisory_lock($1)", lock_key(schema))
    waiting = [asyncio.Event(), asyncio.Event()]

    def say_for(event: asyncio.Event) -> Any:
        return lambda line: event.set() if line.startswith("waiting") else None

    runners = [
        asyncio.create_task(migrate(owner_dsn, schema=schema, app_role=app_role, say=say_for(e)))
        for e in waiting
    ]
    async with asyncio.timeout(10):
        await asyncio.gather(*(e.wait() for e in waiting))
    await holder.execute("select pg_advisory_unlock($1)", lock_key(schema))
    results = await asyncio.gather(*runners)
    assert sorted(results, key=len) == [[], ALL_VERSIONS]
    count = await holder.fetchval(f"select count(*) from {quote_ident(schema)}.schema_migrations")
    assert count == len(ALL_VERSIONS)
    await holder.close()


# --- constraints and privileges -------------------------------------------------------------


async def test_check_constraints_hold(app: asyncpg.Connection) -> None:
    cases = [
        ("insert into inventory (store_id, sku, on_hand, reserved) values ('s1', 'a', 1, 2)",
         "inventory_reserved_le_on_hand"),
        ("insert into inventory (store_id, sku, on_hand) values ('s1', 'b', -1)",
         "inventory_on_hand_nonnegative"),
        ("insert into order_lines values ('o1', 1, 'a', 0, 1.00)", "order_lines_quantity_positive"),
        ("update orders set status = 'shipped' where order_id = 'o1'", "orders_status_known"),
    ]  # fmt: skip
    await insert_order(app, "o1")
    for sql, constraint in cases:
        with pytest.raises(asyncpg.CheckViolationError) as caught:
            await app.execute(sql)
        assert caught.value.constraint_name == constraint, sql


async def test_app_role_reads_and_writes_but_cannot_change_the_schema(
    app: asyncpg.Connection,
) -> None:
    await insert_order(app, "o1")
    await app.execute("insert into order_lines values ('o1', 1, 'sku-1', 2, 4.50)")
    await app.execute("update orders set status = 'cancelled' where order_id = 'o1'")
    assert await app.fetchval("select status from orders where order_id = 'o1'") == "cancelled"
    assert await app.fetchval(
        "insert into outbox (events, topics, keys, payloads) values (1, '{t}', '{k}', $1)"
        " returning id",
        [b"v"],
    )
    # No foreign key cascades (migration 0007): the lines go with the order, by hand.
    await app.execute("delete from order_lines where order_id = 'o1'")
    await app.execute("delete from orders where order_id = 'o1'")
    assert await app.fetchval("select count(*) from order_lines") == 0
    assert await app.fetchval("select count(*) from schema_migrations") == len(ALL_VERSIONS)
    for forbidden in (
        "create table intruder (id int)",
        "drop table orders",
        "alter table orders add column note text",
        "truncate orders",
        "delete from schema_migrations",
        "select setval('outbox_id_seq', 1)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(forbidden)


async def test_tables_created_later_get_the_same_grants(
    owner: asyncpg.Connection, app: asyncpg.Connection
) -> None:
    await owner.execute("create table later (id bigserial primary key, note text)")
    assert await app.fetchval("insert into later (note) values ('x') returning id") == 1
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app.execute("truncate later")


async def test_a_reader_role_gets_usage_and_select_only(
    owner: asyncpg.Connection, owner_dsn: str, migrated: str, app_role: str
) -> None:
    # The owner role may not create roles, so the predefined pg_monitor stands in for a
    # reader: it has no rights on these tables of its own, and the grants go with the schema.
    said: list[str] = []
    await migrate(
        owner_dsn, schema=migrated, app_role=app_role, reader_role="no_such_reader", say=said.append
    )
    assert said == ["note: reader role 'no_such_reader' does not exist; no read-only grants made"]
    await migrate(
        owner_dsn, schema=migrated, app_role=app_role, reader_role="pg_monitor", say=print
    )
    table, seq = f"{quote_ident(migrated)}.orders", f"{quote_ident(migrated)}.outbox_id_seq"
    rights = await owner.fetchrow(
        "select has_schema_privilege('pg_monitor', $1, 'USAGE') as usage,"
        " has_schema_privilege('pg_monitor', $1, 'CREATE') as create,"
        " has_table_privilege('pg_monitor', $2, 'SELECT') as select,"
        " has_table_privilege('pg_monitor', $2, 'INSERT, UPDATE, DELETE, TRUNCATE') as write,"
        " has_sequence_privilege('pg_monitor', $3, 'USAGE') as sequence",
        migrated,
        table,
        seq,
    )
    assert dict(rights) == {
        "usage": True, "create": False, "select": True, "write": False, "sequence": False
    }  # fmt: skip


# --- read queries use an index ---------------------------------------------------------------
#
# Technique: with a handful of rows a sequential scan is genuinely cheapest, so a plain
# EXPLAIN proves nothing. After ANALYZE (so the planner has statistics), `set enable_seqscan
# = off` prices sequential scans out of reach without forbidding them: the planner then picks
# an index if one can serve the query, and falls back to a Seq Scan only if none can. We
# assert the expected index appears in the JSON plan and no Seq Scan does.

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)
READ_QUERIES: dict[str, tuple[str, list[Any], str]] = {
    "order by id": ("select * from orders where order_id = $1", ["o-7"], "orders_pkey"),
    "orders of a customer, newest first": (
        "select order_id from orders where customer_id = $1 order by placed_at desc limit 20",
        ["c-3"],
        "orders_customer_placed_idx",
    ),
    "orders of a store, newest first": (
        "select order_id from orders where store_id = $1 order by placed_at desc limit 20",
        ["s-2"],
        "orders_store_placed_idx",
    ),
    "orders per minute": (
        "select date_trunc('minute', updated_at), count(*) from orders where updated_at >= $1"
        " group by 1",
        [AN_HOUR_AGO],
        "orders_updated_at_idx",
    ),
    "inventory of a store": (
        "select sku, on_hand, reserved from inventory where store_id = $1 order by sku",
        ["s-2"],
        "inventory_pkey",
    ),
    "low stock in a store": (
        "select sku from inventory where store_id = $1 and low",
        ["s-2"],
        "inventory_low_idx",
    ),
    "trending in the last N minutes": (
        "select title_id, sum(starts) as starts from title_views_minute where minute >= $1"
        " group by title_id order by starts desc limit 10",
        [AN_HOUR_AGO],
        "title_views_minute_minute_idx",
    ),
    "unpublished outbox, oldest first": (
        "select id, topics, keys, payloads from outbox order by id limit 100",
        [],
        "outbox_pkey",
    ),
}


async def seed(conn: asyncpg.Connection) -> None:
    now = datetime.now(UTC)
    for i in range(200):
        placed = now - timedelta(minutes=i)
        await insert_order(
            conn, f"o-{i}", store_id=f"s-{i % 5}", customer_id=f"c-{i % 20}", placed_at=placed
        )
        await conn.execute(
            "insert into inventory (store_id, sku, on_hand, low) values ($1, $2, 10, $3)",
            f"s-{i % 5}", f"sku-{i}", i % 17 == 0,
        )  # fmt: skip
        await conn.execute(
            "insert into title_views_minute values ($1, $2, $3)", f"t-{i % 30}", placed, i
        )
        if i % 10 == 0:  # published rows are deleted (migration 0006)
            await conn.execute(
                "insert into outbox (events, topics, keys, payloads) values (1, '{t}', '{k}', '{v}')"
            )
    await conn.execute("analyze")


@pytest.mark.parametrize("query", READ_QUERIES)
async def test_read_queries_use_an_index(owner: asyncpg.Connection, query: str) -> None:
    sql, args, index = READ_QUERIES[query]
    await seed(owner)
    await owner.execute("set enable_seqscan = off")
    plan = json.loads(await owner.fetchval(f"explain (format json) {sql}", *args))
    nodes: list[dict[str, Any]] = []
    todo = [plan[0]["Plan"]]
    while todo:
        node = todo.pop()
        nodes.append(node)
        todo.extend(node.get("Plans", []))
    assert index in {n.get("Index Name") for n in nodes}, json.dumps(plan, indent=1)
    assert "Seq Scan" not in {n["Node Type"] for n in nodes}


# --- pool -----------------------------------------------------------------------------------


async def test_pool_keeps_the_schema_and_decodes_jsonb(settings: Settings, migrated: str) -> None:
    pool = await create_pool(settings.postgres_dsn.get_secret_value(), max_size=1, schema=migrated)
    try:
        for _ in range(2):  # the second use comes after asyncpg's RESET ALL on release
            async with pool.acquire() as conn:
                assert await conn.fetchval("select current_schema()") == migrated
        params = {"factors": 64, "buckets": [0, 1, 2, 3]}
        async with transaction(pool) as conn:
            await conn.execute(
                "insert into recs_models (trained_at, training_s, views, users, titles, params, metrics)"
                " values (now(), 1, 1, 1, 1, $1, '{}')",
                params,
            )  # fmt: skip
        with pytest.raises(RuntimeError, match="boom"):
            async with transaction(pool) as conn:
                await conn.execute("delete from recs_models")
                raise RuntimeError("boom")
        async with pool.acquire() as conn:
            assert await conn.fetchval("select params from recs_models") == params
    finally:
        await pool.close()


# --- the command (sync tests: it runs its own event loop) ------------------------------------


def test_command_applies_then_reports_up_to_date(settings: Settings, schema: str) -> None:
    runner = CliRunner()
    first = runner.invoke(command, ["--schema", schema])
    second = runner.invoke(command, ["--schema", schema])
    assert first.exit_code == 0, first.output
    assert (
        f"migrate: applied {len(ALL_VERSIONS)} migration(s): {', '.join(ALL_VERSIONS)}"
        in first.output
    )
    assert second.exit_code == 0, second.output
    assert second.output.rstrip().endswith("migrate: up to date")
    owner_password = urlsplit(settings.postgres_owner_dsn.get_secret_value()).password
    assert owner_password and owner_password not in first.output + second.output


def test_command_fails_clearly_without_showing_the_password(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, schema: str
) -> None:
    bad = settings.postgres_owner_dsn.get_secret_value().replace("riverbed-owner", "wrong-s3cret")
    monkeypatch.setenv("RIVERBED_POSTGRES_OWNER_DSN", bad)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(command, ["--schema", schema])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "migrate failed: InvalidPasswordError" in result.output
    assert "wrong-s3cret" not in result.output
