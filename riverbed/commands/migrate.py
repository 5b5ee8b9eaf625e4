"""``riverbed migrate``: bring the PostgreSQL schema up to date and grant the app and
reader roles (the user names of ``RIVERBED_POSTGRES_DSN`` and ``RIVERBED_POSTGRES_READER_DSN``)."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlsplit

import asyncpg
import click

from core.settings import get_settings, redact_url
from riverbed.stack.postgres import roles
from stores.postgres import MigrationError, migrate


def _scrub(message: str, *dsns: str) -> str:
    """``message`` without the password of any of ``dsns`` (drivers may echo a DSN)."""
    for dsn in dsns:
        password = urlsplit(dsn).password
        if password:
            message = message.replace(password, "***").replace(unquote(password), "***")
    return message


@click.command("migrate")
@click.option(
    "--schema",
    default=None,
    help="Schema to migrate, created if missing [default: RIVERBED_POSTGRES_SCHEMA, else public].",
)
@click.option(
    "--reader-role",
    default=None,
    help="The read-only role to grant USAGE and SELECT, skipped if it does not exist "
    "[default: the user of RIVERBED_POSTGRES_READER_DSN].",
)
def command(schema: str | None, reader_role: str | None) -> None:
    """Apply pending migrations as the owner role, then grant the app and reader roles.

    Safe to run again: applied migrations are skipped, and concurrent runs wait for each other.
    """
    settings = get_settings()
    schema = schema or settings.postgres_schema or "public"
    owner_dsn = settings.postgres_owner_dsn.get_secret_value()
    app_dsn = settings.postgres_dsn.get_secret_value()
    reader_dsn = settings.postgres_reader_dsn.get_secret_value()
    app_role, default_reader = roles(settings)
    if not app_role:
        raise click.ClickException(
            "RIVERBED_POSTGRES_DSN names no user: it is the app role to grant"
        )
    reader_role = reader_role or default_reader or None
    click.echo(
        f"migrate: {redact_url(owner_dsn)} schema {schema!r}, app role {app_role!r}, "
        f"reader role {reader_role!r}"
    )
    try:
        applied = asyncio.run(
            migrate(
                owner_dsn,
                schema=schema,
                app_role=app_role,
                reader_role=reader_role,
                say=lambda line: click.echo(f"migrate: {line}"),
            )
        )
    except (MigrationError, asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        # OSError covers refused connections and timeouts (TimeoutError is one).
        reason = _scrub(f"{type(exc).__name__}: {exc}", owner_dsn, app_dsn, reader_dsn)
        raise click.ClickException(f"migrate failed: {reason}") from None
    if applied:
        click.echo(f"migrate: applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("migrate: up to date")
