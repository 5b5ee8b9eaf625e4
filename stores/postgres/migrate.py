"""Versioned SQL migrations, applied by the owner role.

Files ``migrations/NNNN_name.sql`` are applied in version order, each in its own
transaction together with its row in ``schema_migrations``, so a failed migration leaves
nothing behind and the ones before it stay applied. Running again skips applied versions;
an applied file whose content changed is an error (put the change in a new file instead).
Concurrent runners on one schema are serialised by a session advisory lock.

Migrations must not name a schema (no ``public.``): the runner sets ``search_path`` to
the target schema, which is how each test migrates a schema of its own. They must not
contain BEGIN/COMMIT, nor statements that cannot run in a transaction block
(``create index concurrently``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from stores.postgres.errors import MigrationError
from stores.postgres.grants import grant_privileges, quote_idents

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILENAME = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")
# BEGIN; ... COMMIT; in a file would commit half-way and lose atomicity with its record.
# Only the opening statement is looked for: "end;" and "commit;" occur in PL/pgSQL bodies.
_TRANSACTION_CONTROL = re.compile(
    r"^\s*(begin(\s+(work|transaction))?\s*;|start\s+transaction\b)", re.IGNORECASE | re.MULTILINE
)

Say = Callable[[str], object]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    @property
    def checksum(self) -> str:
        """sha256 of the SQL; line endings do not count, so a Windows checkout matches."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, in version order.

    A ``.sql`` file with another name is an error rather than silently skipped: a typo
    in a file name must not leave a migration unapplied.
    """
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILENAME.fullmatch(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: migration files are named NNNN_name.sql "
                "(four digits, lower-case letters, digits and _)"
            )
        migration = Migration(int(match["version"]), match["name"], path.read_text("utf-8"))
        if migration.version in found:
            raise MigrationError(
                f"{path.name}: version {migration.version:04d} is already used by "
                f"{found[migration.version].filename}"
            )
        if _TRANSACTION_CONTROL.search(migration.sql):
            raise MigrationError(
                f"{path.name}: remove BEGIN/COMMIT; each migration already runs in its own transaction"
            )
        found[migration.version] = migration
    return [found[version] for version in sorted(found)]


def pending(
    migrations: Iterable[Migration], applied: Mapping[int, str], *, schema: str = "public"
) -> list[Migration]:
    """The migrations not applied yet; ``applied`` maps version to recorded checksum.

    Raises :class:`MigrationError` if an applied migration's file has changed since.
    """
    todo: list[Migration] = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is None:
            todo.append(migration)
        elif recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.filename} was changed after it was applied to schema "
                f"{schema!r} (recorded checksum {recorded[:12]}, file {migration.checksum[:12]}); "
                "restore the applied version and put the change in a new migration"
            )
    return todo


def lock_key(schema: str) -> int:
    """The advisory-lock key of one schema's migrations: a stable signed 64-bit integer."""
    digest = hashlib.sha256(f"riverbed.migrate:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def migrate(
    owner_dsn: str,
    *,
    schema: str = "public",
    app_role: str,
    reader_role: str | None = None,
    say: Say = print,
    migrations: Sequence[Migration] | None = None,
) -> list[str]:
    """Apply pending migrations to ``schema`` (created if missing), then grant the roles.

    Idempotent: a second run applies nothing and re-grants the same privileges. Returns
    the versions applied (``"0001"``, ...), empty when the schema was up to date.
    ``migrations`` defaults to the files in ``migrations/``; tests pass their own.
    """
    todo_all = sorted(
        load_migrations() if migrations is None else migrations, key=lambda m: m.version
    )
    conn = await asyncpg.connect(owner_dsn)
    try:
        await _lock(conn, schema, say)
        await _prepare(conn, schema)
        rows = await conn.fetch("select version, checksum from schema_migrations")
        applied = {row["version"]: row["checksum"] for row in rows}
        unknown = sorted(set(applied) - {m.version for m in todo_all})
        if unknown:
            versions = ", ".join(f"{v:04d}" for v in unknown)
            say(f"note: schema {schema!r} has migrations this code does not know ({versions})")
        done: list[str] = []
        for migration in pending(todo_all, applied, schema=schema):
            await _apply(conn, migration)
            say(f"applied {migration.filename}")
            done.append(f"{migration.version:04d}")
        await grant_privileges(conn, schema, app_role=app_role, reader_role=reader_role, say=say)
        return done
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"migrating schema {schema!r} failed: {_describe(exc)}") from exc
    finally:
        # Closing the session also releases the advisory lock.
        await conn.close()


async def _lock(conn: asyncpg.Connection, schema: str, say: Say) -> None:
    key = lock_key(schema)
    if not await conn.fetchval("select pg_try_advisory_lock($1)", key):
        say(f"waiting for another migration of schema {schema!r} to finish")
        await conn.execute("select pg_advisory_lock($1)", key)


async def _prepare(conn: asyncpg.Connection, schema: str) -> None:
    """Create the schema and the bookkeeping table; point search_path at the schema."""
    for template in ("create schema if not exists %I", "set search_path to %I"):
        await conn.execute(await quote_idents(conn, template, schema))
    await conn.execute(
        """
        create table if not exists schema_migrations (
            version    int primary key,
            name       text not null,
            checksum   text not null,
            applied_at timestamptz not null default now()
        )
        """
    )


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    try:
        async with conn.transaction():
            await conn.execute(migration.sql)  # no arguments: several statements allowed
            await conn.execute(
                "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.PostgresError as exc:
        raise MigrationError(
            f"migration {migration.filename} failed and was rolled back: {_describe(exc)}"
        ) from exc


def _describe(exc: asyncpg.PostgresError) -> str:
    detail = getattr(exc, "detail", None)
    return f"{type(exc).__name__}: {exc}" + (f" ({detail})" if detail else "")
