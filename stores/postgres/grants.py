"""What the app and reader roles may do in a migrated schema, granted by the owner role.

The app role (workers) gets exactly USAGE on the schema; SELECT, INSERT, UPDATE and
DELETE on its tables (SELECT only on ``schema_migrations``); USAGE and SELECT on its
sequences. Nothing else: no CREATE on the schema, no ownership, no TRUNCATE, REFERENCES
or TRIGGER, no ``setval``. A reader role (the read API) gets USAGE on the schema and
SELECT on its tables only; it must be neither the app role, nor (a member of) the owner,
nor a superuser.

Each role's privileges are revoked and granted again in one transaction, so the result is
exact even if someone granted more by hand; default privileges give the tables the owner
creates later the same grants. Role and schema names reach SQL only through the server's
``format('%I')``.
"""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from stores.postgres.errors import MigrationError

# Templates take %1$I = schema, %2$I = role.
APP_PRIVILEGES = (
    "revoke all on schema %1$I from %2$I",
    "grant usage on schema %1$I to %2$I",
    "revoke all on all tables in schema %1$I from %2$I",
    "grant select, insert, update, delete on all tables in schema %1$I to %2$I",
    # Only the runner writes its own bookkeeping.
    "revoke insert, update, delete on %1$I.schema_migrations from %2$I",
    "revoke all on all sequences in schema %1$I from %2$I",
    "grant usage, select on all sequences in schema %1$I to %2$I",
    "alter default privileges in schema %1$I revoke all on tables from %2$I",
    "alter default privileges in schema %1$I grant select, insert, update, delete on tables to %2$I",
    "alter default privileges in schema %1$I revoke all on sequences from %2$I",
    "alter default privileges in schema %1$I grant usage, select on sequences to %2$I",
)
READER_PRIVILEGES = (
    "revoke all on schema %1$I from %2$I",
    "grant usage on schema %1$I to %2$I",
    "revoke all on all tables in schema %1$I from %2$I",
    "grant select on all tables in schema %1$I to %2$I",
    "revoke all on all sequences in schema %1$I from %2$I",
    "alter default privileges in schema %1$I revoke all on tables from %2$I",
    "alter default privileges in schema %1$I grant select on tables to %2$I",
    "alter default privileges in schema %1$I revoke all on sequences from %2$I",
)


async def quote_idents(conn: asyncpg.Connection, template: str, *idents: str) -> str:
    """``template`` with its ``%I`` placeholders filled by the server's identifier quoting."""
    statement: str = await conn.fetchval(
        "select format($1::text, variadic $2::text[])", template, list(idents)
    )
    return statement


async def grant_privileges(
    conn: asyncpg.Connection,
    schema: str,
    *,
    app_role: str,
    reader_role: str | None = None,
    say: Callable[[str], object] = print,
) -> None:
    """Give ``app_role`` (and ``reader_role`` if it exists) their privileges on ``schema``."""
    await _check_app_role(conn, app_role)
    reader = reader_role if reader_role and await _role_exists(conn, reader_role) else None
    if reader_role and reader is None:
        say(f"note: reader role {reader_role!r} does not exist; no read-only grants made")
    if reader:
        await _check_reader_role(conn, reader, app_role)
    async with conn.transaction():
        for template in APP_PRIVILEGES:
            await conn.execute(await quote_idents(conn, template, schema, app_role))
        if reader:
            for template in READER_PRIVILEGES:
                await conn.execute(await quote_idents(conn, template, schema, reader))
    # A pre-15 database grants CREATE on schema public to PUBLIC; only its owner can undo it.
    if await conn.fetchval("select has_schema_privilege($1, $2, 'CREATE')", app_role, schema):
        say(
            f"warning: role {app_role!r} can still create objects in schema {schema!r} "
            f"(granted to PUBLIC); as the schema's owner run: revoke create on schema {schema} from public"
        )


async def _role_exists(conn: asyncpg.Connection, role: str) -> bool:
    return bool(await conn.fetchval("select 1 from pg_roles where rolname = $1", role))


_ROLE_SQL = (
    "select current_user as owner, r.rolsuper, pg_has_role($1, current_user, 'MEMBER') as member"
    " from pg_roles r where r.rolname = $1"
)


async def _check_plain_role(
    conn: asyncpg.Connection, role: str, *, what: str, superuser: str, setting: str
) -> None:
    """Refuse ``role`` if it is a superuser or (a member of) the owner role."""
    row = await conn.fetchrow(_ROLE_SQL, role)
    if row["rolsuper"]:
        raise MigrationError(f"{what} role {role!r} is a superuser; {superuser}")
    if row["owner"] == role or row["member"]:
        raise MigrationError(
            f"{what} role {role!r} is (a member of) the owner role {row['owner']!r}: use "
            f"separate roles in {setting} and RIVERBED_POSTGRES_OWNER_DSN"
        )


async def _check_app_role(conn: asyncpg.Connection, role: str) -> None:
    if not await _role_exists(conn, role):
        raise MigrationError(
            f"app role {role!r} does not exist; `riverbed stack up` creates it locally, "
            "elsewhere create it (login, no superuser) before migrating"
        )
    await _check_plain_role(
        conn,
        role,
        what="app",
        superuser="workers must run as a plain role",
        setting="RIVERBED_POSTGRES_DSN",
    )


async def _check_reader_role(conn: asyncpg.Connection, role: str, app_role: str) -> None:
    # Its grants start by revoking everything: given the app or owner role, that would
    # take their writes away; given a superuser, they would not make it read-only.
    if role == app_role:
        raise MigrationError(
            f"reader role {role!r} is the app role; use another user in RIVERBED_POSTGRES_READER_DSN"
        )
    await _check_plain_role(
        conn,
        role,
        what="reader",
        superuser="it would not be read-only",
        setting="RIVERBED_POSTGRES_READER_DSN",
    )
