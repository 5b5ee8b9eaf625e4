"""The three PostgreSQL roles of the local stack, and what each may do in a migrated schema.

``riverbed migrate`` (here its ``migrate()``, with the role names it takes from settings)
grants the app role rows and the reader role SELECT; neither may change the schema. The
app role's row-level rights are in test_postgres_migrations.py; this file adds what the
roles are, the reader's limits on every table, and the dashboard's read API running as
the reader over hostile input.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from core.settings import Settings
from dashboard import create_app
from riverbed.commands.migrate import command as migrate_command
from riverbed.stack.base import StackPaths
from riverbed.stack.postgres import SUPERUSER, Dsn, Postgres, roles
from stores.postgres import MigrationError, migrate
from stores.postgres.pool import quote_ident

HOSTILE = [
    "'; DROP TABLE orders; --",
    "o-1' OR '1'='1",
    'quote"d\\back',
    "ünïcødé 🚀 \u202etxt.exe",  # right-to-left override
    "$1 %s {0} :name",
]


@pytest.fixture
async def schema(settings: Settings, uid: str) -> AsyncIterator[str]:
    """A schema migrated as ``riverbed migrate`` does it: both roles granted."""
    name = f"test_{uid}"
    owner_dsn = settings.postgres_owner_dsn.get_secret_value()
    app, reader = roles(settings)
    await migrate(owner_dsn, schema=name, app_role=app, reader_role=reader, say=lambda _m: None)
    yield name
    conn = await asyncpg.connect(owner_dsn)
    try:
        await conn.execute(f"drop schema if exists {quote_ident(name)} cascade")
    finally:
        await conn.close()


async def connect(dsn: str, schema: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(
        dsn, server_settings={"search_path": quote_ident(schema)}
    )
    return conn


@pytest.fixture
async def reader(settings: Settings, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(settings.postgres_reader_dsn.get_secret_value(), schema)
    yield conn
    await conn.close()


@pytest.fixture
async def app(settings: Settings, schema: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(settings.postgres_dsn.get_secret_value(), schema)
    yield conn
    await conn.close()


async def tables(conn: asyncpg.Connection, schema: str) -> list[str]:
    rows = await conn.fetch(
        "select tablename from pg_tables where schemaname = $1 order by tablename", schema
    )
    return [r["tablename"] for r in rows]


# --- the roles themselves -----------------------------------------------------------------


async def test_each_role_logs_in_and_none_is_privileged(settings: Settings) -> None:
    dsns = [settings.postgres_owner_dsn, settings.postgres_dsn, settings.postgres_reader_dsn]
    users = [Dsn.parse(d.get_secret_value()).user for d in dsns]
    assert len(set(users)) == 3, users
    for dsn, user in zip(dsns, users, strict=True):
        conn = await asyncpg.connect(dsn.get_secret_value())
        try:
            assert await conn.fetchval("select current_user") == user
            row = await conn.fetchrow(
                "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls"
                " from pg_roles where rolname = current_user"
            )
            assert not any(row.values()), (user, dict(row))
            # No role is a member of another: the app and reader cannot act as the owner.
            others = [u for u in users if u != user]
            member = await conn.fetchval(
                "select bool_or(pg_has_role(current_user, u, 'MEMBER')) from unnest($1::text[]) u",
                others,
            )
            assert member is False, user
        finally:
            await conn.close()


async def test_app_role_cannot_create_or_drop_tables(
    app: asyncpg.Connection, settings: Settings
) -> None:
    assert await app.fetchval("select rolsuper from pg_roles where rolname = current_user") is False
    for statement in (
        "create table intruder (id int)",
        "create view intruder as select 1",
        "drop table orders",
        "alter table orders drop column total",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute(statement)
    assert await app.fetchval("select count(*) from orders") == 0  # still there


async def test_reader_selects_every_table_and_writes_none(
    reader: asyncpg.Connection, schema: str
) -> None:
    names = await tables(reader, schema)
    assert {"orders", "order_lines", "inventory", "outbox", "title_views_minute"} <= set(names)
    for table in names:
        t = quote_ident(table)
        assert await reader.fetchval(f"select count(*) from {t}") is not None
        column = await reader.fetchval(
            # An identity column refuses `set c = c` before the privilege check does.
            "select quote_ident(column_name) from information_schema.columns"
            " where table_schema = $1 and table_name = $2 and is_identity = 'NO'"
            " order by ordinal_position limit 1",
            schema,
            table,
        )
        for statement in (
            f"insert into {t} default values",
            f"update {t} set {column} = {column}",
            f"delete from {t}",
            f"truncate {t}",
            f"drop table {t}",
            f"alter table {t} add column intruder int",
            f"create index on {t} ({column})",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute(statement)
    for statement in (
        "create table intruder (id int)",
        "create function intruder() returns int language sql as 'select 1'",
        "select nextval('outbox_id_seq')",
        "select setval('outbox_id_seq', 1)",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await reader.execute(statement)


async def test_reader_sees_tables_created_by_later_migrations(
    settings: Settings, schema: str, reader: asyncpg.Connection
) -> None:
    owner = await connect(settings.postgres_owner_dsn.get_secret_value(), schema)
    try:
        await owner.execute("create table later (id int); insert into later values (7)")
    finally:
        await owner.close()
    assert await reader.fetchval("select id from later") == 7
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await reader.execute("insert into later values (8)")


async def test_grants_refuse_a_reader_that_is_the_app_or_the_owner(
    settings: Settings, schema: str
) -> None:
    owner_dsn = settings.postgres_owner_dsn.get_secret_value()
    owner_role = Dsn.parse(owner_dsn).user
    app_role = roles(settings).app
    for reader_role, why in ((app_role, "is the app role"), (owner_role, "owner role")):
        with pytest.raises(MigrationError, match=why):
            await migrate(
                owner_dsn,
                schema=schema,
                app_role=app_role,
                reader_role=reader_role,
                say=lambda _m: None,
            )


def test_migrate_command_grants_the_reader_of_the_settings(settings: Settings, uid: str) -> None:
    schema = f"test_{uid}"
    try:
        result = CliRunner().invoke(migrate_command, ["--schema", schema])
        assert result.exit_code == 0, result.output
        assert f"reader role {roles(settings).reader!r}" in result.output
        reader_password = Dsn.parse(settings.postgres_reader_dsn.get_secret_value()).password
        assert reader_password not in result.output
    finally:
        CliRunner().invoke(migrate_command, ["--schema", schema])  # idempotent

    async def check() -> tuple[bool, bool]:
        conn = await asyncpg.connect(settings.postgres_owner_dsn.get_secret_value())
        try:
            row = await conn.fetchrow(
                "select has_table_privilege($1, $2, 'SELECT') as read,"
                " has_table_privilege($1, $2, 'INSERT, UPDATE, DELETE, TRUNCATE') as write",
                roles(settings).reader,
                f"{quote_ident(schema)}.orders",
            )
            await conn.execute(f"drop schema {quote_ident(schema)} cascade")
            return row["read"], row["write"]
        finally:
            await conn.close()

    assert asyncio.run(check()) == (True, False)


async def test_stack_up_creates_a_missing_role_on_a_running_cluster(
    settings: Settings, uid: str
) -> None:
    """A cluster initialised before the reader role existed gets it from ``healthy()``,
    which is all ``stack up`` asks of a running server."""
    user = f"test_reader_{uid}"
    app_dsn = urlsplit(settings.postgres_dsn.get_secret_value())
    reader_dsn = app_dsn._replace(netloc=f"{user}:pw-{uid}@{app_dsn.netloc.rsplit('@', 1)[1]}")
    local = settings.model_copy(update={"postgres_reader_dsn": SecretStr(urlunsplit(reader_dsn))})
    postgres = Postgres(local, StackPaths.from_settings(local))
    if not postgres._serves_own_cluster():
        pytest.skip("PostgreSQL is not the local stack's own cluster")
    try:
        assert await postgres.healthy()
        conn = await asyncpg.connect(local.postgres_reader_dsn.get_secret_value())
        try:
            assert await conn.fetchval("select current_user") == user
        finally:
            await conn.close()
        assert await postgres.healthy()  # idempotent
    finally:
        su = await asyncpg.connect(
            host=str(postgres.socket_dir), port=postgres.port, user=SUPERUSER, database="postgres"
        )
        try:
            if await su.fetchval("select 1 from pg_roles where rolname = $1", user):
                # DROP OWNED also revokes its CONNECT on the database (a shared object).
                await su.execute(f"drop owned by {quote_ident(user)}")
                await su.execute(f"drop role {quote_ident(user)}")
        finally:
            await su.close()


# --- the read API as the reader, over hostile input ------------------------------------------


async def seed(settings: Settings, schema: str, order_ids: list[str]) -> None:
    conn = await connect(settings.postgres_owner_dsn.get_secret_value(), schema)
    at = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    try:
        await conn.execute("insert into stores values ('s-1', $1, 'north')", HOSTILE[0])
        await conn.executemany(
            "insert into orders values ($1, 's-1', $2, 'confirmed', null, 12.50, 'EUR', $3, $3, $4)",
            [(oid, oid, at, uuid.uuid4()) for oid in order_ids],
        )
        await conn.executemany(
            "insert into order_lines values ($1, 1, $2, 1, 12.50)",
            [(oid, oid) for oid in order_ids],
        )
        await conn.execute(
            "insert into inventory (store_id, sku, on_hand, updated_at) values ('s-1', $1, 3, $2)",
            HOSTILE[1],
            at,
        )
    finally:
        await conn.close()


async def test_read_api_runs_as_the_reader_and_round_trips_hostile_strings(
    settings: Settings, schema: str
) -> None:
    await seed(settings, schema, HOSTILE)
    app = create_app(settings.model_copy(update={"postgres_schema": schema}))
    state = app.state.dashboard
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        pool = await state.stores.pool()
        assert await pool.fetchval("select current_user") == roles(settings).reader
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for oid in HOSTILE:
                r = await client.get("/api/orders/" + quote(oid, safe=""))
                assert r.status_code == 200, (oid, r.text)
                order = r.json()
                assert (order["order_id"], order["customer_id"]) == (oid, oid)
                assert order["lines"][0]["sku"] == oid and order["total"] == "12.50"
            inventory = (await client.get("/api/stores/s-1/inventory")).json()
            assert inventory["name"] == HOSTILE[0]
            assert [i["sku"] for i in inventory["items"]] == [HOSTILE[1]]
            missing = await client.get("/api/orders/" + quote("x' or 1=1; --", safe=""))
            assert missing.status_code == 404
            # PostgreSQL text cannot hold NUL: refused, without touching anything.
            nul = await client.get("/api/orders/o%00-1")
            assert nul.status_code == 422, nul.text
            assert "NUL" in nul.json()["error"]["message"]
            assert (await client.get("/api/trending")).status_code == 200
        assert await pool.fetchval("select count(*) from orders") == len(HOSTILE)
    finally:
        with contextlib.suppress(Exception):
            await state.close()
