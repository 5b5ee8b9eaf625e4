"""PostgreSQL from Debian's packages, as a cluster of Riverbed's own under the data dir.

Riverbed never uses the superuser at run time: ``after_start`` creates three login roles
from the DSNs in settings, none a superuser nor able to create databases or roles: the
owner (``riverbed migrate``), the app role (workers) and the reader (the read API,
SELECT only). Their privileges in a schema are granted by ``riverbed migrate``.

A cluster created before a role existed gets it on the next ``stack up``: that command
only asks a running server ``healthy()``, so the check repairs missing roles of a
cluster of our own (through the superuser's local socket).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import asyncpg

from core.errors import StackError
from core.settings import Settings
from riverbed.stack.base import Say, Service, run_step
from riverbed.stack.process import terminate

SUPERUSER = "postgres"
MAX_SOCKET_PATH = 100  # unix socket paths are limited to 107 bytes
SCRAM_ITERATIONS = 4096  # the server's default scram_iterations


@dataclass(frozen=True)
class Dsn:
    user: str
    password: str = field(repr=False)  # a Dsn in a message or traceback shows no password
    host: str
    port: int
    database: str

    @classmethod
    def parse(cls, url: str) -> Dsn:
        parts = urlsplit(url)
        return cls(
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            database=parts.path.lstrip("/") or "postgres",
        )


class Roles(NamedTuple):
    """The role names ``riverbed migrate`` grants: the user names of the two DSNs."""

    app: str
    reader: str


def roles(settings: Settings) -> Roles:
    return Roles(
        app=Dsn.parse(settings.postgres_dsn.get_secret_value()).user,
        reader=Dsn.parse(settings.postgres_reader_dsn.get_secret_value()).user,
    )


def scram_verifier(password: str, *, salt: bytes | None = None) -> str:
    """The SCRAM-SHA-256 verifier of ``password`` (RFC 5803), as ``\\password`` sends it.

    ``ALTER ROLE ... PASSWORD`` given a verifier stores it as is, so the clear password
    never reaches the server, where a failed statement would be written to its log.
    """
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    server_key = hmac.digest(salted, b"Server Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def find_bindir() -> Path | None:
    """The newest Debian PostgreSQL bin directory, if one is installed."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


class Postgres(Service):
    name = "postgres"
    marker = "postgres"

    @property
    def app(self) -> Dsn:
        return Dsn.parse(self.settings.postgres_dsn.get_secret_value())

    @property
    def owner(self) -> Dsn:
        return Dsn.parse(self.settings.postgres_owner_dsn.get_secret_value())

    @property
    def reader(self) -> Dsn:
        return Dsn.parse(self.settings.postgres_reader_dsn.get_secret_value())

    @property
    def host(self) -> str:
        return self.app.host

    @property
    def port(self) -> int:
        return self.app.port

    @property
    def cluster_dir(self) -> Path:
        return self.paths.data / self.name / "data"

    @property
    def socket_dir(self) -> Path:
        path = self.paths.data / self.name / "run"
        if len(str(path)) > MAX_SOCKET_PATH:
            path = Path(f"/tmp/riverbed-pg-{os.getuid()}-{self.port}")  # noqa: S108
        return path

    @property
    def as_root(self) -> bool:
        return os.geteuid() == 0

    async def healthy(self) -> bool:
        try:
            conn = await asyncpg.connect(self.settings.postgres_dsn.get_secret_value(), timeout=3)
        except Exception:
            return False
        try:
            if await conn.fetchval("select 1") != 1:
                return False
            # pg_roles is readable by every role; the passwords are not in it.
            names = sorted({self.owner.user, self.app.user, self.reader.user})
            found = await conn.fetchval(
                "select count(*) from pg_roles where rolname = any($1::text[])", names
            )
            missing = found < len(names)
        finally:
            await conn.close()
        if missing and self._serves_own_cluster():
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await self.ensure_roles()
        return True

    def _serves_own_cluster(self) -> bool:
        """Whether the server at our address runs our cluster (so its superuser is ours)."""
        socket = self.socket_dir / f".s.PGSQL.{self.port}"
        return (self.cluster_dir / "postmaster.pid").exists() and socket.exists()

    def _cmd(self, *args: str) -> list[str]:
        # initdb and postgres refuse to run as root: use Debian's postgres account.
        return ["runuser", "-u", SUPERUSER, "--", *args] if self.as_root else list(args)

    def provision(self, say: Say) -> None:
        bindir = find_bindir()
        if bindir is None:
            if not self.as_root:
                raise StackError(
                    "PostgreSQL is not installed and riverbed is not running as root",
                    fix="install it (sudo apt-get install -y postgresql) or set "
                    "RIVERBED_POSTGRES_DSN and RIVERBED_POSTGRES_OWNER_DSN to a running server",
                )
            self._apt_install(say)
            bindir = find_bindir()
            if bindir is None:
                raise StackError(
                    "apt-get installed postgresql but no initdb was found",
                    fix="check `dpkg -L postgresql-common` and /usr/lib/postgresql",
                )
        if (self.cluster_dir / "PG_VERSION").exists():
            return
        say(f"postgres: creating a cluster in {self.cluster_dir}")
        self.cluster_dir.mkdir(parents=True, exist_ok=True)
        self._own(self.cluster_dir.parent)
        run_step(
            self._cmd(
                str(bindir / "initdb"),
                "-D",
                str(self.cluster_dir),
                "-U",
                SUPERUSER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ),
            what="initdb",
            fix="see the log; `riverbed stack down --wipe` starts afresh",
            log_file=self.log_file,
        )

    def _apt_install(self, say: Say) -> None:
        say("postgres: installing Debian's postgresql package (once)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        fix = "check that Debian's package mirror is reachable, then run again"
        run_step(
            ["apt-get", "update", "-q"],
            what="apt-get update",
            fix=fix,
            log_file=self.log_file,
            env=env,
        )
        run_step(
            ["apt-get", "install", "-y", "-q", "postgresql"],
            what="apt-get install postgresql",
            fix=fix,
            log_file=self.log_file,
            env=env,
        )
        # The package may start its own 'main' cluster on 5432; Riverbed runs its own.
        for conf in Path("/etc/postgresql").glob("*/main"):
            with contextlib.suppress(Exception):
                run_step(
                    [
                        "pg_ctlcluster",
                        "--skip-systemctl-redirect",
                        conf.parent.name,
                        "main",
                        "stop",
                    ],
                    what="stopping Debian's default cluster",
                    fix="",
                    log_file=self.log_file,
                )

    def _own(self, path: Path) -> None:
        if self.as_root:
            shutil.chown(path, SUPERUSER, SUPERUSER)
            for child in path.rglob("*"):
                shutil.chown(child, SUPERUSER, SUPERUSER)

    def start(self, say: Say) -> int:
        bindir = find_bindir()
        assert bindir is not None, "provision() runs first"
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.paths.logs.mkdir(parents=True, exist_ok=True)
        self._own(self.socket_dir)
        self._own(self.cluster_dir.parent)
        server_log = self.cluster_dir.parent / "server.log"
        say(f"postgres: starting on {self.address}")
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host}"
        run_step(
            self._cmd(
                str(bindir / "pg_ctl"),
                "-D",
                str(self.cluster_dir),
                "-l",
                str(server_log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ),
            what="pg_ctl start",
            fix=f"see {server_log}",
            log_file=self.log_file,
        )
        pid_line = (self.cluster_dir / "postmaster.pid").read_text().splitlines()[0]
        return int(pid_line)

    async def after_start(self, say: Say) -> None:
        await self.ensure_roles(say)

    async def ensure_roles(self, say: Say = lambda _m: None) -> None:
        """Create (or reset) the three roles and the database (idempotent)."""
        conn = await asyncpg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            database="postgres",
            timeout=10,
        )
        try:
            for dsn in (self.owner, self.app, self.reader):
                await _ensure_role(conn, dsn.user, dsn.password)
            exists = await conn.fetchval(
                "select 1 from pg_database where datname = $1", self.app.database
            )
            if not exists:
                say(f"postgres: creating database {self.app.database}")
                stmt = await conn.fetchval(
                    "select format('create database %I owner %I', $1::text, $2::text)",
                    self.app.database,
                    self.owner.user,
                )
                await conn.execute(stmt)
            for user in (self.app.user, self.reader.user):
                grant = await conn.fetchval(
                    "select format('grant connect on database %I to %I', $1::text, $2::text)",
                    self.app.database,
                    user,
                )
                await conn.execute(grant)
        finally:
            await conn.close()

    def stop(self, pid: int | None) -> None:
        bindir = find_bindir()
        if bindir and (self.cluster_dir / "postmaster.pid").exists():
            with contextlib.suppress(StackError):
                run_step(
                    self._cmd(
                        str(bindir / "pg_ctl"),
                        "-D",
                        str(self.cluster_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                    ),
                    what="pg_ctl stop",
                    fix="",
                    log_file=self.log_file,
                )
        if pid:
            terminate(pid, self.marker)


async def _ensure_role(conn: asyncpg.Connection, user: str, password: str) -> None:
    """Create the login role, or reset its password to the configured one (idempotent)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", user):
        raise StackError(
            f"role name {user!r} in a Postgres DSN is not a plain identifier",
            fix="use lower-case letters, digits and _ in RIVERBED_POSTGRES_*_DSN user names",
        )
    if not await conn.fetchval("select 1 from pg_roles where rolname = $1", user):
        # Two `stack up`s may race to create it: the loser just resets it below.
        with contextlib.suppress(asyncpg.DuplicateObjectError):
            await conn.execute(
                await conn.fetchval("select format('create role %I', $1::text)", user)
            )
    stmt = await conn.fetchval(
        "select format('alter role %I login password %L nosuperuser nocreatedb nocreaterole',"
        " $1::text, $2::text)",
        user,
        scram_verifier(password),
    )
    await conn.execute(stmt)
